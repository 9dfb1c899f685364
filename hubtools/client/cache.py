"""The cache's layout and what writes into it: where a file of a repository is
cached, verification by sha256, downloads into ``<target>.partial`` renamed
into place once verified, read-only caches, kept manifests and the trusted
list. Locks are in :mod:`hubtools.client.locks`, extracted archives in
:mod:`hubtools.client.extracted`, ``ls``/``verify``/``prune``/``rm`` in
:mod:`hubtools.client.housekeeping`.

Layout, as ``onnx.hub`` had it so that existing caches are reused::

    <cache dir>/<model_path folders>/<sha256>_<file name>
    <cache dir>/<model_with_data_path folders>/<sha256>_<name>.tar.gz
    <cache dir>/<...>/<sha256>_<name>/                 (the archive, extracted)
    <cache dir>/<...>/.<sha256>_<name>.files.json      (what was extracted: sizes, sha256)

plus hubtools' own files, which never collide with a model path because no
model path starts with a dot::

    <cache dir>/.hubtools/manifests/<quoted repository key>/ONNX_HUB_MANIFEST.json
    <cache dir>/trusted_repos.txt

Who may write what: the lock of a target (:func:`~hubtools.client.locks.locked`, an ``flock`` on
``<target>.lock`` whose file is removed when it is released) is held by the
one process that writes it. A download goes into ``<target>.partial``, is
checked for size and sha256, then ``os.replace``\\ d into place, so nothing
unverified ever sits under a final name; an extraction goes into a
temporary folder ``.<folder>.<random>.tmp`` renamed into place. So whatever
sits beside a target while its lock is free was left by a process that was
killed or interrupted: the next download resumes from it, the next
extraction removes it, and ``cache prune`` removes it, skipping (and
saying so) what a running process holds.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import shutil
import stat
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from hubtools.client.locks import locked
from hubtools.core.files import replace_into, sha256_file, write_atomic
from hubtools.core.paths import check_relative_path, check_sha
from hubtools.errors import (
    ChecksumMismatchError,
    FileWriteError,
    HubtoolsError,
    WrongContentError,
)

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

CHUNK = 1 << 20
META_DIR = ".hubtools"
TRUSTED_FILE = "trusted_repos.txt"
PARTIAL_SUFFIX = ".partial"
TEMP_SUFFIX = ".tmp"
CACHED_RE = re.compile(r"^([0-9a-f]{64})_(.+)$")
#: What a killed writer leaves beside its target: a temporary file or folder
#: (``.<target>.<8 random characters>.tmp``, from mkstemp/mkdtemp) or a folder
#: being replaced (``.<target>.<pid>.old``).
LEFTOVER_RE = re.compile(r"^\.(?P<owner>.+)\.(?:[A-Za-z0-9_]+\.tmp|\d+\.old)$")
#: The errors of a write to a read-only file system or a folder without write permission.
_READ_ONLY = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})


def cached_path(cache_dir: Path, model_path: str, sha: str | None) -> Path:
    """``<cache_dir>/<model_path folders>/<sha>_<file name>`` (no prefix when ``sha`` is None).

    Raises :class:`~hubtools.errors.ManifestError` when ``model_path`` or
    ``sha`` could make the result leave ``cache_dir``.
    """
    rel = check_relative_path(model_path)
    name = rel.name if sha is None else f"{check_sha(sha)}_{rel.name}"
    return cache_dir.joinpath(*rel.parts[:-1], name)


#: What :func:`warn_once` has said in this process.
_said: set[str] = set()


def warn_once(key: str, message: str, *args: object) -> None:
    """Log ``message`` as a warning the first time ``key`` is seen in this process.
    Raises nothing."""
    if key not in _said:
        _said.add(key)
        log.warning(message, *args)


def matches(got_sha: str, got_size: int, sha: str | None, size: int | None, *, what: str) -> bool:
    """True when a file of ``got_sha`` and ``got_size`` is the one the manifest
    describes. The sha256 decides when the manifest gives one: a matching file
    whose size differs from ``model_bytes`` is accepted, with a warning (once)
    that the manifest's size is wrong. Without a sha256, the size is all there is
    to check. Raises nothing."""
    if sha is not None:
        if got_sha != sha:
            return False
        if size is not None and got_size != size:
            warn_once(
                f"size:{sha}:{size}",
                "%s: the manifest says %d bytes, but the file with the manifest's sha256 "
                "has %d; the sha256 decides, so it is used: correct model_bytes in the "
                "manifest (`hubtools generate` writes it)",
                what,
                size,
                got_size,
            )
        return True
    return size is None or got_size == size


def verify_file(path: Path, sha: str | None, size: int | None = None, *, what: str = "") -> None:
    """Check ``path`` has ``sha`` (and ``size``, as :func:`matches` rules), streaming;
    delete it when it does not.

    Raises :class:`~hubtools.errors.ChecksumMismatchError` giving expected and
    actual sha256 and what to do, or OSError when the file cannot be read.
    """
    actual, actual_size = sha256_file(path)
    if matches(actual, actual_size, sha, size, what=what or path.name):
        return
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    raise ChecksumMismatchError(
        f"{what or path.name}: got sha256 {actual} ({actual_size} bytes), manifest says "
        f"{sha} ({size if size is not None else '?'} bytes); the file was deleted from "
        "the cache, retry the download (if it keeps failing, the repository changed the "
        "file without updating its manifest)"
    )


# ---- read-only caches --------------------------------------------------------


def is_read_only(err: OSError) -> bool:
    """True when ``err`` is a write refused by a read-only file system or folder."""
    return err.errno in _READ_ONLY and not isinstance(err, HubtoolsError)


@contextlib.contextmanager
def writing(cache_dir: Path, doing: str) -> Iterator[None]:
    """Turn a write the file system refuses into one clear FileWriteError.

    ``doing`` says what needed the write (``"download mnist"``). Other
    errors pass through.
    """
    try:
        yield
    except OSError as err:
        if not is_read_only(err):
            raise
        where = err.filename or cache_dir
        raise FileWriteError(
            f"cannot {doing}: the cache at {cache_dir} is read-only ({err.strerror}: {where}); "
            "make it writable, or point ONNX_HOME (--cache-dir) at a writable folder; "
            "models already in it still load"
        ) from err


# ---- downloads ----------------------------------------------------------------


def partial_path(target: Path) -> Path:
    """Where the download of ``target`` is written before it is verified."""
    return target.with_name(target.name + PARTIAL_SUFFIX)


def leftovers(target: Path) -> list[Path]:
    """Temporary files and folders a killed writer of ``target`` left beside it."""
    try:
        names = os.listdir(target.parent)
    except FileNotFoundError:
        return []
    prefix = f".{target.name}."
    out = []
    for name in names:
        match = LEFTOVER_RE.match(name) if name.startswith(prefix) else None
        if match and match.group("owner") == target.name:
            out.append(target.parent / name)
    return sorted(out)


def remove_path(path: Path) -> None:
    """Remove the file, link or folder ``path`` (nothing when it is gone)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _resume_point(target: Path) -> Path:
    """``<target>.partial``, made of what killed downloads of ``target`` left.

    The caller holds the lock of ``target``, so these files have no other
    writer: the longest regular one becomes the partial download (older
    hubtools left ``.<target>.<random>.tmp``), the others are removed.
    """
    part = partial_path(target)
    sizes = {}
    for path in [part, *leftovers(target)]:
        with contextlib.suppress(FileNotFoundError):
            info = path.lstat()
            if stat.S_ISREG(info.st_mode):
                sizes[path] = info.st_size
            else:
                remove_path(path)  # a link or folder under that name is not ours
    best = max(sizes, key=lambda p: sizes[p], default=None)
    for path in sizes:
        if path != best:
            path.unlink(missing_ok=True)
    if best is not None and best != part:
        os.replace(best, part)
    return part


def _fetch_keeping(part: Path, fetch: Callable[[Path], tuple[int, str]]) -> tuple[int, str]:
    """``fetch(part)``; on failure, keep what arrived when a resume can use it."""
    try:
        return fetch(part)
    except WrongContentError:
        part.unlink(missing_ok=True)
        raise
    except (HubtoolsError, OSError, KeyboardInterrupt):
        with contextlib.suppress(OSError):
            if not part.stat().st_size:
                part.unlink()
        raise
    except BaseException:
        part.unlink(missing_ok=True)
        raise


def fetch_into_cache(
    target: Path,
    fetch: Callable[[Path], tuple[int, str]],
    *,
    sha: str | None,
    size: int | None,
    what: str,
) -> None:
    """Fill ``target`` through ``fetch(part) -> (size, sha256)``, verified and atomic.

    The caller holds the lock of ``target``. ``fetch`` appends to
    ``<target>.partial``, which starts with what an earlier attempt left (an
    interrupted one, or one killed with SIGKILL); when a resumed download
    does not match, the bytes kept may be what was wrong, so it is fetched
    once more from its start. On a mismatch (the sha256 decides; see
    :func:`matches`) the partial file is deleted and
    :class:`~hubtools.errors.ChecksumMismatchError` raised;
    when ``fetch`` raises :class:`~hubtools.errors.WrongContentError` (the
    source did not serve the file) it is deleted too; on another
    :class:`~hubtools.errors.HubtoolsError`, an OSError or an interrupt, what
    arrived stays for a resume (possibly from another source: the sha256 at
    the end decides).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    part = _resume_point(target)
    kept = part.stat().st_size if part.exists() else 0
    if kept:
        log.info("resuming %s from %d bytes", what, kept)
    got_size, got_sha = _fetch_keeping(part, fetch)
    ok = matches(got_sha, got_size, sha, size, what=what)
    if not ok and kept:
        log.warning("%s: the resumed download does not match; fetching it from the start", what)
        part.unlink()
        got_size, got_sha = _fetch_keeping(part, fetch)
        ok = matches(got_sha, got_size, sha, size, what=what)
    if not ok:
        part.unlink()
        raise ChecksumMismatchError(
            f"{what}: got sha256 {got_sha} ({got_size} bytes), manifest says {sha} "
            f"({size if size is not None else '?'} bytes); the download was deleted, retry "
            "it (if it keeps failing, the repository or mirror serves a different file "
            "than its manifest describes)"
        )
    replace_into(part, target)


# ---- kept manifests and trust ----------------------------------------------------


def manifest_path(cache_dir: Path, repo_key: str) -> Path:
    """Where the manifest of repository ``repo_key`` (with its ref) is kept."""
    return (
        cache_dir
        / META_DIR
        / "manifests"
        / urllib.parse.quote(repo_key, safe="")
        / "ONNX_HUB_MANIFEST.json"
    )


def trusted_file(cache_dir: Path) -> Path:
    """The trusted-repositories list: one ``owner/name[:ref]``, URL or folder a line."""
    return cache_dir / TRUSTED_FILE


def _trusted_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""


def _entry_of(line: str) -> str:
    """The entry a line of the trusted list holds ("" for a blank or comment line)."""
    return line.split("#", 1)[0].strip()


def trust_key(entry: str) -> str:
    """How two spellings of a trusted-list entry are compared: any case, no ``/`` at
    the end. Raises nothing."""
    return entry.strip().rstrip("/").lower()


def trusted_lines(cache_dir: Path) -> list[str]:
    """The entries of the trusted list in file order (blank lines and ``#``
    comments skipped). Raises OSError when it exists but cannot be read."""
    text = _trusted_text(trusted_file(cache_dir))
    return [e for e in (_entry_of(ln) for ln in text.splitlines()) if e]


def read_trusted(cache_dir: Path) -> set[str]:
    """The entries of the trusted list (blank lines and ``#`` comments skipped).
    Raises OSError when it exists but cannot be read."""
    return set(trusted_lines(cache_dir))


def add_trusted(cache_dir: Path, entry: str) -> bool:
    """Append ``entry`` as a line of the trusted list (made when missing), under the
    list's lock and atomically; False when it was there already (any case).
    Raises OSError when the list cannot be written."""
    path = trusted_file(cache_dir)
    with locked(path):
        text = _trusted_text(path)
        if trust_key(entry) in {trust_key(_entry_of(ln)) for ln in text.splitlines()}:
            return False
        if text and not text.endswith("\n"):
            text += "\n"
        write_atomic(path, f"{text}{entry}\n")
    return True


def remove_trusted(cache_dir: Path, entry: str) -> bool:
    """Remove the lines of the trusted list that hold ``entry`` (any case), keeping
    comments and the others; False when none did. Raises OSError when the list
    cannot be written."""
    path = trusted_file(cache_dir)
    if not path.exists():
        return False
    with locked(path):
        lines = _trusted_text(path).splitlines(keepends=True)
        kept = [ln for ln in lines if trust_key(_entry_of(ln)) != trust_key(entry)]
        if len(kept) == len(lines):
            return False
        write_atomic(path, "".join(kept))
    return True
