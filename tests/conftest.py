"""Shared test fixtures: an isolated cache and environment, and real tiny ONNX models."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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


@pytest.fixture
def shared_zoo() -> Path:
    """The real ONNX Model Zoo snapshot; the test is skipped when ../shared is absent."""
    if not (SHARED_ZOO / "ONNX_HUB_MANIFEST.json").is_file():
        pytest.skip(f"real zoo snapshot not found at {SHARED_ZOO}")
    return SHARED_ZOO
