from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from hubtools.core.files import (
    CHUNK_BYTES,
    Digest,
    LfsPointer,
    digest,
    parse_lfs_pointer,
    read_bounded,
    read_lfs_pointer,
    sha256_file,
)
from hubtools.errors import FileReadError, HubtoolsError

OID = "4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393"
POINTER = f"version https://git-lfs.github.com/spec/v1\noid sha256:{OID}\nsize 12345\n".encode()


def test_parse_pointer() -> None:
    assert parse_lfs_pointer(POINTER) == LfsPointer(oid=OID, size=12345)


def test_parse_pointer_with_extension_and_legacy_version() -> None:
    text = (
        "version https://hawser.github.com/spec/v1\n"
        "ext-0-foo sha256:" + "0" * 64 + "\n"
        f"oid sha256:{OID}\nsize 0\n"
    )
    assert parse_lfs_pointer(text.encode()) == LfsPointer(oid=OID, size=0)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        POINTER[:-1],  # no final newline
        POINTER.replace(b"size 12345", b"size -1"),
        POINTER.replace(b"size 12345", b"size 012"),
        POINTER.replace(b"size 12345\n", b""),
        POINTER.replace(OID.encode(), OID.upper().encode()),
        POINTER.replace(OID.encode(), OID[:-1].encode()),
        POINTER.replace(b"sha256:", b"sha1:"),
        POINTER.replace(b"spec/v1", b"spec/v2"),
        b"oid sha256:" + OID.encode() + b"\nversion https://git-lfs.github.com/spec/v1\nsize 1\n",
        POINTER + b"size 1\n",  # a key twice
        POINTER + b"x" * 1024 + b"\n",  # longer than any pointer
        b"\x89PNG\r\n\x1a\n",
        b"\xff\xfe" + POINTER,
    ],
)
def test_not_a_pointer(data: bytes) -> None:
    assert parse_lfs_pointer(data) is None


def test_read_lfs_pointer(tmp_path: Path) -> None:
    pointer = tmp_path / "model.onnx"
    pointer.write_bytes(POINTER)
    assert read_lfs_pointer(pointer) == LfsPointer(oid=OID, size=12345)
    # A pointer followed by more content is no pointer.
    pointer.write_bytes(POINTER + b"\0" * 2000)
    assert read_lfs_pointer(pointer) is None


def test_digest_of_pointer_is_the_pointer(tmp_path: Path) -> None:
    pointer = tmp_path / "model.onnx"
    pointer.write_bytes(POINTER)
    assert digest(pointer) == Digest(sha256=OID, size=12345, lfs_pointer=True)
    # sha256_file hashes the text itself.
    assert sha256_file(pointer) == (hashlib.sha256(POINTER).hexdigest(), len(POINTER))


@pytest.mark.parametrize(
    "size", [0, 1, 1024, 1025, CHUNK_BYTES - 1, CHUNK_BYTES, 3 * CHUNK_BYTES + 7]
)
def test_digest_equals_hashlib(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    expected = hashlib.sha256(data).hexdigest()
    assert digest(path) == Digest(sha256=expected, size=size, lfs_pointer=False)
    assert sha256_file(path) == (expected, size)


@pytest.mark.parametrize("func", [digest, sha256_file, read_lfs_pointer])
def test_unreadable_paths_raise_file_read_error(tmp_path: Path, func: object) -> None:
    assert callable(func)
    with pytest.raises(FileReadError, match=r"missing\.onnx: cannot read: No such file"):
        func(tmp_path / "missing.onnx")
    with pytest.raises(FileReadError, match="cannot read: ") as info:
        func(tmp_path)
    assert isinstance(info.value, OSError)
    assert isinstance(info.value, HubtoolsError)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files without permission bits")
def test_permission_denied(tmp_path: Path) -> None:
    path = tmp_path / "secret.onnx"
    path.write_bytes(b"x")
    path.chmod(0)
    with pytest.raises(FileReadError, match="Permission denied"):
        digest(path)


def _returns_quickly(call: Callable[[], object]) -> BaseException | None:
    """Run ``call`` and return what it raised, failing when it blocks: a writer
    opens the FIFO after 3 s so that a reader stuck in open() comes back."""
    started = time.monotonic()
    try:
        call()
    except BaseException as err:  # returned for the test to judge
        outcome: BaseException | None = err
    else:
        outcome = None
    assert time.monotonic() - started < 2, "blocked on the FIFO"
    return outcome


@pytest.mark.parametrize("func", [digest, sha256_file, read_lfs_pointer])
def test_fifo_is_refused_without_blocking(tmp_path: Path, func: Callable[[Path], object]) -> None:
    fifo = tmp_path / "model.onnx"
    os.mkfifo(fifo)

    def unblock() -> None:
        time.sleep(3)
        with contextlib.suppress(OSError):
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            os.close(fd)

    threading.Thread(target=unblock, daemon=True).start()
    err = _returns_quickly(lambda: func(fifo))
    assert isinstance(err, FileReadError)
    assert str(err) == f"{fifo}: cannot read: not a regular file (a FIFO)"


def test_device_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileReadError, match=r"not a regular file \(a character device\)"):
        digest(Path("/dev/zero"))
    link = tmp_path / "zero.onnx"
    link.symlink_to("/dev/zero")
    with pytest.raises(FileReadError, match=r"zero\.onnx: cannot read: not a regular file"):
        read_bounded(link, 1 << 20)


def test_directory_reads_as_open_words_it(tmp_path: Path) -> None:
    with pytest.raises(FileReadError, match=r"cannot read: Is a directory\Z"):
        digest(tmp_path)


@pytest.mark.parametrize(("size", "read"), [(0, True), (99, True), (100, True), (101, False)])
def test_read_bounded(tmp_path: Path, size: int, read: bool) -> None:
    path = tmp_path / "README.md"
    data = os.urandom(size)
    path.write_bytes(data)
    assert read_bounded(path, 100) == (data if read else None)


def test_read_bounded_never_reads_a_huge_file(tmp_path: Path) -> None:
    path = tmp_path / "README.md"
    with open(path, "wb") as handle:
        handle.truncate(1 << 40)  # sparse: a terabyte that takes no disk
    assert read_bounded(path, 1 << 20) is None
