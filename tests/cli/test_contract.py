"""The output contract every command keeps: -v/-q before or after the command,
help that states the exit codes, and a command list of whole sentences."""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import click
import pytest

from hubtools.cli import cli
from tests.conftest import FIXTURES, RunCli


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found += _commands(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


COMMANDS = _commands(cli)


def test_every_command_is_walked() -> None:
    assert {c[0] for c in COMMANDS} >= {
        "validate", "generate", "diff", "inspect", "check-models", "list", "info", "download",
        "cache",
    }  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
@pytest.mark.parametrize("flags", [("-v",), ("-q",), ("-qq",), ("-vv",), ("--quiet", "-v")])
def test_verbosity_flags_after_the_command(
    run_cli: RunCli, command: tuple[str, ...], flags: tuple[str, ...]
) -> None:
    run = run_cli(*command, *flags, "--help")
    assert run.exit_code == 0, run.stderr
    assert "-q, --quiet" in run.stdout


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_states_the_formats_and_exit_codes(run_cli: RunCli, command: tuple[str, ...]) -> None:
    text = " ".join(run_cli(*command, "--help").stdout.split())
    assert "Exit 0" in text or "exit 0" in text, text
    assert "--format [text|json" in text, text


def test_the_command_list_shows_whole_sentences(run_cli: RunCli) -> None:
    listing = run_cli("--help").stdout.split("Commands:", 1)[1]
    entries = " ".join(listing.split())
    assert "..." not in entries
    for name in ("validate", "generate", "check-models", "download"):
        assert f" {name} " in f" {entries} "


def test_q_and_v_after_the_command_set_the_log_level(run_cli: RunCli) -> None:
    seen: list[int] = []
    logger = logging.getLogger("hubtools")

    @cli.command("_level", hidden=True)
    def _level() -> None:
        seen.append(logger.level)

    try:
        for args in (
            ("_level",),
            ("_level", "-q"),
            ("-v", "_level", "-vv"),
            ("-q", "_level", "-q"),
        ):
            assert run_cli(*args).exit_code == 0
    finally:
        del cli.commands["_level"]
    assert seen == [logging.WARNING, logging.ERROR, logging.DEBUG, logging.CRITICAL]


def test_q_hides_notes_and_qq_warnings_too(run_cli: RunCli, tmp_path: Path) -> None:
    root = tmp_path / "zoo"
    shutil.copytree(FIXTURES / "zoo", root)
    (root / "extra").mkdir()  # a README no top-level link reaches: one warning
    (root / "extra" / "README.md").write_text(
        "| Model | Download | ONNX version | Opset version |\n|---|---|---|---|\n"
    )
    loud = run_cli("generate", root, "--check")
    assert "warning unlinked-readme" in loud.stderr
    assert "is up to date" in loud.stderr
    assert loud.stderr.startswith("note: ")
    quiet = run_cli("generate", root, "--check", "-q")
    assert quiet.stderr.splitlines() == [
        line for line in loud.stderr.splitlines() if " warning " in line
    ]
    assert run_cli("generate", root, "--check", "-qq").stderr == ""
    assert run_cli("-q", "validate", root / "ONNX_HUB_MANIFEST.json").stderr == ""


def test_inspect_format_json_is_its_json(run_cli: RunCli) -> None:
    model = next(FIXTURES.glob("zoo/validated/vision/classification/tiny_cnn/model/tinycnn-7.onnx"))
    assert (
        run_cli("inspect", model, "--format", "json").stdout
        == run_cli("inspect", model, "--json").stdout
    )
    assert json.loads(run_cli("inspect", model, "--format", "json").stdout)["opset_version"] == 7


def test_generate_speaks_json(run_cli: RunCli, tmp_path: Path) -> None:
    root = tmp_path / "zoo"
    shutil.copytree(FIXTURES / "zoo", root)
    run = run_cli("generate", root, "--check", "--format", "json")
    assert (run.exit_code, run.stderr) == (0, "")
    report = json.loads(run.stdout)
    assert (report["outcome"], report["changes"], report["summary"]["entries"]) == (
        "up_to_date",
        [],
        9,
    )
    manifest = root / "ONNX_HUB_MANIFEST.json"
    manifest.write_text("[]")
    run = run_cli("generate", root, "--check", "--format", "json")
    report = json.loads(run.stdout)
    assert (run.exit_code, report["outcome"], len(report["changes"])) == (1, "would_change", 9)
    run = run_cli("generate", root, "--format", "json")
    assert (run.exit_code, json.loads(run.stdout)["outcome"]) == (0, "written")
    assert json.loads(manifest.read_text())


def _json_runs(root: Path, tmp: Path) -> list[tuple[tuple[str, ...], list[object]]]:
    """A real run of every command on the plain fixture hub (as a folder
    repository), in an order that leaves the cache commands something to list."""
    manifest = root / "ONNX_HUB_MANIFEST.json"
    name, model = "tiny-lm", root / "text" / "tiny_lm" / "tiny-lm.onnx"  # content, not LFS
    repo = ["--repo", root]
    return [
        (("validate",), [manifest]),
        (("generate",), [root, "--check"]),
        (("diff",), [manifest, manifest]),
        (("inspect",), [model]),
        (("check-models",), [root]),
        (("list",), repo),
        (("info",), [*repo, name]),
        (("download",), [*repo, name]),
        (("snapshot",), [*repo, "--model", name, tmp / "snap"]),
        (("cache", "ls"), []),
        (("cache", "verify"), []),
        (("cache", "prune"), ["--dry-run"]),
        (("cache", "rm"), [name, "--dry-run"]),
        (("trust", "add"), ["owner/name"]),
        (("trust", "ls"), []),
        (("trust", "rm"), ["owner/name"]),
    ]


@pytest.mark.parametrize("verbosity", ["-v", "-q"])
def test_every_command_speaks_json_on_stdout(
    run_cli: RunCli, tmp_path: Path, verbosity: str
) -> None:
    """`--format json` on every command gives one JSON document on stdout (logs,
    at any verbosity, go to stderr), in a real run, not just in its help."""
    root = tmp_path / "hub"
    shutil.copytree(FIXTURES / "hubs" / "plain", root)
    runs = _json_runs(root, tmp_path)
    assert sorted(command for command, _ in runs) == COMMANDS  # a new command needs a case
    for command, args in runs:
        run = run_cli(*command, *args, "--format", "json", verbosity)
        assert run.exit_code == 0, (command, run.stderr)
        try:
            json.loads(run.stdout)
        except json.JSONDecodeError as err:
            pytest.fail(f"{' '.join(command)} --format json: {err}: {run.stdout[:300]!r}")


def test_q_leaves_stderr_empty_on_every_command_that_succeeds(
    run_cli: RunCli, tmp_path: Path
) -> None:
    """Summaries, where a file came from, what was written or changed: notes, which
    -q hides on every command (results go to stdout either way)."""
    root = tmp_path / "hub"
    shutil.copytree(FIXTURES / "hubs" / "plain", root)
    runs = _json_runs(root, tmp_path)
    quiet = [run_cli(*command, *args, "-q") for command, args in runs]
    shutil.rmtree(Path(os.environ["ONNX_HOME"]) / "hub")  # the same runs again, from scratch
    shutil.rmtree(tmp_path / "snap")
    loud = [run_cli(*command, *args) for command, args in runs]
    noted = set()
    for (command, _), hushed, said in zip(runs, quiet, loud, strict=True):
        assert (hushed.exit_code, hushed.stderr) == (0, ""), command
        assert said.exit_code == 0, (command, said.stderr)
        if said.stderr:
            noted.add(" ".join(command))
    assert noted >= {
        "validate", "diff", "check-models", "list", "download", "snapshot", "cache verify",
        "cache prune", "cache rm", "trust add", "trust rm",
    }  # fmt: skip
