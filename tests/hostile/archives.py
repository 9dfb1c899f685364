"""Hostile archives, built at test time: tarballs and zip files that try to
write outside their folder (``..``, absolute and drive-letter names,
backslashes, symlinks and hard links out or through each other), create what
is not a plain file (devices, FIFOs, a file named ``.``), write one path twice
or inside a file, lie about their content (CRC, sizes, header names, a
truncated or corrupt stream), hold names no file system can (NUL, 300-byte
parts, 5000-byte paths) or expand without bound (bombs by ratio, member
counts). Each case holds a real ONNX model as ``m/model.onnx`` beside its one
hostile member, so that only the hostile member can be the reason for a
refusal, and names the words of that refusal, the same for every command.
Nothing here is a committed binary.
"""

from __future__ import annotations

import functools
import io
import struct
import tarfile
import warnings
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from hubtools.core.archive_policy import Limits
from tests.validate.support import model_bytes

__all__ = ["BENIGN", "CASES", "MODEL", "HostileArchive", "tar_gz", "zip_bytes"]

#: Where every archive here keeps its (valid) model.
MODEL = "m/model.onnx"
BOMB_BYTES = 100 << 20  # over the 64 MiB that are never refused for their ratio


@dataclass(frozen=True)
class HostileArchive:
    """One hostile archive: its builder, the words of its refusal, and the
    limits to apply instead of the defaults (None: the defaults refuse it)."""

    name: str
    suffix: str  # the archive's real format: ".tar.gz" or ".zip"
    build: Callable[[], bytes]
    refusal: str
    limits: Limits | None = None


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o644
    return info, data


def _special(name: str, kind: bytes, link: str = "", **pax: str) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    if pax:
        info.pax_headers = dict(pax)
    return info, b""


def tar_gz(*members: tuple[tarfile.TarInfo, bytes], model: bool = True) -> bytes:
    """A gzip tarball of ``m/model.onnx`` (unless ``model`` is false) then ``members``."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for info, data in ([_file(MODEL, model_bytes())] if model else []) + list(members):
            tar.addfile(info, io.BytesIO(data) if data else None)
    return buf.getvalue()


def zip_bytes(
    *members: tuple[str | zipfile.ZipInfo, bytes], method: int = zipfile.ZIP_STORED
) -> bytes:
    """A zip file of ``m/model.onnx`` then ``members``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Duplicate name": on purpose
        zf.writestr(MODEL, model_bytes())
        for name, data in members:
            zf.writestr(name, data)
    return buf.getvalue()


def _zip_mode(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = mode << 16
    return info


def _patch_central(data: bytes, name: bytes, offset: int, fmt: str, value: int) -> bytes:
    """``data`` with a field of ``name``'s central directory record (and local
    header, at the same meaning) set to ``value``."""
    out = bytearray(data)
    central = out.index(b"PK\x01\x02")
    while True:
        name_len = struct.unpack_from("<H", out, central + 28)[0]
        if bytes(out[central + 46 : central + 46 + name_len]) == name:
            break
        central = out.index(b"PK\x01\x02", central + 4)
    struct.pack_into(fmt, out, central + offset, value)
    local = struct.unpack_from("<I", out, central + 42)[0]
    struct.pack_into(fmt, out, local + offset - 2, value)  # same field, 2 bytes earlier there
    return bytes(out)


def _zip_flag(bit: int) -> bytes:
    data = zip_bytes(("m/data.bin", b"secret"))
    return _patch_central(data, b"m/data.bin", 8, "<H", bit)


def _zip_method(method: int) -> bytes:
    data = zip_bytes(("m/data.bin", b"secret"))
    return _patch_central(data, b"m/data.bin", 10, "<H", method)


def _zip_crc_lie() -> bytes:
    data = zip_bytes(("m/data.bin", b"weights " * 64))
    return data.replace(b"weights " * 64, b"WEIGHTS " + b"weights " * 63, 1)


def _zip_header_name_lie() -> bytes:
    data = zip_bytes(("m/data.bin", b"weights"))
    first = data.index(b"m/data.bin")  # the local header's copy comes first
    return data[:first] + b"../data.bi" + data[first + 10 :]


def _truncated() -> bytes:
    data = tar_gz(_file("m/data.bin", bytes(range(256)) * 4096))
    return data[: len(data) // 2]


def _corrupt() -> bytes:
    data = bytearray(tar_gz(_file("m/data.bin", bytes(range(256)) * 4096)))
    middle = len(data) // 2
    data[middle : middle + 64] = b"\xff" * 64  # decodes to other bytes: the CRC fails
    return bytes(data)


@functools.cache
def _tar_bomb() -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info, data = _file(MODEL, model_bytes())
        tar.addfile(info, io.BytesIO(data))
        bomb = tarfile.TarInfo("m/zeros.bin")
        bomb.size = BOMB_BYTES
        tar.addfile(bomb, io.BytesIO(bytes(BOMB_BYTES)))
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip framing
    return compressor.compress(raw.getvalue()) + compressor.flush()


@functools.cache
def _zip_bomb() -> bytes:
    return zip_bytes(("m/zeros.bin", bytes(BOMB_BYTES)), method=zipfile.ZIP_DEFLATED)


def _size_lie() -> bytes:
    info = tarfile.TarInfo("m/huge.bin")
    info.size = 20 << 30  # declared; the data is not there
    return tar_gz((info, b""))


def _many_members() -> bytes:
    return tar_gz(*(_file(f"m/f{i}", b"") for i in range(60)))


def _too_large() -> bytes:
    return tar_gz(_file("m/data.bin", b"x" * 20_000))


_TAR = ".tar.gz"
_ZIP = ".zip"
_OUT = "outside the folder"
_LEAVES = "leaves the extraction folder"
_SPECIAL = "is a device, FIFO or socket"
_UNREADABLE = "not a readable"
_TWICE = "is listed twice"
_SYM, _HARD, _DIR = tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.DIRTYPE


def _tar(name: str, refusal: str, *members: tuple[tarfile.TarInfo, bytes]) -> HostileArchive:
    """A case of ``m/model.onnx`` and ``members`` in a tar.gz."""
    return HostileArchive(name, _TAR, functools.partial(tar_gz, *members), refusal)


def _zip(name: str, refusal: str, *members: tuple[str | zipfile.ZipInfo, bytes]) -> HostileArchive:
    """A case of ``m/model.onnx`` and ``members`` in a zip file."""
    return HostileArchive(name, _ZIP, functools.partial(zip_bytes, *members), refusal)


CASES = (
    _tar("traversal", _LEAVES, _file("../evil.txt", b"x")),
    _tar("deep-traversal", _LEAVES, _file("m/../../x", b"x")),
    _tar("absolute", "has an absolute path", _file("/tmp/evil.txt", b"x")),
    _tar("drive-letter", "has an absolute path", _file("C:/evil.txt", b"x")),
    _tar("backslash", "contains a backslash", _file("..\\evil.txt", b"x")),
    _tar("nul-in-name", "contains a NUL byte", _special("m/a", tarfile.REGTYPE, path="m/a\x00/..")),
    _tar("long-part", "has a part of 300 bytes", _file("m/" + "n" * 300, b"x")),
    _tar("long-path", "is 5003 bytes long", _file("m/" + "d/" * 2500 + "x", b"x")),
    _tar("symlink-out", _OUT, _special("m/link", _SYM, "../../etc/passwd")),
    _tar("symlink-absolute", _OUT, _special("m/link", _SYM, "/etc/passwd")),
    _tar(
        "symlink-through-symlink",
        "through another symlink",
        _special("m/up", _SYM, "a/../.."),  # m/a/../.. is m/.. once m/a is m
        _special("m/a", _SYM, "."),
    ),
    _tar(
        "member-through-symlink",
        "is inside 'm/here', which is a symlink",
        _special("m/here", _SYM, "."),
        _file("m/here/model.onnx", b"x"),
    ),
    _tar("symlink-empty", "is a symlink to nothing", _special("m/link", _SYM, "")),
    _tar("hardlink-out", _OUT, _special("m/hard", _HARD, "../outside")),
    _tar("hardlink-absolute", _OUT, _special("m/hard", _HARD, "/etc/passwd")),
    _tar("hardlink-to-nothing", "not to a file listed", _special("m/hard", _HARD, "m/none")),
    _tar(
        "hardlink-to-folder",
        "not to a file listed",
        _special("d", _DIR),
        _special("m/h", _HARD, "d"),
    ),
    _tar("char-device", _SPECIAL, _special("m/dev", tarfile.CHRTYPE)),
    _tar("block-device", _SPECIAL, _special("m/blk", tarfile.BLKTYPE)),
    _tar("fifo", _SPECIAL, _special("m/fifo", tarfile.FIFOTYPE)),
    _tar("file-named-dot", "with the name of a folder", _file(".", b"x")),
    _tar("duplicate-names", _TWICE, _file("m/data.bin", b"one"), _file("./m/data.bin", b"two")),
    _tar("file-then-folder", _TWICE, _file("m/x", b"x"), _special("m/x", _DIR)),
    _tar(
        "member-inside-file", "is inside 'm/model.onnx', which is a file", _file(f"{MODEL}/x", b"")
    ),
    HostileArchive("truncated-gzip", _TAR, _truncated, _UNREADABLE),
    HostileArchive("corrupt-gzip", _TAR, _corrupt, _UNREADABLE),
    HostileArchive("declared-size-lie", _TAR, _size_lie, "content larger than"),
    HostileArchive("bomb-by-ratio", _TAR, _tar_bomb, "decompression bomb"),
    HostileArchive(
        "too-many-members", _TAR, _many_members, "more than 50 members", Limits(max_members=50)
    ),
    HostileArchive(
        "too-much-content", _TAR, _too_large, "larger than 10000 bytes", Limits(max_bytes=10_000)
    ),
    HostileArchive("not-an-archive", _TAR, lambda: b"\x1f\x8b but not gzip at all", _UNREADABLE),
    _zip("zip-traversal", _LEAVES, ("../evil.txt", b"x")),
    _zip("zip-absolute", "has an absolute path", ("/evil.txt", b"x")),
    _zip("zip-symlink", "is a symlink", (_zip_mode("m/link", 0o120777), b"/etc/passwd")),
    _zip("zip-device", _SPECIAL, (_zip_mode("m/dev", 0o020644), b"")),
    _zip("zip-duplicate-names", _TWICE, ("m/data.bin", b"one"), ("m/data.bin", b"two")),
    _zip("zip-inside-file", "is inside 'm/model.onnx', which is a file", (f"{MODEL}/x", b"")),
    HostileArchive("zip-crc-lie", _ZIP, _zip_crc_lie, "Bad CRC-32"),
    HostileArchive("zip-header-name-lie", _ZIP, _zip_header_name_lie, "differ"),
    HostileArchive("zip-encrypted", _ZIP, lambda: _zip_flag(0x1), "is encrypted"),
    HostileArchive("zip-unknown-method", _ZIP, lambda: _zip_method(99), "compression method 99"),
    HostileArchive("zip-bomb-by-ratio", _ZIP, _zip_bomb, "decompression bomb"),
)

#: Archives every command accepts: a plain one of each format, links that stay
#: inside, a folder listed twice, and the folder itself listed as ``./``.
BENIGN = (
    _tar("plain-tar", "", _file("m/data.bin", b"d")),
    _zip("plain-zip", "", ("m/data.bin", b"d")),
    _tar("inside-symlink", "", _file("m/data.bin", b"d"), _special("m/alias", _SYM, "data.bin")),
    _tar("hardlink-inside", "", _file("m/data.bin", b"d"), _special("m/h", _HARD, "m/data.bin")),
    _tar("folders-twice", "", _special("./", _DIR), _special("m", _DIR), _special("m/", _DIR)),
)
