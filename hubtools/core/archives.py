"""The one archive policy, and safe extraction of tarballs and zip files (the fix
for CVE-2024-5187 and its kind): test-data tarballs and model archives (a
``.tar.gz`` or ``.zip`` holding an ``.onnx`` file and its external data) are
judged member by member before anything is written, by :func:`check_archive`
(which only reads, for ``validate --repo`` and ``inspect``) and by
:func:`safe_extract` (the client), so every command gives the same verdict.
Refused: a name that is absolute, climbs out with ``..``, holds a NUL, a
backslash or a lone surrogate, or is longer than a file system allows (the
rules of :mod:`hubtools.core.paths`); a device, FIFO or socket; a symlink or
hard link that leads out of the folder or through another link (zip files may
hold no links at all); a hard link to anything but a file listed before it; a
file named ``.`` or ending in ``/``; a name listed twice (a folder may be);
a member inside a file or link; an encrypted zip member or an unknown
compression method; content that cannot be read to its end (a truncated or
corrupt stream, a zip CRC that does not match); and more than :class:`Limits`
allow. The default limits are 100,000 members (the folders their paths imply
count too), 16 GiB of content in all, and content at most 200 times the
archive's size once it passes 64 MiB: model archives of float weights expand
about 1.1 times and test data a few times, while a gzip bomb expands about
1,000 times, and the 64 MiB leave small archives of zeros alone. Tar
extraction also uses tarfile's ``data`` filter where Python has it (3.10.12+,
3.11.4+) and zip members are written one by one as plain files and folders,
either way into a temporary folder beside the destination that is renamed
into place, so a half-extracted folder never sits under the final name.
"""

from __future__ import annotations

import contextlib
import logging
import lzma
import os
import posixpath
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, NoReturn

from hubtools.core.files import _open, default_mode
from hubtools.core.paths import quote_path, unsafe_reason
from hubtools.errors import ArchiveLayoutError, HubtoolsError, UnsafeArchiveError

log = logging.getLogger(__name__)

MAX_MEMBERS = 100_000
MAX_TOTAL_BYTES = 16 << 30
MAX_RATIO = 200.0
RATIO_EXEMPT_BYTES = 64 << 20
# tarfile.FilterError exists only where the extraction filters do.
_FilterError: type[Exception] = getattr(tarfile, "FilterError", tarfile.TarError)
# What a malformed tar file or compressed stream raises, besides zipfile's own
# errors (gzip and bz2 also raise an OSError without an errno: see _reading).
_CORRUPT: tuple[type[Exception], ...] = (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError)
_ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)


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


@dataclass(frozen=True)
class Limits:
    """How much one archive may hold (see the module's docstring for the defaults).

    ``max_members`` counts members and the folders their paths imply;
    ``max_bytes`` is the content of all files together; ``max_ratio`` is the
    most content per byte of the archive file, applied once the content
    passes ``ratio_exempt_bytes``.
    """

    max_members: int = MAX_MEMBERS
    max_bytes: int = MAX_TOTAL_BYTES
    max_ratio: float = MAX_RATIO
    ratio_exempt_bytes: int = RATIO_EXEMPT_BYTES


#: The limits :func:`check_archive`, :func:`safe_extract` and
#: :func:`check_member_list` apply when they are given none.
DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Member:
    """An archive member as the extraction policy sees it, whatever the format.

    ``kind`` is ``file``, ``dir``, ``symlink``, ``hardlink``, ``special``
    (device, FIFO, socket) or ``other``; ``size`` counts the bytes extraction
    writes (a file's); ``link`` is a link's target; ``unreadable`` says why
    the content cannot be read (an encrypted zip member, an unknown method).
    """

    name: str
    kind: str
    size: int
    link: str = ""
    unreadable: str = ""


def _tar_member(info: tarfile.TarInfo) -> Member:
    if info.issym():
        kind = "symlink"
    elif info.islnk():
        kind = "hardlink"
    elif info.isdev() or info.isfifo():
        kind = "special"
    elif info.isfile() or info.isdir():
        kind = "file" if info.isfile() else "dir"
    else:
        kind = "other"
    return Member(info.name, kind, max(info.size, 0) if kind == "file" else 0, info.linkname)


def _zip_member(info: zipfile.ZipInfo) -> Member:
    mode = stat.S_IFMT(info.external_attr >> 16)  # 0 when no Unix mode was stored
    if mode == stat.S_IFLNK:
        kind = "symlink"
    elif mode not in (0, stat.S_IFREG, stat.S_IFDIR):
        kind = "special"
    else:
        kind = "dir" if info.is_dir() else "file"
    unreadable = ""
    if info.flag_bits & 0x1:
        unreadable = "is encrypted"
    elif info.compress_type not in _ZIP_METHODS:
        unreadable = f"uses compression method {info.compress_type}, which hubtools cannot read"
    size = max(info.file_size, 0) if kind != "dir" else 0
    return Member(info.filename, kind, size, unreadable=unreadable)


_OUTSIDE = ("leaves its folder", "is absolute", "has a URL scheme or drive letter")


def _member_problem(name: str) -> str | None:
    """Why an archive member name cannot be extracted (the one path policy)."""
    reason = unsafe_reason(name, strict=False)
    if reason in _OUTSIDE[1:]:
        return "has an absolute path"
    if reason == "leaves its folder":
        return "leaves the extraction folder"
    return reason


def _link_refusal(what: str, link: str, target: str) -> str | None:
    """Why a link to ``link`` (``target`` from the folder's root) cannot be made, or None."""
    reason = "is absolute" if link.startswith("/") else unsafe_reason(target, strict=False)
    if reason is None:
        return None
    if reason in _OUTSIDE:
        return f"is a {what} to {quote_path(link)}, outside the folder"
    return f"is a {what} to {quote_path(link)}, which {reason}"


def _member_refusal(member: Member, *, links: bool) -> str | None:
    """Why one member cannot be extracted, judged alone (None when it can);
    ``links`` allows symlinks and hard links that stay inside the folder."""
    problem = _member_problem(member.name)
    if problem:
        return problem
    if member.kind != "dir" and posixpath.basename(member.name) in ("", ".", ".."):
        return f"is a {member.kind} with the name of a folder"
    if member.kind == "special":
        return "is a device, FIFO or socket"
    if member.kind == "other":
        return "is not a file, folder or link"
    if member.unreadable:
        return member.unreadable
    if member.kind == "symlink":
        if not links:
            return "is a symlink"
        if not member.link:
            return "is a symlink to nothing"
        target = posixpath.join(posixpath.dirname(member.name), member.link)
        return _link_refusal("symlink", member.link, target)
    if member.kind == "hardlink":
        return _link_refusal("hard link", member.link, member.link)
    return None


class _Node:
    """A path of the archive: its kind, whether a member lists it (or only its
    children imply it), and what is inside it."""

    __slots__ = ("children", "kind", "listed")

    def __init__(self, kind: str, listed: bool) -> None:
        self.kind = kind
        self.listed = listed
        self.children: dict[str, _Node] = {}


def _parts(path: str) -> list[str]:
    return [p for p in path.split("/") if p not in ("", ".")]


class _Policy:
    """The policy over one archive's members in order: each member alone, then
    how it fits with the others (a tree of every path, so each check costs
    the length of one name), then the limits."""

    def __init__(self, source: str, links: bool, limits: Limits, archive_bytes: int | None) -> None:
        self.source, self.links, self.limits = source, links, limits
        self.archive_bytes = archive_bytes
        self.root = _Node("dir", listed=True)
        self.paths = 0
        self.total = 0
        self.symlinks: list[tuple[Member, list[str]]] = []

    def refuse(self, member: Member, why: str) -> NoReturn:
        raise UnsafeArchiveError(f"{self.source}: member {quote_path(member.name)} {why}; refused")

    def add(self, member: Member) -> None:
        refusal = _member_refusal(member, links=self.links)
        if refusal:
            self.refuse(member, refusal)
        if member.kind == "hardlink":
            self._check_hard_link(member)
        self._place(member)
        if member.kind == "symlink":
            parts = _parts(posixpath.join(posixpath.dirname(member.name), member.link))
            self.symlinks.append((member, parts))  # judged at the end: links may come later
        self._count_bytes(member.size)

    def _count_paths(self, n: int) -> None:
        self.paths += n
        if self.paths > self.limits.max_members:
            raise UnsafeArchiveError(
                f"{self.source}: more than {self.limits.max_members} members "
                "(with the folders they imply); refused"
            )

    def _place(self, member: Member) -> None:
        """Put ``member`` in the tree: refuse it inside a non-folder, twice, or
        as a non-folder where other members are inside it."""
        parts = _parts(posixpath.normpath(member.name))
        node, new = self.root, 1
        for depth, part in enumerate(parts[:-1]):
            child = node.children.get(part)
            if child is None:
                child = node.children[part] = _Node("dir", listed=False)
                new += 1
            elif child.kind != "dir":
                inside = "/".join(parts[: depth + 1])
                self.refuse(member, f"is inside {quote_path(inside)}, which is a {child.kind}")
            node = child
        self._count_paths(new)
        if not parts:  # the folder itself: "." or "./"
            return
        existing = node.children.get(parts[-1])
        if existing is None:
            node.children[parts[-1]] = _Node(member.kind, listed=True)
        elif existing.listed and not (existing.kind == member.kind == "dir"):
            self.refuse(member, "is listed twice in the archive")
        elif existing.kind == "dir" and member.kind != "dir":
            self.refuse(member, f"is a {member.kind}, but other members are inside it")
        else:
            existing.listed = True

    def _find(self, parts: list[str]) -> _Node | None:
        node: _Node | None = self.root
        for part in parts:
            node = node.children.get(part) if node is not None else None
        return node

    def _check_hard_link(self, member: Member) -> None:
        target = self._find(_parts(posixpath.normpath(member.link)))
        if target is None or not target.listed or target.kind not in ("file", "hardlink"):
            self.refuse(
                member,
                f"is a hard link to {quote_path(member.link)}, not to a file listed before it",
            )

    def _count_bytes(self, size: int) -> None:
        self.total += size
        limits = self.limits
        if self.total > limits.max_bytes:
            raise UnsafeArchiveError(
                f"{self.source}: content larger than {limits.max_bytes} bytes; refused"
            )
        if (
            self.archive_bytes is not None
            and self.total > limits.ratio_exempt_bytes
            and self.total > limits.max_ratio * max(self.archive_bytes, 1)
        ):
            ratio = self.total / max(self.archive_bytes, 1)
            raise UnsafeArchiveError(
                f"{self.source}: content of {self.total} bytes or more is {ratio:.0f} times the "
                f"archive's {self.archive_bytes} bytes, more than the {limits.max_ratio:g} "
                "allowed (a decompression bomb); refused"
            )

    def finish(self) -> None:
        """Judge the symlinks against the whole tree: a link whose target passes
        through another symlink may resolve elsewhere than its name says."""
        for member, parts in self.symlinks:
            stack: list[_Node | None] = [self.root]
            for i, part in enumerate(parts):
                if part == "..":
                    if len(stack) > 1:  # always: the target stays inside (checked)
                        stack.pop()
                    continue
                here = stack[-1]
                child = here.children.get(part) if here is not None else None
                if child is not None and child.kind == "symlink" and i < len(parts) - 1:
                    self.refuse(
                        member,
                        f"is a symlink to {quote_path(member.link)}, through another symlink",
                    )
                stack.append(child)


def check_member_list(
    members: Iterable[Member],
    *,
    source: str,
    links: bool,
    limits: Limits | None = None,
    archive_bytes: int | None = None,
) -> None:
    """The one extraction policy, applied to every member in turn (see the
    module's docstring for what it refuses); ``links`` allows links that stay
    inside the folder, and ``archive_bytes`` (the archive file's size) turns
    on the ratio limit.

    Raises :class:`~hubtools.errors.UnsafeArchiveError` naming the first
    member refused, or the limit passed.
    """
    policy = _Policy(source, links, limits or DEFAULT_LIMITS, archive_bytes)
    for member in members:
        policy.add(member)
    policy.finish()


def _checked_tar(
    tar: tarfile.TarFile, source: str, limits: Limits | None, archive_bytes: int | None
) -> list[tarfile.TarInfo]:
    """All members of ``tar`` once the policy passed them (links allowed when they
    stay inside), read to the end of the stream. Raises UnsafeArchiveError."""
    members: list[tarfile.TarInfo] = []

    def read() -> Iterator[Member]:
        for info in tar:  # read as it goes: a bomb of headers stops at max_members
            members.append(info)
            yield _tar_member(info)

    check_member_list(read(), source=source, links=True, limits=limits, archive_bytes=archive_bytes)
    return members


def _checked_zip(
    zf: zipfile.ZipFile, source: str, limits: Limits | None, archive_bytes: int | None
) -> list[zipfile.ZipInfo]:
    """All members of ``zf`` once the policy passed them, with no links at all (zip
    files carry them in their Unix mode bits; model archives have no use for
    them). Raises UnsafeArchiveError."""
    infos = zf.infolist()
    members = (_zip_member(i) for i in infos)
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


def _open_tar(handle: BinaryIO, source: str) -> tarfile.TarFile:
    """``handle`` read as a tar file, plain or compressed (gzip, bzip2, xz)."""
    try:
        return tarfile.open(fileobj=handle, mode="r:*")
    except tarfile.ReadError as err:  # one line instead of tarfile's list of every method
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
    name = source if source is not None else Path(path).name
    with _opened(Path(path), name) as (handle, size, is_zip), _reading(name):
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
    ``limits``, default :data:`DEFAULT_LIMITS`; ``max_members`` and
    ``max_bytes`` override those two), extracts into a temporary folder
    beside ``dest`` and renames it; when ``dest`` already exists it is
    replaced. Raises :class:`~hubtools.errors.UnsafeArchiveError` for a
    member or limit the policy refuses (nothing is written then) or a file
    that is not a readable tar or zip archive, FileReadError when the
    archive cannot be opened, and OSError on a write failure.
    """
    source = archive.name
    chosen = limits or DEFAULT_LIMITS
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
