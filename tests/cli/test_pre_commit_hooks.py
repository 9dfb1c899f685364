"""The pre-commit hooks, run as pre-commit runs them: each hook's ``files`` regex
(and ``types``) decides whether it fires for a list of staged paths, then its
``entry`` runs with its ``args`` (and the staged files, unless
``pass_filenames: false``) in the hub's root folder."""

from __future__ import annotations

import os
import re
import shlex
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import FIXTURES, REPO_ROOT, RunCli

HOOKS: list[dict[str, Any]] = yaml.safe_load(
    (REPO_ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8")
)
MODEL = "validated/vision/classification/tiny_cnn/model/tinycnn-7.onnx"
REPO_HOOKS = {"hubtools-validate-repo", "hubtools-generate-check"}


def _fires(hook: dict[str, Any], staged: list[str]) -> list[str]:
    """The staged paths a hook matches (pre-commit's ``files`` and ``types``)."""
    matched = [p for p in staged if re.search(hook["files"], p)]
    if "json" in hook.get("types", []):
        matched = [p for p in matched if p.endswith(".json")]
    return matched


def _run(run_cli: RunCli, hook: dict[str, Any], staged: list[str], root: Path) -> int:
    argv = shlex.split(hook["entry"]) + list(hook.get("args", []))
    if hook.get("pass_filenames", True):
        argv += staged
    assert argv[0] == "hubtools"
    here = Path.cwd()
    os.chdir(root)
    try:
        return run_cli(*argv[1:]).exit_code
    finally:
        os.chdir(here)


@pytest.fixture
def hub(tmp_path: Path) -> Path:
    root = tmp_path / "hub"
    shutil.copytree(FIXTURES / "zoo", root)
    return root


def test_the_hooks_and_what_they_run() -> None:
    assert [h["id"] for h in HOOKS] == [
        "hubtools-validate",
        "hubtools-validate-repo",
        "hubtools-generate-check",
    ]
    assert all(h["language"] == "python" for h in HOOKS)


@pytest.mark.parametrize(
    ("staged", "fired"),
    [
        ([MODEL], {"hubtools-validate-repo", "hubtools-generate-check"}),
        (["sub/README.md"], {"hubtools-validate-repo", "hubtools-generate-check"}),
        (
            ["m/x.tar.gz", "m/y.tgz", "m/z.zip"],
            {"hubtools-validate-repo", "hubtools-generate-check"},
        ),
        (["a/turnkey_stats.yaml"], {"hubtools-validate-repo", "hubtools-generate-check"}),
        (["hubtools.toml"], {"hubtools-validate-repo", "hubtools-generate-check"}),
        (
            ["ONNX_HUB_MANIFEST.json"],
            {"hubtools-validate", "hubtools-validate-repo", "hubtools-generate-check"},
        ),
        (["docs/notes.txt", "src/readme.md.bak", "x.onnx.txt"], set()),
    ],
)
def test_which_hooks_fire(staged: list[str], fired: set[str]) -> None:
    assert {h["id"] for h in HOOKS if _fires(h, staged)} == fired


def test_a_clean_hub_passes_every_hook(run_cli: RunCli, hub: Path) -> None:
    staged = ["ONNX_HUB_MANIFEST.json", MODEL]
    assert {h["id"]: _run(run_cli, h, _fires(h, staged), hub) for h in HOOKS} == {
        "hubtools-validate": 0,
        "hubtools-validate-repo": 0,
        "hubtools-generate-check": 0,
    }


def test_a_changed_model_alone_is_caught(run_cli: RunCli, hub: Path) -> None:
    """The manifest is not staged, yet its sha is now wrong: both repo hooks fail."""
    from tests.check.support import add_model

    (hub / MODEL).write_bytes(add_model(7).SerializeToString())
    staged = [MODEL]
    results = {
        h["id"]: _run(run_cli, h, _fires(h, staged), hub) for h in HOOKS if _fires(h, staged)
    }
    assert results == {"hubtools-validate-repo": 1, "hubtools-generate-check": 1}


def test_a_manifest_in_a_sub_folder(run_cli: RunCli, tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "zoo", tmp_path / "sub")
    hook = next(h for h in HOOKS if h["id"] == "hubtools-validate-repo")
    configured = {**hook, "args": ["sub/ONNX_HUB_MANIFEST.json"]}
    assert _run(run_cli, configured, [], tmp_path) == 0


def test_the_readme_names_a_commit_that_has_the_hooks_and_the_action() -> None:
    import subprocess

    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    revs = set(re.findall(r"(?:rev: |hubtools@)([0-9a-f]{40})", readme))
    assert len(revs) == 1, revs
    [rev] = revs

    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, check=False
        )

    shallow = git("rev-parse", "--is-shallow-repository")
    if shallow.returncode != 0 or shallow.stdout.strip() != "false":
        pytest.skip("not a full git checkout: the commit cannot be looked up")
    for path in (".pre-commit-hooks.yaml", "action.yml"):
        assert git("cat-file", "-e", f"{rev}:{path}").returncode == 0, path
