"""Local files: the one way to open a file for reading (regular files only,
never blocking), the one streaming sha256, Git LFS pointers (spec v1), and
the one atomic write.

A Git LFS pointer is the small text file git stores in place of a large file
whose content lives on an LFS server. Its sha256 and size describe that
content, so a manifest can be generated without downloading it. Pointer
format: https://github.com/git-lfs/git-lfs/blob/main/docs/spec.md

Every file hubtools puts under a final name (manifest, cached model, kept
manifest, extracted folder) goes through a temporary file beside it and
``os.replace``, and gets the permissions the umask gives, as a plain
``open()`` would: ``mkstemp`` and ``mkdtemp`` make private files, which a
cache shared between users cannot use. Nothing here knows about manifests.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import re
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from hubtools.errors import FileReadError

log = logging.getLogger(__name__)

#: git-lfs never treats a blob larger than this as a pointer.
LFS_POINTER_MAX_BYTES = 1024
#: Read size of the streaming hash: large enough that syscalls do not matter.
CHUNK_BYTES = 1 << 20

_LFS_VERSIONS = (
    "https://git-lfs.github.com/spec/v1",
    # Pre-release pointers, still accepted by git-lfs.
    "https://hawser.github.com/spec/v1",
)
_KEY = re.compile(r"[a-z0-9.-]+\Z")
_OID = re.compile(r"sha256:([0-9a-f]{64})\Z")
_SIZE = re.compile(r"(0|[1-9][0-9]{0,18})\Z")


@dataclass(frozen=True)
class LfsPointer:
    """A parsed Git LFS pointer: the sha256 (64 lowercase hex digits) and size of the content."""

    oid: str
    size: int


@dataclass(frozen=True)
class Digest:
    """The sha256 and byte size of a file's content.

    For a Git LFS pointer file these are the pointer's ``oid`` and ``size``
    (the content it stands for) and ``lfs_pointer`` is True.
    """

    sha256: str
    size: int
    lfs_pointer: bool


def parse_lfs_pointer(head: bytes) -> LfsPointer | None:
    """Parse ``head`` (a whole file of at most 1024 bytes) as a Git LFS pointer.

    Follows spec v1: UTF-8 lines ``key value`` ending in ``\\n``, ``version``
    first, then ``oid sha256:<hex>`` and ``size <bytes>`` among other keys
    (their order is not enforced). Returns None when ``head`` is not a
    pointer; never raises.
    """
    if not head or len(head) > LFS_POINTER_MAX_BYTES or not head.endswith(b"\n"):
        return None
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return None
    values: dict[str, str] = {}
    for index, line in enumerate(text[:-1].split("\n")):
        key, sep, value = line.partition(" ")
        if not sep or not _KEY.match(key) or key in values:
            return None
        if index == 0 and (key != "version" or value not in _LFS_VERSIONS):
            return None
        values[key] = value
    oid = _OID.match(values.get("oid", ""))
    size = _SIZE.match(values.get("size", ""))
    if oid is None or size is None:
        return None
    return LfsPointer(oid=oid.group(1), size=int(size.group(1)))


_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)
# Opening a FIFO for reading blocks until a writer comes; with O_NONBLOCK it
# returns at once, so the descriptor can be checked before anything is read.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
_OPEN_FLAGS |= getattr(os, "O_BINARY", 0)


def not_regular(mode: int) -> str | None:
    """What a file of ``mode`` is (``"a FIFO"``, ``"a directory"``, ...) when it is
    not a regular file; None when it is one."""
    if stat.S_ISREG(mode):
        return None
    return next((kind for test, kind in _KINDS if test(mode)), "not a file")


def _cannot_read(path: Path, err: OSError) -> FileReadError:
    return FileReadError(f"{path}: cannot read: {err.strerror or err}")


def _refuse(path: Path, mode: int) -> None:
    if stat.S_ISDIR(mode):  # worded as open() words it
        raise FileReadError(f"{path}: cannot read: {os.strerror(errno.EISDIR)}")
    kind = not_regular(mode)
    if kind is not None:
        raise FileReadError(f"{path}: cannot read: not a regular file ({kind})")


def _open(path: Path) -> BinaryIO:
    """Open the regular file ``path`` for binary reading, without ever blocking.

    Anything else (a FIFO, a device such as ``/dev/zero``, a socket, a
    directory) is refused from ``stat`` before it is opened, and again from
    the opened descriptor, so a file swapped for a FIFO between the two
    checks is opened without waiting and refused all the same.

    Raises:
        FileReadError: ``path`` is missing, unreadable or not a regular file.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError as err:
        raise _cannot_read(path, err) from err
    _refuse(path, mode)
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as err:
        raise _cannot_read(path, err) from err
    try:
        _refuse(path, os.fstat(fd).st_mode)
        if _OPEN_FLAGS & getattr(os, "O_NONBLOCK", 0):
            os.set_blocking(fd, True)  # reads of a regular file then behave as with open()
        return os.fdopen(fd, "rb")
    except FileReadError:
        os.close(fd)
        raise
    except OSError as err:
        os.close(fd)
        raise _cannot_read(path, err) from err


def _read(handle: BinaryIO, size: int, path: Path) -> bytes:
    try:
        return handle.read(size)
    except OSError as err:
        raise _cannot_read(path, err) from err


def read_bounded(path: Path, limit: int) -> bytes | None:
    """The content of the regular file ``path``, or None when it holds more than ``limit`` bytes.

    The size is checked on the opened file before anything is read, and no
    more than ``limit + 1`` bytes are read should the file grow meanwhile, so
    memory stays within ``limit`` whatever the file.

    Raises:
        FileReadError: ``path`` cannot be opened or read, or is not a regular file.
    """
    with _open(path) as handle:
        try:
            size = os.fstat(handle.fileno()).st_size
        except OSError as err:
            raise _cannot_read(path, err) from err
        if size > limit:
            return None
        data = _read(handle, limit + 1, path)
    return data if len(data) <= limit else None


def read_lfs_pointer(path: Path) -> LfsPointer | None:
    """The Git LFS pointer stored at ``path``, or None when the file is not one.

    Reads at most 1025 bytes.

    Raises:
        FileReadError: ``path`` cannot be opened or read (also an ``OSError``).
    """
    with _open(path) as handle:
        return parse_lfs_pointer(_read(handle, LFS_POINTER_MAX_BYTES + 1, path))


def _hash_rest(handle: BinaryIO, hasher: hashlib._Hash, path: Path) -> int:
    """Feed the rest of ``handle`` to ``hasher`` in chunks; return the byte count."""
    buffer = bytearray(CHUNK_BYTES)
    view = memoryview(buffer)
    total = 0
    try:
        while n := handle.readinto(view):  # type: ignore[attr-defined]
            hasher.update(view[:n])
            total += n
    except OSError as err:
        raise _cannot_read(path, err) from err
    return total


def sha256_file(path: Path) -> tuple[str, int]:
    """The sha256 (hex) and byte size of the file's content, read in 1 MiB chunks.

    A Git LFS pointer file is hashed as the text it is; see :func:`digest`.

    Raises:
        FileReadError: ``path`` cannot be opened or read (also an ``OSError``).
    """
    hasher = hashlib.sha256()
    with _open(path) as handle:
        size = _hash_rest(handle, hasher, path)
    return hasher.hexdigest(), size


def digest(path: Path) -> Digest:
    """The sha256 and size of the content ``path`` holds or, for a Git LFS pointer, stands for.

    Streams the file once in 1 MiB chunks; a pointer is recognised from its
    first bytes and the rest of the file is not read.

    Raises:
        FileReadError: ``path`` cannot be opened or read (also an ``OSError``).
    """
    hasher = hashlib.sha256()
    with _open(path) as handle:
        head = _read(handle, LFS_POINTER_MAX_BYTES + 1, path)
        pointer = parse_lfs_pointer(head)
        if pointer is not None:
            log.debug("%s: Git LFS pointer to %s (%d bytes)", path, pointer.oid, pointer.size)
            return Digest(sha256=pointer.oid, size=pointer.size, lfs_pointer=True)
        hasher.update(head)
        size = len(head) + _hash_rest(handle, hasher, path)
    return Digest(sha256=hasher.hexdigest(), size=size, lfs_pointer=False)


# ---- permissions and atomic writes -----------------------------------------------


def _umask() -> int:
    """The process's umask, read without changing it where Linux shows it."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status", "rb") as status:
        for line in status:
            if line.startswith(b"Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)  # elsewhere: the classic read-and-restore
    os.umask(mask)
    return mask


def default_mode(*, directory: bool = False) -> int:
    """The mode ``open()`` (0o666) or ``mkdir()`` (0o777) would give under the umask."""
    return (0o777 if directory else 0o666) & ~_umask()


def temp_beside(target: Path, suffix: str = ".tmp") -> Path:
    """A new, empty, uniquely named hidden file in ``target``'s folder. Raises OSError."""
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    os.close(fd)
    return Path(name)


def replace_into(temp: Path, target: Path, *, mode: int | None = None) -> None:
    """Give ``temp`` its final permissions and rename it to ``target`` atomically.

    ``mode`` defaults to what the umask gives a new file. Raises OSError.
    """
    os.chmod(temp, default_mode() if mode is None else mode)
    os.replace(temp, target)


def _written_through(path: Path) -> bool:
    """Whether ``path`` is a place to write into rather than a file to replace:
    something that is not a regular file (a FIFO, a terminal, ``/dev/null``),
    or a path whose links lead through ``/proc`` (``/dev/stdout`` is a link to
    ``/proc/self/fd/1``, whatever stdout is), so the writer's own stdout."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return True
    except OSError:
        return False  # a new file, or a link to one
    hop = str(path)
    for _ in range(40):  # the kernel's own limit on links followed
        if os.path.realpath(os.path.dirname(hop) or ".").startswith("/proc/"):
            return True
        if not os.path.islink(hop):
            return False
        hop = os.path.join(os.path.dirname(hop), os.readlink(hop))
    return False


def write_atomic(
    path: Path, data: str | bytes, *, keep_mode: bool = True, follow: bool = False
) -> None:
    """Write ``data`` (text as UTF-8, no newline translation) to ``path`` atomically.

    Readers see the old file or the new one, never a partial write; on a
    failure nothing is left behind. The file gets the mode of the file it
    replaces (with ``keep_mode``), else the one the umask gives.

    With ``follow`` (an output the user named), a symlink is kept and the
    file it leads to is written atomically instead, and a path that is not
    a regular file (a FIFO, ``/dev/stdout``) is written through, never
    replaced. Without it a symlink at ``path`` is replaced like a file, so a
    link planted in a shared folder cannot redirect the write.
    Raises OSError.
    """
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    if follow:
        if _written_through(path):
            with open(path, "wb") as handle:
                handle.write(payload)
            return
        path = Path(os.path.realpath(path))
    temp = temp_beside(path)
    try:
        with open(temp, "wb") as handle:
            handle.write(payload)
        mode = None
        if keep_mode:
            with contextlib.suppress(FileNotFoundError):
                mode = stat.S_IMODE(os.stat(path).st_mode)
        replace_into(temp, path, mode=mode)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
