"""A cache another user can read: every file and folder the client keeps gets the
permissions the umask gives, as a plain ``open()``/``mkdir()`` would (temporary
files start private, and used to stay so under their final names); two users
load from, and download into, one cache."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hubtools import hub
from hubtools.client import config
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


NOBODY = 65534


def _as_another_user(work: Callable[[], object]) -> str:
    """Run ``work`` in a forked child as uid and gid 65534 (nobody); what it
    returned, or its error, as text. The interpreter and the modules it has
    imported are the parent's, so the child reads nothing under /root."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            os.umask(0o002)
            out = f"ok {work()}"
        except BaseException as err:
            out = f"{type(err).__name__}: {err}"
        os.write(write, out.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        said = pipe.read().decode()
    os.waitpid(pid, 0)
    return said


@pytest.mark.skipif(
    not hasattr(os, "fork") or os.geteuid() != 0, reason="needs root to run a child as another uid"
)
def test_two_users_share_one_cache(zoo: Zoo, monkeypatch: pytest.MonkeyPatch) -> None:
    # Warm up in a scratch cache, so that everything a load imports is imported
    # before the fork (the other user cannot read this interpreter's files).
    hub.set_dir(zoo.cache.parent / "warm-up")
    assert hub.download_model_with_test_data("mnist", zoo.repo) is not None
    assert hub.load("mnist", zoo.repo, opset=8) is not None
    config.set_dir(None)  # back to $ONNX_HOME
    # A cache two users share: a group both are in, group-writable, setgid folders.
    shared = Path(tempfile.mkdtemp(prefix="hubtools-shared-"))
    try:
        os.chown(shared, 0, NOBODY)
        os.chmod(shared, 0o2775)
        monkeypatch.setenv("ONNX_HOME", str(shared))
        old = os.umask(0o002)
        try:
            assert hub.load("mnist", zoo.repo) is not None  # this user fetches MNIST
            # The other user loads it from the cache and fetches ResNet18 beside it.
            said = _as_another_user(
                lambda: (hub.load("mnist", zoo.repo) is not None, hub.load("resnet18", zoo.repo))
            )
            assert said.startswith("ok (True, "), said
            # ...which this user then loads from the cache, without fetching it again.
            hits = zoo.server.media_hits(zoo.model("ResNet18", 13).model_path)
            assert hub.load("resnet18", zoo.repo) is not None
            assert zoo.server.media_hits(zoo.model("ResNet18", 13).model_path) == hits == 1
            assert zoo.server.media_hits(zoo.model("MNIST", 12).model_path) == 1
            owners = {p.stat().st_uid for p in (shared / "hub").rglob("*.onnx")}
            assert owners == {0, NOBODY}
            assert not list(shared.rglob("*.lock"))
        finally:
            os.umask(old)
    finally:
        shutil.rmtree(shared)
