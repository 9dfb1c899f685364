"""Reading and extracting archives: the suffix registry, :func:`check_archive`
(which only reads, for ``validate --repo`` and ``inspect``) and
:func:`safe_extract` (the client), both feeding every member to the one policy
of :mod:`hubtools.core.archive_policy`, so every command gives the same
verdict. Tar extraction also uses tarfile's ``data`` filter where Python has
it (3.10.12+, 3.11.4+) and zip members are written one by one as plain files
and folders, either way into a temporary folder beside the destination that
is renamed into place, so a half-extracted folder never sits under the final
name."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import lzma
import os
import shutil
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

from hubtools.core import archive_policy
from hubtools.core.archive_policy import (
    Limits,
    Member,
    check_member_list,
    tar_member,
    zip_member,
)
from hubtools.core.files import Digest, _open, default_mode
from hubtools.errors import ArchiveLayoutError, HubtoolsError, UnsafeArchiveError

log = logging.getLogger(__name__)

#: How to fix an archive the policy refuses (every command's hint).
REPACK_HINT = (
    "rebuild it as a readable .tar.gz or .zip of plain files and folders "
    "(no '..' or absolute names, links out, devices or repeated names)"
)

# tarfile.FilterError exists only where the extraction filters do.
_FilterError: type[Exception] = getattr(tarfile, "FilterError", tarfile.TarError)
# What a malformed tar file or compressed stream raises, besides zipfile's own
# errors (gzip and bz2 also raise an OSError without an errno: see _reading).
_CORRUPT: tuple[type[Exception], ...] = (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError)


@dataclass(frozen=True)
class ArchiveFormat:
    """An archive format hubtools reads: its name, the file suffixes that mean
    it, and whether a manifest may name it in ``metadata.model_archive``."""

    name: str
    suffixes: tuple[str, ...]
    model_archive: bool


#: Every archive format, the one registry of suffixes: ``.tgz`` is ``tar.gz``
#: to every command. Extraction itself reads the format from the first bytes.
FORMATS = (
    ArchiveFormat("tar.gz", (".tar.gz", ".tgz"), model_archive=True),
    ArchiveFormat("zip", (".zip",), model_archive=True),
    ArchiveFormat("tar", (".tar",), model_archive=False),
)
#: The values ``metadata.model_archive`` may take.
MODEL_ARCHIVE_FORMATS = tuple(f.name for f in FORMATS if f.model_archive)
#: Every suffix of every format, longest first.
ARCHIVE_SUFFIXES = tuple(sorted((s for f in FORMATS for s in f.suffixes), key=len, reverse=True))


def archive_format(name: str, *, model_archive: bool = False) -> ArchiveFormat | None:
    """The format a file name's suffix says (only model-archive formats with
    ``model_archive``); None when it is not an archive name. Raises nothing."""
    for fmt in FORMATS:
        if (fmt.model_archive or not model_archive) and name.endswith(fmt.suffixes):
            return fmt
    return None


def strip_archive_suffix(name: str) -> str | None:
    """``name`` without its archive suffix; None when it has none. Raises nothing."""
    for suffix in ARCHIVE_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return None


def _checked_tar(
    tar: tarfile.TarFile, source: str, limits: Limits | None, archive_bytes: int | None
) -> list[tarfile.TarInfo]:
    """All members of ``tar`` once the policy passed them (links allowed when they
    stay inside), read to the end of the stream. Raises UnsafeArchiveError."""
    members: list[tarfile.TarInfo] = []

    def read() -> Iterator[Member]:
        for info in tar:  # read as it goes: a bomb of headers stops at max_members
            members.append(info)
            yield tar_member(info)

    check_member_list(read(), source=source, links=True, limits=limits, archive_bytes=archive_bytes)
    if isinstance(tar.fileobj, _Gunzip):
        tar.fileobj.finish()  # the padding after the last member, and the CRC-32 check
    return members


def _checked_zip(
    zf: zipfile.ZipFile, source: str, limits: Limits | None, archive_bytes: int | None
) -> list[zipfile.ZipInfo]:
    """All members of ``zf`` once the policy passed them, with no links at all (zip
    files carry them in their Unix mode bits; model archives have no use for
    them). Raises UnsafeArchiveError."""
    infos = zf.infolist()
    members = (zip_member(i) for i in infos)
    check_member_list(
        members, source=source, links=False, limits=limits, archive_bytes=archive_bytes
    )
    return infos


@contextlib.contextmanager
def _reading(source: str) -> Iterator[None]:
    """Turn what a malformed archive makes tarfile, zipfile and the decompressors
    raise into UnsafeArchiveError; errors of the file system pass through."""
    try:
        yield
    except _FilterError as err:
        raise UnsafeArchiveError(f"{source}: {_one_line(err)}; refused") from err
    except (zipfile.BadZipFile, zipfile.LargeZipFile) as err:
        raise UnsafeArchiveError(f"{source}: not a readable zip archive: {_one_line(err)}") from err
    except _CORRUPT as err:
        raise UnsafeArchiveError(f"{source}: {_UNREADABLE}: {_one_line(err)}") from err
    except OSError as err:
        # gzip's BadGzipFile and bz2's "Invalid data stream" carry no errno; a
        # failing disk or file system does.
        if err.errno is not None or isinstance(err, HubtoolsError):
            raise
        raise UnsafeArchiveError(f"{source}: {_UNREADABLE}: {_one_line(err)}") from err


_UNREADABLE = "not a readable tar or zip archive"


def _one_line(err: Exception) -> str:
    return " ".join(str(err).split()) or type(err).__name__


class _Gunzip:
    """A gzip file inflated by zlib up to 1 MiB at a time, for tarfile to read as a
    plain tar. ``gzip.GzipFile`` reads 8 KiB per call and takes the GIL back after
    each one, so other threads hashing (``generate --jobs``) queued behind it.
    zlib's gzip mode checks each member's CRC-32 and length; members that follow
    one another read as one stream, zero padding after the last is allowed, as
    in ``gzip``. Seeking back starts over from the first byte."""

    STEP = 1 << 20

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._start()

    def _start(self) -> None:
        self._raw.seek(0)
        self._zlib = zlib.decompressobj(31)
        self._input = b""  # raw bytes read but not yet given to zlib
        self._buf, self._off, self._pos = b"", 0, 0

    def _inflate(self) -> bytes:
        """The next piece of the stream (at most STEP bytes); b"" at its end.
        Raises zlib.error or EOFError on a corrupt or cut stream."""
        while True:
            if self._zlib.eof:
                rest = (self._zlib.unused_data + self._input).lstrip(b"\0")
                while not rest:
                    more = self._raw.read(self.STEP)
                    if not more:
                        return b""
                    rest = more.lstrip(b"\0")
                self._zlib, self._input = zlib.decompressobj(31), rest
            data = self._zlib.unconsumed_tail or self._input or self._raw.read(self.STEP)
            self._input = b""
            if not data:
                raise EOFError("the gzip stream ends before its end-of-stream marker")
            out = self._zlib.decompress(data, self.STEP)
            if out:
                return out

    def read(self, size: int = -1) -> bytes:
        parts = []
        want = size if size >= 0 else None
        while want is None or want > 0:
            if self._off == len(self._buf):
                self._buf, self._off = self._inflate(), 0
                if not self._buf:
                    break
            end = len(self._buf) if want is None else min(len(self._buf), self._off + want)
            parts.append(self._buf[self._off : end])
            if want is not None:
                want -= end - self._off
            self._pos += end - self._off
            self._off = end
        return b"".join(parts)

    def tell(self) -> int:
        return self._pos

    def finish(self) -> None:
        """Inflate what is left, so that zlib checks the CRC-32 and length at the
        end of the stream. Raises zlib.error when they do not match."""
        while self._inflate():
            pass
        self._buf, self._off = b"", 0

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_CUR:
            offset += self._pos
        elif whence != os.SEEK_SET:
            raise OSError("a gzip stream can only seek from its start or where it is")
        if offset < self._pos:
            self._start()
        while self._pos < offset:  # skipped, not copied: tarfile seeks past member data
            if self._off == len(self._buf):
                self._buf, self._off = self._inflate(), 0
                if not self._buf:
                    break
            step = min(len(self._buf) - self._off, offset - self._pos)
            self._off += step
            self._pos += step
        return self._pos


def _open_tar(handle: BinaryIO, source: str) -> tarfile.TarFile:
    """``handle`` read as a tar file, plain or compressed (gzip, bzip2, xz)."""
    try:
        if handle.read(2) == b"\x1f\x8b":  # gzip, as test-data bundles are
            return tarfile.open(fileobj=cast("BinaryIO", _Gunzip(handle)), mode="r:")
        handle.seek(0)
        return tarfile.open(fileobj=handle, mode="r:*")
    except tarfile.ReadError as err:  # one line instead of tarfile's list of every method
        if isinstance(err.__context__, (zlib.error, EOFError)):  # a gzip that is corrupt
            raise UnsafeArchiveError(
                f"{source}: {_UNREADABLE}: {_one_line(err.__context__)}"
            ) from err
        raise UnsafeArchiveError(
            f"{source}: {_UNREADABLE}: neither zip nor tar (plain, gzip, bzip2 or xz)"
        ) from err


@contextlib.contextmanager
def _opened(path: Path, source: str) -> Iterator[tuple[BinaryIO, int, bool]]:
    """``path`` open for reading, its size, and whether it is a zip file (read
    from its bytes, not its name). Raises FileReadError when it is not a
    readable regular file."""
    with _open(path) as handle:
        size = os.fstat(handle.fileno()).st_size
        with _reading(source):
            is_zip = zipfile.is_zipfile(handle)
        handle.seek(0)
        yield handle, size, is_zip


def check_archive(path: Path, *, source: str | None = None, limits: Limits | None = None) -> None:
    """Judge the tar or zip file ``path`` as :func:`safe_extract` would, without
    writing anything: the tar headers are streamed to the end of the
    archive, and every zip member is read once to check its CRC.

    ``source`` names the archive in messages (default: the file's name).

    Raises:
        UnsafeArchiveError: a member or a limit the policy refuses, or a file
            that is not a readable tar or zip archive to its end.
        FileReadError: ``path`` is missing, not a regular file, or unreadable.
    """
    _judge(Path(path), source, limits, digest=False)


def judged_digest(path: Path, *, source: str | None = None, limits: Limits | None = None) -> Digest:
    """:func:`check_archive`, and the file's sha256 and size from the same read:
    each byte is hashed as the judging reads it, in file order, and what it
    did not reach is read at the end (a ``.tar.gz`` is read once).

    Raises:
        UnsafeArchiveError: as :func:`check_archive`.
        FileReadError: ``path`` is missing, not a regular file, or unreadable.
    """
    found = _judge(Path(path), source, limits, digest=True)
    assert found is not None
    return found


def _judge(path: Path, source: str | None, limits: Limits | None, *, digest: bool) -> Digest | None:
    name = source if source is not None else path.name
    with _opened(path, name) as (opened, size, is_zip), _reading(name):
        hashing = _Hashing(opened) if digest else None
        handle = opened if hashing is None else cast("BinaryIO", hashing)
        if is_zip:
            with zipfile.ZipFile(handle) as zf:
                for info in _checked_zip(zf, name, limits, size):
                    if not info.is_dir():
                        with zf.open(info) as member:  # the CRC is checked at its end
                            while member.read(1 << 20):
                                pass
        else:
            with _open_tar(handle, name) as tar:
                _checked_tar(tar, name, limits, size)
        return None if hashing is None else hashing.finish()


class _Hashing:
    """A file being judged, hashed on the way: a read that reaches the first byte
    not yet hashed hashes it and what follows; a read elsewhere (a zip's
    directory at the end, a member read twice) is not hashed then, and
    :meth:`finish` reads what no read reached."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self._sha = hashlib.sha256()
        self._hashed = 0

    def read(self, size: int = -1) -> bytes:
        at = self._handle.tell()
        data = self._handle.read(size)
        if at <= self._hashed < at + len(data):
            self._sha.update(memoryview(data)[self._hashed - at :])
            self._hashed = at + len(data)
        return data

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._handle.seek(offset, whence)

    def tell(self) -> int:
        return self._handle.tell()

    def seekable(self) -> bool:
        return self._handle.seekable()

    def finish(self) -> Digest:
        """The sha256 and size of the whole file, reading what was not hashed."""
        self._handle.seek(self._hashed)
        while chunk := self._handle.read(1 << 20):
            self._sha.update(chunk)
            self._hashed += len(chunk)
        return Digest(self._sha.hexdigest(), self._hashed, lfs_pointer=False)


def _extract_zip(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], temp: Path) -> None:
    for info in infos:
        target = temp.joinpath(*[p for p in info.filename.split("/") if p not in ("", ".")])
        if info.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        # zipfile stops at the declared size and checks the CRC, so a member
        # cannot write more than the policy counted.
        with zf.open(info) as src, target.open("xb") as out:
            shutil.copyfileobj(src, out, 1 << 20)


def find_model_folder(root: Path) -> Path:
    """The folder under ``root`` that holds ``test_data_set_*`` (or else an ``.onnx`` file).

    Falls back to the single top-level folder, then to ``root`` itself.
    Raises nothing.
    """
    for folder in sorted([root, *(p for p in root.rglob("*") if p.is_dir())]):
        if any(p.is_dir() for p in folder.glob("test_data_set_*")):
            return folder
    for folder in sorted([root, *(p for p in root.rglob("*") if p.is_dir())]):
        if any(p.is_file() for p in folder.glob("*.onnx")):
            return folder
    tops = [p for p in root.iterdir() if p.is_dir()]
    return tops[0] if len(tops) == 1 else root


def safe_extract(
    archive: Path,
    dest: Path,
    *,
    max_members: int | None = None,
    max_bytes: int | None = None,
    limits: Limits | None = None,
) -> Path:
    """Extract the tar or zip ``archive`` into the new folder ``dest`` and return ``dest``.

    The format is read from the file's first bytes, not its name. Checks
    every member first (the policy of :func:`check_archive`, under
    ``limits``, default :data:`~hubtools.core.archive_policy.DEFAULT_LIMITS`; ``max_members`` and
    ``max_bytes`` override those two), extracts into a temporary folder
    beside ``dest`` and renames it; when ``dest`` already exists it is
    replaced. Raises :class:`~hubtools.errors.UnsafeArchiveError` for a
    member or limit the policy refuses (nothing is written then) or a file
    that is not a readable tar or zip archive, FileReadError when the
    archive cannot be opened, and OSError on a write failure.
    """
    source = archive.name
    chosen = limits or archive_policy.DEFAULT_LIMITS  # read now: settings may replace it
    chosen = Limits(
        max_members if max_members is not None else chosen.max_members,
        max_bytes if max_bytes is not None else chosen.max_bytes,
        chosen.max_ratio,
        chosen.ratio_exempt_bytes,
    )
    with _opened(archive, source) as (handle, size, is_zip), _reading(source):
        if is_zip:
            with zipfile.ZipFile(handle) as zf:
                infos = _checked_zip(zf, source, chosen, size)
                _into_place(dest, lambda temp: _extract_zip(zf, infos, temp))
        else:
            with _open_tar(handle, source) as tar:
                members = _checked_tar(tar, source, chosen, size)

                def extract(temp: Path) -> None:
                    if hasattr(tarfile, "data_filter"):
                        tar.extractall(temp, members=members, filter="data")
                    else:  # pragma: no cover - Python without the filter; members are checked
                        tar.extractall(temp, members=members)

                _into_place(dest, extract)
    log.debug("extracted %s into %s", archive, dest)
    return dest


def _apply_umask(root: Path) -> None:
    """Give ``root`` and everything extracted into it the modes the umask gives,
    as ``tar`` does for a user: mkdtemp makes the folder private and tar members
    carry their own modes, and neither suits a cache that other users share."""
    file_mode, dir_mode = default_mode(), default_mode(directory=True)
    os.chmod(root, dir_mode)
    for folder, dirs, files in os.walk(root):
        for names, mode in ((dirs, dir_mode), (files, file_mode)):
            for name in names:
                path = os.path.join(folder, name)
                if not os.path.islink(path):  # a link's own mode means nothing
                    os.chmod(path, mode)


def _into_place(dest: Path, extract: Callable[[Path], None]) -> None:
    """Run ``extract`` on a temporary folder beside ``dest``, then rename it to ``dest``."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        extract(temp)
        _apply_umask(temp)
        if dest.exists():
            old = dest.with_name(f".{dest.name}.{os.getpid()}.old")
            os.replace(dest, old)
            shutil.rmtree(old, ignore_errors=True)
        os.replace(temp, dest)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def find_single_model(root: Path, source: str) -> Path:
    """The one ``.onnx`` file anywhere under ``root`` (an extracted model archive).

    Raises :class:`~hubtools.errors.ArchiveLayoutError` (a ModelNotFoundError)
    when there is none or more than one, listing what was found.
    """
    found = sorted(p for p in root.rglob("*.onnx") if p.is_file() and not p.is_symlink())
    if len(found) == 1:
        return found[0]
    if not found:
        raise ArchiveLayoutError(f"{source}: the archive holds no .onnx file; it cannot be loaded")
    names = ", ".join(str(p.relative_to(root)) for p in found[:10])
    raise ArchiveLayoutError(
        f"{source}: the archive holds {len(found)} .onnx files ({names}); expected one, "
        "so hubtools cannot tell which is the model"
    )
