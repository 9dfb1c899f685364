"""``hubtools generate`` (and ``inspect``) on hostile repositories: nothing
outside the repository is read, nothing blocks, and no sidecar or README can
make a run allocate without bound; each refusal is a warning with its code and
location, and the run exits 0 (1 with ``--strict``). Cases that would hang or
eat the machine on a regression run in a subprocess with a timeout and an
address-space limit."""

from __future__ import annotations

import hashlib
import json
import re
import resource
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, RunCli
from tests.hostile import repos
from tests.hostile.repos import (
    MODEL_README,
    STATS,
    TINYBERT,
    TURNKEY_MODEL,
    Secret,
    base_repo,
    commit,
    make_secret,
)

TINYBERT_STATS = f"{TINYBERT}/turnkey_stats.yaml"
ROW = f"{MODEL_README}:5"  # the model README's one row
TIMEOUT_S = 20
MEMORY_BYTES = 1 << 30


@dataclass(frozen=True)
class Outcome:
    """What one ``hubtools generate`` run gave."""

    exit_code: int
    stdout: str
    stderr: str
    manifest: str | None  # the written manifest, None when nothing was written

    @property
    def problems(self) -> list[tuple[str, str]]:
        """(location, code) of every problem line on stderr, in order."""
        line = re.compile(r"^(\S+?): (?:warning|error) (\S+) ", re.MULTILINE)
        return [(m[1], m[2]) for m in line.finditer(self.stderr)]

    @property
    def entries(self) -> list[dict[str, object]]:
        assert self.manifest is not None, self.stderr
        loaded: list[dict[str, object]] = json.loads(self.manifest)
        return loaded


def _outcome(code: int, stdout: str, stderr: str, out: Path) -> Outcome:
    return Outcome(code, stdout, stderr, out.read_text() if out.is_file() else None)


def generate(run_cli: RunCli, root: Path, *args: str) -> Outcome:
    """``hubtools -v generate ROOT`` in-process; the manifest goes beside ``root``."""
    out = root.parent / "manifest.json"
    run = run_cli("-v", "generate", root, "-o", out, *args)
    return _outcome(run.exit_code, run.stdout, run.stderr, out)


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))


def bounded(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """``python -m hubtools ARGS`` in a subprocess with a timeout and 1 GiB of address space."""
    return subprocess.run(
        [sys.executable, "-m", "hubtools", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        preexec_fn=_limits,
        cwd=REPO_ROOT,
        check=False,
    )


def generate_bounded(root: Path) -> Outcome:
    out = root.parent / "manifest.json"
    run = bounded("generate", root, "-o", out)
    return _outcome(run.returncode, run.stdout, run.stderr, out)


def assert_no_evidence(outcome: Outcome, secret: Secret) -> None:
    """Nothing of the secret file reaches the manifest or the output: not its
    name, folder, sha256, size or any of its bytes."""
    texts = {"stdout": outcome.stdout, "stderr": outcome.stderr, "manifest": outcome.manifest}
    for where, text in texts.items():
        if text is None:
            continue
        assert secret.path.name not in text, where
        assert "SECRET" not in text, where
        assert str(secret.path.parent) not in text, where
        assert secret.sha256 not in text, where
        assert re.search(rf"\b{secret.size}\b", text) is None, where
        assert secret.content[:8].hex() not in text, where
        assert "not UTF-8" not in text, where  # would quote a byte of it
        assert "invalid-model" not in text, where  # would give an offset into it


def assert_one_refusal(outcome: Outcome, problem: tuple[str, str], entries: int) -> str:
    """The run went on past one warning, ``problem`` (location, code), that says
    how to fix it, and wrote ``entries`` entries; returns the warning's line."""
    assert outcome.exit_code == 0, outcome.stderr
    assert outcome.problems == [problem]
    assert len(outcome.entries) == entries
    assert "Traceback" not in outcome.stderr
    (line,) = [x for x in outcome.stderr.splitlines() if f" {problem[1]} " in x]
    assert "(fix: " in line
    return line


@pytest.fixture
def secret(tmp_path: Path) -> Secret:
    return make_secret(tmp_path / "outside")


def _repo(tmp_path: Path) -> Path:
    root = tmp_path / "zoo"
    base_repo(root)
    return root


# ---- the clean repository --------------------------------------------------------


@pytest.mark.parametrize("git_repo", [True, False], ids=["git", "folder"])
def test_the_base_repository_is_clean(run_cli: RunCli, tmp_path: Path, git_repo: bool) -> None:
    root = _repo(tmp_path)
    if git_repo:
        commit(root)
    outcome = generate(run_cli, root)
    assert outcome.exit_code == 0, outcome.stderr
    assert outcome.problems == []
    assert len(outcome.entries) == 3


# ---- links out of the repository: the secret is never read -----------------------

#: For each link to a file outside: (location, code) of the problems, entries left.
SECRET_EXPECTED: dict[str, tuple[list[tuple[str, str]], int]] = {
    # No top README to start from: the model README is reported as unlinked.
    "top-readme": ([("README.md", "link-outside"), (f"{MODEL_README}:3", "unlinked-readme")], 2),
    "model-readme": ([(MODEL_README, "link-outside")], 2),
    "stats-yaml": ([(STATS, "link-outside")], 2),
    # README links are resolved first: the link itself is refused.
    "readme-model": ([(ROW, "bad-link")], 2),
    "readme-bundle": ([(ROW, "bad-link")], 3),
    "turnkey-model": ([(STATS, "link-outside")], 2),
    "turnkey-archive": ([(TINYBERT_STATS, "link-outside")], 2),
    "chain": ([(STATS, "link-outside")], 2),
    # git commits the folder as one link and a walk does not enter it: nothing to read.
    "folder": ([], 3),
}


@pytest.mark.parametrize("git_repo", [True, False], ids=["git", "folder"])
@pytest.mark.parametrize("case", list(SECRET_EXPECTED))
def test_link_to_a_secret_outside_is_refused(
    run_cli: RunCli, tmp_path: Path, secret: Secret, case: str, git_repo: bool
) -> None:
    root = _repo(tmp_path)
    repos.SECRET_LINK_CASES[case](root, secret.path)
    if git_repo:
        commit(root)
    outcome = generate(run_cli, root)
    problems, entries = SECRET_EXPECTED[case]
    assert outcome.exit_code == 0, outcome.stderr
    assert outcome.problems == problems
    assert len(outcome.entries) == entries
    assert_no_evidence(outcome, secret)
    if case == "readme-bundle":
        assert "model_with_data_path" not in outcome.manifest  # type: ignore[operator]


def test_every_link_at_once_leaves_no_evidence_even_verbose(
    run_cli: RunCli, tmp_path: Path, secret: Secret
) -> None:
    """The severe proof: every kind of link points at the secret in one
    repository; the manifest and the verbose output hold nothing of it."""
    root = _repo(tmp_path)
    for build in repos.SECRET_LINK_CASES.values():
        build(root, secret.path)
    commit(root)
    outcome = generate(run_cli, root, "--include-unlinked", "--include-skipped")
    assert outcome.exit_code == 0, outcome.stderr
    assert outcome.problems == [
        ("README.md", "link-outside"),
        (MODEL_README, "link-outside"),  # unlinked now: refusals are reported all the same
        (STATS, "link-outside"),
        (TINYBERT_STATS, "link-outside"),
    ]
    assert outcome.entries == []
    assert_no_evidence(outcome, secret)
    strict = generate(run_cli, root, "--strict")
    assert strict.exit_code == 1
    assert_no_evidence(strict, secret)


def test_a_link_that_stays_inside_is_followed(run_cli: RunCli, tmp_path: Path) -> None:
    root = _repo(tmp_path)
    content = repos.inside_link(root)
    commit(root)
    outcome = generate(run_cli, root)
    assert outcome.exit_code == 0, outcome.stderr
    assert outcome.problems == []
    (entry,) = [e for e in outcome.entries if e["model_path"] == TURNKEY_MODEL]
    metadata = entry["metadata"]
    assert isinstance(metadata, dict)
    assert metadata["model_sha"] == hashlib.sha256(content).hexdigest()
    assert metadata["model_bytes"] == len(content)


#: Where the refusal of each file is reported: its own path, or for a model
#: the README row or the turnkey_stats.yaml that names it.
REFUSED_AT = {
    "model-readme": MODEL_README,
    "stats-yaml": STATS,
    "readme-model": ROW,
    "turnkey-model": STATS,
    "turnkey-archive": TINYBERT_STATS,
}


@pytest.mark.parametrize("case", list(REFUSED_AT))
def test_link_to_dev_zero_is_refused_in_bounded_time_and_memory(tmp_path: Path, case: str) -> None:
    root = _repo(tmp_path)
    repos.DEV_ZERO_CASES[case](root, Path("/dev/zero"))
    commit(root)
    # A README link is resolved before anything is read: the link itself is refused.
    code = "bad-link" if case == "readme-model" else "link-outside"
    assert_one_refusal(generate_bounded(root), (REFUSED_AT[case], code), 2)


# ---- FIFOs: refused before they are opened for reading ---------------------------


@pytest.mark.parametrize("git_repo", [True, False], ids=["git", "folder"])
@pytest.mark.parametrize("case", list(REFUSED_AT))
def test_fifo_is_refused_without_blocking(tmp_path: Path, case: str, git_repo: bool) -> None:
    root = _repo(tmp_path)
    if git_repo:
        commit(root)  # git does not commit FIFOs: the tracked file becomes one
    repos.FIFO_CASES[case](root)
    line = assert_one_refusal(generate_bounded(root), (REFUSED_AT[case], "not-a-regular-file"), 2)
    assert "is a FIFO, not a regular file" in line


@pytest.mark.parametrize("name", ["pipe", "model.onnx", "model.tar.gz"])
def test_inspect_refuses_a_fifo_with_one_line_and_exit_2(tmp_path: Path, name: str) -> None:
    import os

    fifo = tmp_path / name
    os.mkfifo(fifo)
    run = bounded("inspect", fifo)
    assert run.returncode == 2
    assert run.stdout == ""
    assert run.stderr.splitlines() == [
        f"hubtools: error: {fifo}: cannot read: not a regular file (a FIFO)"
    ]


def test_inspect_refuses_dev_zero(tmp_path: Path) -> None:
    run = bounded("inspect", "/dev/zero")
    assert run.returncode == 2
    assert "not a regular file (a character device)" in run.stderr


# ---- numbers, aliases and nesting in sidecars and README rows --------------------

#: For each case: (location, code) of the problem, entries left.
VALUE_EXPECTED: dict[str, tuple[tuple[str, str], int]] = {
    "yaml-alias": ((f"{STATS}:7", "yaml-alias"), 2),
    "yaml-alias-bomb": ((f"{STATS}:7", "yaml-alias"), 2),
    "yaml-deep-nesting": ((f"{STATS}:6", "yaml-too-deep"), 2),
    "yaml-opset-5000-digits": ((f"{STATS}:9", "yaml-number"), 2),
    "yaml-parameters-huge": ((f"{STATS}:10", "yaml-number"), 2),
    "readme-opset-5000-digits": ((ROW, "bad-opset"), 2),
    "readme-opset-huge": ((ROW, "bad-opset"), 2),
}


@pytest.mark.parametrize("case", list(VALUE_EXPECTED))
def test_sidecar_and_row_values_are_bounded(tmp_path: Path, case: str) -> None:
    root = _repo(tmp_path)
    repos.VALUE_CASES[case](root)
    commit(root)
    line = assert_one_refusal(generate_bounded(root), *VALUE_EXPECTED[case])
    assert len(line) < 400, line  # says what is wrong without echoing the number


# ---- READMEs too large for the table parser --------------------------------------

#: For each README: (location, code) of the problem, entries left.
README_EXPECTED: dict[str, tuple[tuple[str, str], int]] = {
    "huge": ((MODEL_README, "readme-too-large"), 2),
    "sparse-1gib": ((MODEL_README, "readme-too-large"), 2),
    "wide": ((f"{MODEL_README}:7", "table-too-wide"), 3),
    "long": ((f"{MODEL_README}:3", "table-too-long"), 2),
    "cells-bomb": ((f"{MODEL_README}:7", "readme-too-many-cells"), 3),
}


@pytest.mark.parametrize("case", list(README_EXPECTED))
def test_readme_limits_are_refusals_in_bounded_time_and_memory(tmp_path: Path, case: str) -> None:
    root = _repo(tmp_path)
    repos.README_CASES[case](root)
    line = assert_one_refusal(generate_bounded(root), *README_EXPECTED[case])
    assert re.search(r"\b(64|5000|50000|512 KiB)\b", line), line  # the limit is named


def test_a_limit_refusal_fails_the_run_with_strict(run_cli: RunCli, tmp_path: Path) -> None:
    root = _repo(tmp_path)
    repos.README_CASES["wide"](root)
    outcome = generate(run_cli, root, "--strict")
    assert outcome.exit_code == 1
    assert outcome.manifest is None


def test_a_manifest_committed_as_a_link_out_is_never_read(tmp_path: Path) -> None:
    """generate reads REPO/ONNX_HUB_MANIFEST.json to reuse and compare: a link
    there must not make it read (or quote) a file outside the repository."""
    from click.testing import CliRunner

    from hubtools.cli import cli

    secret = tmp_path / "secret.json"
    secret.write_text('[{"model": "SECRET-MODEL-NAME", "model_path": "secret/x.onnx"}]')
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "ONNX_HUB_MANIFEST.json").symlink_to(secret)
    for args in (["generate", str(repo), "--check"], ["generate", str(repo)]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 2
        assert "SECRET" not in result.output + result.stderr
        assert result.stderr.startswith(
            f"hubtools: error: {repo / 'ONNX_HUB_MANIFEST.json'} is a symlink that leads "
            "outside the repository; it was not read and generate stopped"
        )
    assert secret.read_text().startswith('[{"model": "SECRET')
