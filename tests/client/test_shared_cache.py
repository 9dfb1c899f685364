"""A cache another user can read: every file and folder the client keeps gets the
permissions the umask gives, as a plain ``open()``/``mkdir()`` would (temporary
files start private, and used to stay so under their final names)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from hubtools import hub
from hubtools.core.files import write_atomic
from tests.client_support import Zoo, serve_zoo, sha256


@pytest.fixture
def zoo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Zoo]:
    with serve_zoo(tmp_path, monkeypatch) as z:
        yield z


@pytest.fixture(params=[0o022, 0o002, 0o077])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_cached_model_kept_manifest_and_extracted_folder_follow_the_umask(
    zoo: Zoo, umask: int
) -> None:
    assert hub.download_model_with_test_data("mnist", zoo.repo) is not None
    assert hub.load("mnist", zoo.repo) is not None
    m = zoo.model("MNIST", 12)
    assert m.tar_path is not None
    assert m.tar_data is not None
    where = zoo.cache / Path(m.model_path).parent
    cached = where / f"{m.sha}_{Path(m.model_path).name}"
    archive = where / f"{sha256(m.tar_data)}_{Path(m.tar_path).name}"
    extracted = where / archive.name.removesuffix(".tar.gz")
    kept = next((zoo.cache / ".hubtools" / "manifests").rglob("ONNX_HUB_MANIFEST.json"))
    files = [cached, archive, kept, *(p for p in extracted.rglob("*") if p.is_file())]
    folders = [extracted, *(p for p in extracted.rglob("*") if p.is_dir())]
    assert len(files) > 4
    assert {str(p): _mode(p) for p in files} == {str(p): 0o666 & ~umask for p in files}
    assert {str(p): _mode(p) for p in folders} == {str(p): 0o777 & ~umask for p in folders}


def test_write_atomic_keeps_the_mode_of_the_file_it_replaces(tmp_path: Path, umask: int) -> None:
    path = tmp_path / "ONNX_HUB_MANIFEST.json"
    write_atomic(path, "[]")
    assert (_mode(path), path.read_text()) == (0o666 & ~umask, "[]")
    os.chmod(path, 0o640)
    write_atomic(path, "[1]")
    assert (_mode(path), path.read_text()) == (0o640, "[1]")
    write_atomic(path, "[2]", keep_mode=False)
    assert _mode(path) == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left
