from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from hubtools.core.files import (
    CHUNK_BYTES,
    Digest,
    LfsPointer,
    digest,
    parse_lfs_pointer,
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
