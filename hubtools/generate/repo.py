"""A model repository on disk: its tracked files, what changed since a ref,
README links turned into safe POSIX paths relative to the repository root, and
which of its files generate may open (:func:`repo_file`). It must not read file
contents or write anything, and it refuses a link that leaves the root (by
``..`` or through a symlink) instead of resolving it.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hubtools.core.files import not_regular
from hubtools.core.paths import resolve_inside
from hubtools.errors import (
    HubtoolsError,
    LinkError,
    LinkEscapesError,
    LinkIsURLError,
    Location,
    Problem,
    Severity,
    UsageError,
)

if TYPE_CHECKING:
    import git

__all__ = [
    "ChangeSet",
    "RepoFiles",
    "changed_since",
    "list_files",
    "repo_file",
    "resolve_link",
]

_SKIP_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", ".mypy_cache", ".pytest_cache"})


@dataclass(frozen=True)
class RepoFiles:
    """The files of a repository: POSIX paths relative to ``root``."""

    root: Path
    files: frozenset[str]
    is_git: bool

    def __contains__(self, path: object) -> bool:
        return path in self.files


@dataclass(frozen=True)
class ChangeSet:
    """Files changed between a ref and the working tree, as POSIX paths.

    A rename appears as ``(old, new)`` in ``renamed``; :attr:`touched` is every
    path whose content or existence may differ from the ref.
    """

    added: frozenset[str] = frozenset()
    modified: frozenset[str] = frozenset()
    deleted: frozenset[str] = frozenset()
    renamed: tuple[tuple[str, str], ...] = ()

    @property
    def touched(self) -> frozenset[str]:
        """All paths added, modified, deleted, or on either side of a rename."""
        paths = set(self.added | self.modified | self.deleted)
        for old, new in self.renamed:
            paths.update((old, new))
        return frozenset(paths)


def _may_be_in_git(root: Path) -> bool:
    """False only when git itself could not see ``root`` as inside a work tree:
    no ``.git`` in it or any folder above, and no ``GIT_DIR`` in the environment.

    It lets a plain folder skip importing gitpython (~60 ms); anything that
    might be a repository is left to gitpython to decide.
    """
    if "GIT_DIR" in os.environ:
        return True
    folder = Path(os.path.abspath(root))
    return any(os.path.exists(f / ".git") for f in (folder, *folder.parents))


def _open_repo(root: Path) -> git.Repo | None:
    if not _may_be_in_git(root):
        return None
    import git  # here, not at the top: see _may_be_in_git

    try:
        return git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None


def list_files(root: Path) -> RepoFiles:
    """The tracked files under ``root`` (a plain walk when it is not in a git repository).

    Files are the ones git tracks (``git ls-files`` through gitpython), so build
    outputs and stray downloads never leak into a manifest; the result's
    ``is_git`` says whether git listed them, so the caller can tell the user
    once. ``root`` may be a sub-folder of a repository; paths are relative to it.
    Raises :class:`~hubtools.errors.UsageError` when ``root`` is not a folder,
    and :class:`~hubtools.errors.HubtoolsError` when git cannot list the files.
    """
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"{root}: not a folder; give the model repository's root folder")
    repo = _open_repo(root)
    if repo is None or repo.bare:
        return RepoFiles(root=root, files=frozenset(_walk(root)), is_git=False)
    import git

    try:
        # -z: names verbatim (no quoting of non-ASCII); cwd=root: paths relative to it.
        out = git.Git(str(root)).ls_files("-z")
    except git.GitCommandError as err:
        raise HubtoolsError(f"{root}: git ls-files failed: {err}") from err
    return RepoFiles(root=root, files=frozenset(p for p in out.split("\0") if p), is_git=True)


def _walk(root: Path) -> list[str]:
    found: list[str] = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
        rel = Path(folder).relative_to(root).as_posix()
        for name in names:
            found.append(name if rel == "." else f"{rel}/{name}")
    return found


def changed_since(root: Path, ref: str) -> ChangeSet:
    """What changed under ``root`` between ``ref`` and the working tree (with renames).

    Uncommitted edits count. Raises :class:`~hubtools.errors.UsageError` when
    ``root`` is not in a git repository or ``ref`` is not a known revision.
    """
    root = Path(root)
    repo = _open_repo(root)
    if repo is None:
        raise UsageError(f"{root}: --changed-since needs a git repository; run a full generate")
    import git

    try:
        repo.commit(ref)
    except (git.BadName, ValueError, git.GitCommandError) as err:
        raise UsageError(f"{ref!r} is not a known git revision in {root}: {err}") from err
    try:
        # --relative: paths relative to the cwd (root), and nothing outside it.
        out = git.Git(str(root)).diff("--name-status", "-z", "-M", "--relative", ref, "--")
    except git.GitCommandError as err:
        raise HubtoolsError(f"{root}: git diff {ref} failed: {err}") from err
    added: set[str] = set()
    modified: set[str] = set()
    deleted: set[str] = set()
    renamed: list[tuple[str, str]] = []
    fields = [f for f in out.split("\0") if f]
    i = 0
    while i < len(fields):
        status = fields[i]
        if status[0] in "RC":
            old, new = fields[i + 1], fields[i + 2]
            if status[0] == "R":
                renamed.append((old, new))
            else:
                added.add(new)
            i += 3
            continue
        path = fields[i + 1]
        if status[0] == "A":
            added.add(path)
        elif status[0] == "D":
            deleted.add(path)
        else:
            modified.add(path)
        i += 2
    return ChangeSet(
        added=frozenset(added),
        modified=frozenset(modified),
        deleted=frozenset(deleted),
        renamed=tuple(sorted(renamed)),
    )


def resolve_link(root: Path, base: str, href: str) -> str:
    """The repository path a README link points to.

    ``base`` is the POSIX folder of the README (``""`` for the root); ``href``
    is the link target, relative to it, or starting with ``/`` for the
    repository root. A ``#fragment`` or ``?query`` is dropped. Raises
    :class:`~hubtools.errors.LinkIsURLError` when ``href`` is a URL,
    :class:`~hubtools.errors.LinkEscapesError` when it leaves the repository
    (``..`` past the root) or reaches outside it through a symlink, and
    :class:`~hubtools.errors.LinkError` when it has no file part.
    """
    target = href.split("#", 1)[0].split("?", 1)[0].strip()
    if not target:
        raise LinkError(f"link {href!r} has no file part")
    if "://" in target or target.startswith(("mailto:", "//")):
        raise LinkIsURLError(f"link {href!r} is a URL, not a file in the repository")
    joined = target.lstrip("/") if target.startswith("/") else posixpath.join(base, target)
    path = posixpath.normpath(joined)
    if path == ".." or path.startswith("../") or posixpath.isabs(path):
        raise LinkEscapesError(f"link {href!r} leaves the repository")
    if path == ".":
        path = ""
    if resolve_inside(root, path) is None:
        raise LinkEscapesError(f"link {href!r} reaches outside the repository through a symlink")
    return path


def repo_file(root: Path, rel: str, outcome: str = "the entry was skipped") -> Path | Problem:
    """``root/rel`` when generate may open it, else the warning that it may not.

    A repository comes from strangers, and git commits symlinks as links: a
    file is opened only when, every symlink on the way followed, it stays
    inside ``root`` (:func:`~hubtools.core.paths.resolve_inside`) and is a
    regular file. Else the warning, at ``rel``, is ``link-outside`` (the
    target is not named: it is not the repository's to publish) or
    ``not-a-regular-file`` (a FIFO would block the run, a device never ends);
    ``outcome`` says what the caller skipped. A missing file is returned as
    is, for the reader to report as it reports any file it cannot read.

    Only stats; never opens anything. The caller opens the path again, so a
    link retargeted in between by another process would be followed: that
    needs a process on the machine, which a committed repository is not, and
    the opening itself still refuses a FIFO or device without blocking.
    """
    if resolve_inside(root, rel) is None:
        return Problem(
            "link-outside",
            f"is a symlink that leads outside the repository; it was not read and {outcome}",
            Location(rel),
            Severity.WARNING,
            "commit the file itself, or point the link at a file inside the repository",
        )
    path = root / rel
    try:
        kind = not_regular(os.stat(path).st_mode)
    except OSError:
        return path
    if kind is None:
        return path
    return Problem(
        "not-a-regular-file",
        f"is {kind}, not a regular file; it was not read and {outcome}",
        Location(rel),
        Severity.WARNING,
        "commit the content as a regular file",
    )
