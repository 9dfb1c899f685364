"""Safe extraction of tarballs and zip files (the fix for CVE-2024-5187 and its kind).

Used for test-data tarballs and for model archives (a ``.tar.gz`` or ``.zip``
holding an ``.onnx`` file and its external data). Every member is checked
before anything is written: no absolute paths, no ``..``, no links that leave
the folder, no devices or FIFOs, and limits on member count and total size.
Tar extraction then uses tarfile's ``data`` filter where Python has it
(3.10.12+, 3.11.4+); zip members are written one by one as plain files and
folders. Either way extraction goes into a temporary folder beside the
destination and is renamed into place, so a half-extracted folder never sits
under the final name.
"""

from __future__ import annotations

import logging
import os
import posixpath
import shutil
import stat
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from hubtools.core.files import default_mode
from hubtools.core.paths import unsafe_reason
from hubtools.errors import ArchiveLayoutError, UnsafeArchiveError

log = logging.getLogger(__name__)

MAX_MEMBERS = 100_000
MAX_TOTAL_BYTES = 16 << 30
# tarfile.FilterError exists only where the extraction filters do.
_FilterError: type[Exception] = getattr(tarfile, "FilterError", tarfile.TarError)


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


def _member_problem(name: str) -> str | None:
    """Why an archive member name cannot be extracted (the one path policy)."""
    reason = unsafe_reason(name, strict=False)
    if reason in ("is absolute", "has a URL scheme or drive letter"):
        return "has an absolute path"
    return None if reason is None else "leaves the extraction folder"


def _link_leaves(target: str) -> bool:
    """True when a link whose target path (from the folder's root) is ``target`` leads out."""
    return target.startswith("/") or unsafe_reason(target, strict=False) is not None


@dataclass(frozen=True)
class Member:
    """An archive member as the extraction policy sees it, whatever the format.

    ``kind`` is ``file``, ``dir``, ``symlink``, ``hardlink``, ``special``
    (device, FIFO, socket) or ``other``; ``link`` is a link's target.
    """

    name: str
    kind: str
    size: int
    link: str = ""


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
    return Member(info.name, kind, max(info.size, 0), info.linkname)


def _zip_member(info: zipfile.ZipInfo) -> Member:
    mode = stat.S_IFMT(info.external_attr >> 16)  # 0 when no Unix mode was stored
    if mode == stat.S_IFLNK:
        kind = "symlink"
    elif mode not in (0, stat.S_IFREG, stat.S_IFDIR):
        kind = "special"
    else:
        kind = "dir" if info.is_dir() else "file"
    return Member(info.filename, kind, max(info.file_size, 0))


def _member_refusal(member: Member, *, links: bool) -> str | None:
    """Why one member cannot be extracted (None when it can); ``links`` allows
    symlinks and hard links that stay inside the folder."""
    problem = _member_problem(member.name)
    if problem:
        return problem
    if member.kind == "special":
        return "is a device, FIFO or socket"
    if member.kind == "symlink":
        if not links:
            return "is a symlink"
        target = posixpath.join(posixpath.dirname(member.name), member.link)
        if member.link.startswith("/") or _link_leaves(target):
            return f"is a symlink to {member.link!r}, outside the folder"
    elif member.kind == "hardlink" and _link_leaves(member.link):
        return f"is a hard link to {member.link!r}, outside the folder"
    elif member.kind == "other":
        return "is not a file, folder or link"
    return None


@dataclass(frozen=True)
class Limits:
    """How much one archive may hold: members and bytes of content."""

    max_members: int = MAX_MEMBERS
    max_bytes: int = MAX_TOTAL_BYTES


def check_member_list(
    members: Iterable[Member], *, source: str, links: bool, limits: Limits = Limits()
) -> None:
    """The one extraction policy, applied to every member in turn.

    Raises :class:`~hubtools.errors.UnsafeArchiveError` naming the first
    member that is absolute, climbs out with ``..``, is a device, FIFO or
    socket, is a link (with ``links``: a link pointing out of the folder), or
    when there are more members or bytes of content than ``limits`` allow.
    """
    total = 0
    for count, member in enumerate(members, 1):
        if count > limits.max_members:
            raise UnsafeArchiveError(f"{source}: more than {limits.max_members} members; refused")
        refusal = _member_refusal(member, links=links)
        if refusal:
            raise UnsafeArchiveError(f"{source}: member {member.name!r} {refusal}; refused")
        total += member.size
        if total > limits.max_bytes:
            raise UnsafeArchiveError(
                f"{source}: content larger than {limits.max_bytes} bytes; refused"
            )


def _checked_tar(tar: tarfile.TarFile, source: str, limits: Limits) -> list[tarfile.TarInfo]:
    """All members of ``tar`` once the policy passed them (links allowed when they
    stay inside). Raises UnsafeArchiveError."""
    members: list[tarfile.TarInfo] = []

    def read() -> Iterator[Member]:
        for info in tar:  # read as it goes: a bomb of headers stops at max_members
            members.append(info)
            yield _tar_member(info)

    check_member_list(read(), source=source, links=True, limits=limits)
    return members


def _checked_zip(zf: zipfile.ZipFile, source: str, limits: Limits) -> list[zipfile.ZipInfo]:
    """All members of ``zf`` once the policy passed them, with no links at all (zip
    files carry them in their Unix mode bits; model archives have no use for
    them). Raises UnsafeArchiveError."""
    infos = zf.infolist()
    check_member_list((_zip_member(i) for i in infos), source=source, links=False, limits=limits)
    return infos


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
    max_members: int = MAX_MEMBERS,
    max_bytes: int = MAX_TOTAL_BYTES,
) -> Path:
    """Extract the tar or zip ``archive`` into the new folder ``dest`` and return ``dest``.

    The format is read from the file's first bytes, not its name. Checks
    every member first (see :func:`check_member_list`), extracts into a
    temporary folder beside
    ``dest`` and renames it; when ``dest`` already exists it is replaced.
    Raises :class:`~hubtools.errors.UnsafeArchiveError` for an unsafe member
    (nothing is written then), or when the file is neither a readable tar nor
    zip archive, and OSError on a write failure.
    """
    source = archive.name
    limits = Limits(max_members, max_bytes)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                infos = _checked_zip(zf, source, limits)
                _into_place(dest, lambda temp: _extract_zip(zf, infos, temp))
        else:
            with tarfile.open(archive, "r:*") as tar:
                members = _checked_tar(tar, source, limits)

                def extract(temp: Path) -> None:
                    if hasattr(tarfile, "data_filter"):
                        tar.extractall(temp, members=members, filter="data")
                    else:  # pragma: no cover - Python without the filter; members are checked
                        tar.extractall(temp, members=members)

                _into_place(dest, extract)
    except _FilterError as err:
        raise UnsafeArchiveError(f"{source}: {err}; refused") from err
    except (tarfile.TarError, EOFError) as err:
        raise UnsafeArchiveError(f"{source}: not a readable tar or zip archive: {err}") from err
    except (zipfile.BadZipFile, zipfile.LargeZipFile) as err:
        raise UnsafeArchiveError(f"{source}: not a readable zip archive: {err}") from err
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
