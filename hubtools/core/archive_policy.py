"""The one archive policy, as data: what an archive member may be and how much
an archive may hold, judged member by member over :class:`Member` values so
tar and zip get the same verdicts. It reads no file; :mod:`hubtools.core.archives`
feeds it members and extracts.

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
1,000 times, and the 64 MiB leave small archives of zeros alone.
"""

from __future__ import annotations

import posixpath
import stat
import tarfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NoReturn

from hubtools.core.paths import quote_path, unsafe_reason
from hubtools.errors import UnsafeArchiveError

MAX_MEMBERS = 100_000
MAX_TOTAL_BYTES = 16 << 30
MAX_RATIO = 200.0
RATIO_EXEMPT_BYTES = 64 << 20
_ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)


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


def tar_member(info: tarfile.TarInfo) -> Member:
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


def zip_member(info: zipfile.ZipInfo) -> Member:
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
