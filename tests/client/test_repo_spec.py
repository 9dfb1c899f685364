from __future__ import annotations

from pathlib import Path

import pytest

from hubtools.hub import parse_repo


def test_a_relative_folder_holding_a_manifest_is_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "fixtures" / "zoo").mkdir(parents=True)
    (tmp_path / "fixtures" / "zoo" / "ONNX_HUB_MANIFEST.json").write_text("[]")
    monkeypatch.chdir(tmp_path)
    repo = parse_repo("fixtures/zoo")
    assert repo.kind == "local"
    assert repo.spec == "fixtures/zoo"


def test_owner_name_without_such_folder_is_github(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert parse_repo("fixtures/zoo").kind == "github"
    assert parse_repo("onnx/models:main").kind == "github"
