"""The one policy for relative paths that come from untrusted input.

Manifest paths (``model_path``, ``model_with_data_path``), archive members,
external-data locations and README links are all relative POSIX paths that
must stay inside the folder they are joined to and that a filesystem can hold
(parts of at most 255 bytes and 4096 bytes in all, in UTF-8, as Linux and
macOS allow). Every module asks here, so a backslash, a drive letter, a ``..``
or a 300-byte name means the same thing everywhere. This module only judges
strings and resolves paths; it never opens a file.
"""

from __future__ import annotations

import os
import posixpath
import re
from pathlib import Path, PurePosixPath

from hubtools.errors import UnsafePathError

__all__ = [
    "MAX_PART_BYTES",
    "MAX_PATH_BYTES",
    "check_relative_path",
    "check_sha",
    "quote_path",
    "resolve_inside",
    "unsafe_reason",
]

#: The longest file or folder name, in UTF-8 bytes (NAME_MAX on Linux and macOS).
MAX_PART_BYTES = 255
#: The longest relative path, in UTF-8 bytes (PATH_MAX on Linux).
MAX_PATH_BYTES = 4096

_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
#: A path every rule accepts, told in one match (as most manifest paths are):
#: ASCII name characters only, no empty, '.' or '..' part, no dot first
#: folder; with at most MAX_PART_BYTES characters, no length rule can refuse it.
_PLAIN_RE = re.compile(r"[\w+-][\w.+-]*(?:/(?!\.\.?(?:/|\Z))[\w.+-]+)*", re.ASCII)


def unsafe_reason(path: str, *, strict: bool = True) -> str | None:
    """Why ``path`` cannot be used as a relative path inside a folder; None when it can.

    Always refused: an empty path, a NUL byte, a lone surrogate (no file
    name can hold it), more than :data:`MAX_PATH_BYTES` bytes or a part of
    more than :data:`MAX_PART_BYTES` bytes in UTF-8 (the filesystem would
    refuse it), a backslash (a separator on Windows, a name character on
    POSIX: the same path would mean two files), an absolute path, a URL
    scheme or drive letter, and a path that climbs out of its folder.
    ``strict`` (paths that become cache file names) also refuses empty, ``.``
    and ``..`` parts anywhere and a first part starting with a dot, where
    hubtools keeps its own files; without it (archive members, external-data
    locations) the path is judged after normalising.
    """
    if len(path) <= MAX_PART_BYTES and _PLAIN_RE.fullmatch(path):
        return None
    return _judged(path, strict)


def _judged(path: str, strict: bool) -> str | None:
    """:func:`unsafe_reason`, rule by rule."""
    if not path:
        return "is empty"
    if "\x00" in path:
        return "contains a NUL byte"
    length = _length_reason(path)
    if length:
        return length
    if "\\" in path:
        return "contains a backslash"
    if path.startswith("/"):
        return "is absolute"
    if _SCHEME_RE.match(path):
        return "has a URL scheme or drive letter"
    if strict:
        parts = path.split("/")
        if any(p in ("", ".", "..") for p in parts):
            return "has an empty, '.' or '..' part"
        if parts[0].startswith("."):
            return "starts with a dot folder"
        return None
    normal = posixpath.normpath(path)
    if normal == ".." or normal.startswith("../"):
        return "leaves its folder"
    return None


def _length_reason(path: str) -> str | None:
    """Why the filesystem cannot hold ``path`` (encoding or length), or None."""
    try:
        size = len(path.encode("utf-8"))
    except UnicodeEncodeError:
        return "contains a lone surrogate, which no file name can hold"
    if size > MAX_PATH_BYTES:
        return f"is {size} bytes long, more than the {MAX_PATH_BYTES} a path may have"
    if size > MAX_PART_BYTES:
        for part in path.split("/"):
            part_size = len(part.encode("utf-8"))
            if part_size > MAX_PART_BYTES:
                return (
                    f"has a part of {part_size} bytes ({part[:16]!r}...), more than the "
                    f"{MAX_PART_BYTES} a file or folder name may have"
                )
    return None


def quote_path(path: str) -> str:
    """``path`` quoted for a one-line message, cut when it is long. Raises nothing."""
    return repr(path) if len(path) <= 80 else f"{path[:60]!r}... ({len(path)} characters)"


def check_relative_path(path: str, what: str = "model_path") -> PurePosixPath:
    """``path`` as a relative POSIX path that cannot leave the folder it is joined to.

    Applies :func:`unsafe_reason` strictly. Raises
    :class:`~hubtools.errors.UnsafePathError` (a ManifestError) saying which
    rule it broke.
    """
    reason = unsafe_reason(path, strict=True)
    if reason:
        why = "no file system can hold it" if _length_reason(path) else "it could escape the cache"
        raise UnsafePathError(f"{what} {quote_path(path)} {reason}; {why}, so the entry is refused")
    return PurePosixPath(path)


def check_sha(sha: str, what: str = "model_sha") -> str:
    """``sha`` if it is 64 lowercase hex digits (it becomes part of a file name);
    else :class:`~hubtools.errors.UnsafePathError`."""
    if not _SHA_RE.match(sha):
        raise UnsafePathError(f"{what} {sha!r} is not a sha256 hex digest")
    return sha


def resolve_inside(root: Path, rel: str) -> Path | None:
    """The real path of ``root/rel`` when it stays inside ``root`` once every
    symlink is followed; None when it leaves. Raises nothing (the file need
    not exist)."""
    real_root = os.path.realpath(root)
    real = os.path.realpath(os.path.join(real_root, rel))
    if real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep):
        return Path(real)
    return None
