"""Shared test fixtures: an isolated cache and environment, and real tiny ONNX models."""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import git
import pytest
from click.testing import CliRunner

SHARED_ZOO = Path(__file__).resolve().parents[2] / "shared" / "data" / "onnx-models-b1eeaa1a"
REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = REPO_ROOT / "fixtures"


@pytest.fixture(autouse=True)
def _isolated_env(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Point every cache at a temporary folder and drop HUBTOOLS_* settings from the host."""
    home = tmp_path_factory.mktemp("onnx_home")
    monkeypatch.setenv("ONNX_HOME", str(home))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    for name in list(os.environ):
        if name.startswith("HUBTOOLS_"):
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def _no_cache_dir_override() -> Iterator[None]:
    """``hub.set_dir`` is process-wide state: every test starts and ends without it."""
    from hubtools.client import config

    config.set_dir(None)
    yield
    config.set_dir(None)


@pytest.fixture
def shared_zoo() -> Path:
    """The real ONNX Model Zoo snapshot; the test is skipped when ../shared is absent."""
    if not (SHARED_ZOO / "ONNX_HUB_MANIFEST.json").is_file():
        pytest.skip(f"real zoo snapshot not found at {SHARED_ZOO}")
    return SHARED_ZOO


@dataclass(frozen=True)
class Run:
    """What one in-process ``hubtools`` command gave: exit code, stdout, stderr."""

    exit_code: int
    stdout: str
    stderr: str


RunCli = Callable[..., Run]


@pytest.fixture
def run_cli() -> RunCli:
    """Run ``hubtools ARGS...`` in-process; CLI tests read like typed commands."""
    from hubtools.cli import cli

    def run(*args: object, input: str | None = None) -> Run:
        result = CliRunner().invoke(cli, [str(a) for a in args], input=input)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Run(result.exit_code, result.stdout, result.stderr)

    return run


@pytest.fixture(scope="session")
def real_zoo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real zoo snapshot, copied into a temporary git repository (shared by
    the session: tests must not change it); skipped when the snapshot is absent."""
    if not (SHARED_ZOO / "ONNX_HUB_MANIFEST.json").is_file():
        pytest.skip(f"real zoo snapshot not found at {SHARED_ZOO}")
    root = tmp_path_factory.mktemp("realzoo") / "zoo"
    shutil.copytree(SHARED_ZOO, root)
    for folder, dirs, names in os.walk(root):
        for name in [*dirs, *names]:
            path = Path(folder) / name
            path.chmod(path.stat().st_mode | stat.S_IWUSR)
    repo = git.Repo.init(root)
    repo.git.add("-A")
    repo.index.commit("snapshot")
    return root
