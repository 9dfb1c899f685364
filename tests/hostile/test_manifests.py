"""Every hostile manifest of tests/hostile/manifests.py: ``validate`` lists each
problem with its code, pointer, line and column and a fix, and exits 1 (2 only
when the file is not JSON it can read); ``diff`` and ``list --repo FOLDER``
answer with a clean message, never a traceback; and a manifest whose only
entry is refused leaves the client with no model rather than a crash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import RunCli
from tests.hostile.manifests import BASE, CASES, HostileManifest, position


@pytest.fixture(params=CASES, ids=lambda c: c.name)
def case(request: pytest.FixtureRequest) -> HostileManifest:
    hostile: HostileManifest = request.param
    return hostile


@pytest.fixture
def manifest(case: HostileManifest, tmp_path: Path) -> Path:
    folder = tmp_path / "repo"
    folder.mkdir()
    path = folder / "ONNX_HUB_MANIFEST.json"
    path.write_text(case.build(), "utf-8")
    return path


def _no_traceback(*texts: str) -> None:
    for text in texts:
        assert "Traceback" not in text
        assert "Error:" not in text.replace("hubtools: error:", "")


def test_validate_lists_each_problem_where_it_is(
    run_cli: RunCli, case: HostileManifest, manifest: Path
) -> None:
    run = run_cli("validate", "--format", "json", manifest)
    _no_traceback(run.stdout, run.stderr)
    assert run.exit_code == case.exit_code, run.stderr
    if case.exit_code == 2:
        assert "nested too deeply to read" in run.stdout + run.stderr
        return
    problems = json.loads(run.stdout)["problems"]
    assert [(p["code"], p["pointer"]) for p in problems] == list(case.problems)
    for problem in problems:
        assert problem["line"], problem
        assert problem["column"], problem
        assert problem["hint"], problem
        assert len(problem["message"]) < 300
    if case.needle:
        line, column = position(manifest.read_text("utf-8"), case.needle)
        assert (problems[0]["line"], problems[0]["column"]) == (line, column)


def test_validate_text_output_is_one_line_a_problem(
    run_cli: RunCli, case: HostileManifest, manifest: Path
) -> None:
    run = run_cli("validate", manifest)
    _no_traceback(run.stdout, run.stderr)
    assert run.stdout.count("\n") == len(case.problems)
    for line, (code, pointer) in zip(run.stdout.splitlines(), case.problems, strict=True):
        assert line.startswith(f"{manifest}:")
        assert f" error {code} {pointer}: " in line


def test_diff_answers_cleanly(run_cli: RunCli, manifest: Path, tmp_path: Path) -> None:
    base = tmp_path / "base.json"
    base.write_text(BASE)
    for old, new in ((manifest, base), (base, manifest)):
        run = run_cli("diff", old, new)
        _no_traceback(run.stdout, run.stderr)
        assert run.exit_code in (0, 1, 2)
        if run.exit_code == 2:
            (message,) = run.stderr.splitlines()
            assert message.startswith(f"hubtools: error: {manifest}")


def test_number_too_long_stops_readers_at_its_line_and_column(
    run_cli: RunCli, tmp_path: Path
) -> None:
    (case,) = [c for c in CASES if c.name == "number-too-long-in-bytes"]
    path = tmp_path / "m.json"
    path.write_text(case.build())
    base = tmp_path / "base.json"
    base.write_text(BASE)
    line, column = position(path.read_text(), case.needle)
    run = run_cli("diff", path, base)
    assert (run.exit_code, run.stderr) == (
        2,
        f"hubtools: error: {path}:{line}:{column}: /0/metadata/model_bytes: an integer of "
        "5001 digits is too long to read; `hubtools validate` lists every such problem\n",
    )


def test_list_from_a_folder_repository_answers_cleanly(
    run_cli: RunCli, case: HostileManifest, manifest: Path
) -> None:
    run = run_cli("list", "--repo", manifest.parent)
    _no_traceback(run.stdout, run.stderr)
    assert run.exit_code in (0, 1, 2)
    if case.exit_code == 1:  # the one entry is refused, with a warning, not the whole list
        assert run.exit_code == 0
        assert "entry /0 refused" in run.stderr
        assert "0 model(s)" in run.stderr + run.stdout
