"""The cache: layout, per-target locks, verified atomic writes, records of
extracted archives, the trusted list, and ``ls`` / ``verify`` / ``prune`` /
``rm`` (which kept manifest's entries name each cached file, and removing
a model's or a repository's files).

Layout, as ``onnx.hub`` had it so that existing caches are reused::

    <cache dir>/<model_path folders>/<sha256>_<file name>
    <cache dir>/<model_with_data_path folders>/<sha256>_<name>.tar.gz
    <cache dir>/<...>/<sha256>_<name>/                 (the archive, extracted)
    <cache dir>/<...>/.<sha256>_<name>.files.json      (what was extracted: sizes, sha256)

plus hubtools' own files, which never collide with a model path because no
model path starts with a dot::

    <cache dir>/.hubtools/manifests/<quoted repository key>/ONNX_HUB_MANIFEST.json
    <cache dir>/trusted_repos.txt

Who may write what: the lock of a target (:func:`locked`, an ``flock`` on
``<target>.lock`` whose file is removed when it is released) is held by the
one process that writes it. A download goes into ``<target>.partial``, is
checked for size and sha256, then ``os.replace``\\ d into place, so nothing
unverified ever sits under a final name; an extraction goes into a
temporary folder ``.<folder>.<random>.tmp`` renamed into place. So whatever
sits beside a target while its lock is free was left by a process that was
killed or interrupted: the next download resumes from it, the next
extraction removes it, and :func:`prune_cache` removes it, skipping (and
saying so) what a running process holds.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import logging
import os
import re
import shutil
import stat
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from hubtools.core.archives import ARCHIVE_SUFFIXES, strip_archive_suffix
from hubtools.core.files import replace_into, sha256_file, write_atomic
from hubtools.core.paths import check_relative_path, check_sha
from hubtools.errors import (
    ChecksumMismatchError,
    FileWriteError,
    HubtoolsError,
    ManifestError,
    WrongContentError,
)

if TYPE_CHECKING:
    from hubtools.core.manifest import ModelEntry

log = logging.getLogger(__name__)

CHUNK = 1 << 20
META_DIR = ".hubtools"
TRUSTED_FILE = "trusted_repos.txt"
PARTIAL_SUFFIX = ".partial"
TEMP_SUFFIX = ".tmp"
LOCK_SUFFIX = ".lock"
RECORD_SUFFIX = ".files.json"
#: Extracted content up to this size is hashed on every load; above it, a load
#: compares sizes and modification times only, and ``cache verify`` hashes it.
HASH_ON_LOAD_MAX = 64 << 20
_CACHED_RE = re.compile(r"^([0-9a-f]{64})_(.+)$")
#: What a killed writer leaves beside its target: a temporary file or folder
#: (``.<target>.<8 random characters>.tmp``, from mkstemp/mkdtemp) or a folder
#: being replaced (``.<target>.<pid>.old``).
_LEFTOVER_RE = re.compile(r"^\.(?P<owner>.+)\.(?:[A-Za-z0-9_]+\.tmp|\d+\.old)$")
_RECORD_RE = re.compile(r"^\.(?P<owner>.+)" + re.escape(RECORD_SUFFIX) + "$")
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


# ---- locks -----------------------------------------------------------------------


def lock_path(target: Path) -> Path:
    """The lock file of ``target``: ``<target>.lock``."""
    return target.with_name(target.name + LOCK_SUFFIX)


if sys.platform == "win32":  # pragma: no cover - no flock: filelock's files stay

    def _acquire(lock: Path, timeout: float) -> object | None:
        from filelock import FileLock, Timeout

        handle = FileLock(str(lock), timeout=timeout)
        try:
            handle.acquire()
        except Timeout:
            return None
        return handle

    def _release(handle: object, lock: Path, *, remove: bool) -> None:
        handle.release()  # type: ignore[attr-defined]

else:
    import fcntl

    _OPEN_LOCK = os.O_RDONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC

    def _flock(fd: int, end: float | None) -> bool:
        """Lock ``fd``, waiting until ``end`` (for ever when None); False when it passed."""
        if end is None:
            fcntl.flock(fd, fcntl.LOCK_EX)
            return True
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                time.sleep(min(0.05, left))

    def _acquire(lock: Path, timeout: float) -> object | None:
        """A descriptor holding the lock of the file ``lock``; None when ``timeout``
        (not negative) passed first. Raises OSError when the file cannot be made."""
        end = None if timeout < 0 else time.monotonic() + timeout
        while True:
            # Read-only is enough for flock, so users sharing a cache can lock
            # each other's lock files.
            try:
                fd = os.open(lock, _OPEN_LOCK, 0o666)
            except OSError as err:
                if err.errno != errno.ELOOP:
                    raise
                os.unlink(lock)  # a link at that name is not a lock hubtools made
                continue
            try:
                if not _flock(fd, end):
                    os.close(fd)
                    return None
                mine = os.fstat(fd)
                try:
                    now = os.stat(lock, follow_symlinks=False)
                except FileNotFoundError:
                    now = None
                # The holder before removed the file on release: this lock is then
                # on a file no one else sees; lock the one now at that name.
                if now is not None and (now.st_dev, now.st_ino) == (mine.st_dev, mine.st_ino):
                    return fd
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)

    def _release(handle: object, lock: Path, *, remove: bool) -> None:
        assert isinstance(handle, int)
        try:
            if remove:
                # Removed while held, so that no 0-byte lock file stays beside every
                # cached file; whoever waited on it sees it gone and takes a new one.
                with contextlib.suppress(OSError):
                    os.unlink(lock)
        finally:
            os.close(handle)


@contextlib.contextmanager
def locked(target: Path, timeout: float = -1) -> Iterator[None]:
    """Hold the inter-process lock of ``target`` (file ``<target>.lock``, removed on release).

    Raises OSError when the lock file cannot be created, or TimeoutError after
    ``timeout`` seconds when it is not negative.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    lock = lock_path(target)
    handle = _acquire(lock, timeout)
    if handle is None:
        raise TimeoutError(f"{target}: another process has held its lock for {timeout:g} s")
    try:
        yield
    finally:
        _release(handle, lock, remove=True)


@contextlib.contextmanager
def lock_if_free(target: Path, *, remove: bool = True) -> Iterator[bool]:
    """Hold the lock of ``target`` when no other process does (True), without waiting;
    False (nothing held) when one does. With ``remove`` False the lock file
    stays. Raises OSError when the lock file cannot be created."""
    lock = lock_path(target)
    handle = _acquire(lock, 0)
    if handle is None:
        yield False
        return
    try:
        yield True
    finally:
        _release(handle, lock, remove=remove)


def _in_use(target: Path) -> bool:
    """True when a process holds the lock of ``target``; creates and removes nothing."""
    if not lock_path(target).exists():
        return False
    with lock_if_free(target, remove=False) as free:
        return not free


# ---- downloads ----------------------------------------------------------------


def partial_path(target: Path) -> Path:
    """Where the download of ``target`` is written before it is verified."""
    return target.with_name(target.name + PARTIAL_SUFFIX)


def _leftovers(target: Path) -> list[Path]:
    """Temporary files and folders a killed writer of ``target`` left beside it."""
    try:
        names = os.listdir(target.parent)
    except FileNotFoundError:
        return []
    prefix = f".{target.name}."
    out = []
    for name in names:
        match = _LEFTOVER_RE.match(name) if name.startswith(prefix) else None
        if match and match.group("owner") == target.name:
            out.append(target.parent / name)
    return sorted(out)


def _remove(path: Path) -> None:
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
    for path in [part, *_leftovers(target)]:
        with contextlib.suppress(FileNotFoundError):
            info = path.lstat()
            if stat.S_ISREG(info.st_mode):
                sizes[path] = info.st_size
            else:
                _remove(path)  # a link or folder under that name is not ours
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


# ---- extracted archives ---------------------------------------------------------


def extracted_folder(archive: Path) -> Path:
    """Where the cached ``archive`` is extracted: its name without the archive suffix."""
    stem = strip_archive_suffix(archive.name)
    return archive.with_name(stem if stem is not None else archive.name + ".d")


def record_path(folder: Path) -> Path:
    """The record of what was extracted into ``folder``: ``.<folder>.files.json`` beside it."""
    return folder.with_name(f".{folder.name}{RECORD_SUFFIX}")


def _tree(folder: Path) -> dict[str, os.stat_result]:
    """Every file and link under ``folder`` (relative POSIX path -> lstat), links not followed."""
    out = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(root, name)
            info = os.lstat(path)
            if not stat.S_ISDIR(info.st_mode):
                out[Path(path).relative_to(folder).as_posix()] = info
    return out


def _describe(folder: Path, archive: Path) -> dict[str, object]:
    files: dict[str, dict[str, object]] = {}
    links: dict[str, str] = {}
    for rel, info in sorted(_tree(folder).items()):
        if stat.S_ISLNK(info.st_mode):
            links[rel] = os.readlink(folder / rel)
            continue
        sha, size = sha256_file(folder / rel)
        files[rel] = {"size": size, "sha256": sha, "mtime_ns": info.st_mtime_ns}
    return {"archive": archive.name, "files": files, "links": links}


def extract_into(archive: Path, folder: Path, extract: Callable[[Path, Path], object]) -> None:
    """Extract ``archive`` into ``folder`` with ``extract(archive, folder)``, then
    record what it holds (each file's size, sha256 and modification time) in
    :func:`record_path`, written atomically.

    The caller holds the lock of ``folder``: leftovers of killed extractions
    are removed first, and no record vouches for the folder while it changes.
    Raises what ``extract`` raises, and OSError.
    """
    record = record_path(folder)
    record.unlink(missing_ok=True)
    for path in _leftovers(folder):
        _remove(path)
    extract(archive, folder)
    text = json.dumps(_describe(folder, archive), indent=1, sort_keys=True)
    write_atomic(record, text, keep_mode=False)


@dataclass(frozen=True)
class _Recorded:
    """One extracted file as its record gives it."""

    size: int
    sha256: str
    mtime_ns: int


def _read_record(folder: Path) -> tuple[dict[str, _Recorded], dict[str, str]] | None:
    """The files and links the record of ``folder`` lists; None without a usable record."""
    try:
        data = json.loads(record_path(folder).read_text(encoding="utf-8"))
        files = {
            str(rel): _Recorded(int(w["size"]), str(w["sha256"]), int(w["mtime_ns"]))
            for rel, w in data["files"].items()
        }
        links = {str(rel): str(target) for rel, target in data.get("links", {}).items()}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None
    return files, links


def check_extracted(folder: Path, *, full: bool = False) -> str | None:
    """What differs between ``folder`` and the record of its extraction; None when nothing.

    Every file and link must be there, and nothing else. With ``full``, and
    on any folder of at most :data:`HASH_ON_LOAD_MAX` bytes, every file's
    size and sha256 are compared; otherwise sizes and modification times
    (a ``stat`` per file, for loading large models quickly). A folder never
    extracted, or extracted without a record (by older hubtools), is a
    difference. Raises OSError when a file cannot be read.
    """
    if not folder.is_dir():
        return "not extracted"
    record = _read_record(folder)
    if record is None:
        return f"no record of what was extracted ({record_path(folder).name})"
    files, links = record
    tree = _tree(folder)
    extra = sorted(set(tree) - set(files) - set(links))
    if extra:
        return f"{extra[0]} was not in the archive"
    missing = sorted((set(files) | set(links)) - set(tree))
    if missing:
        return f"{missing[0]} is missing"
    hash_all = full or sum(w.size for w in files.values()) <= HASH_ON_LOAD_MAX
    for rel, want in sorted(files.items()):
        info = tree[rel]
        if not stat.S_ISREG(info.st_mode):
            return f"{rel} is no longer a file"
        if info.st_size != want.size:
            return f"{rel} has {info.st_size} bytes, {want.size} when extracted"
        if hash_all:
            sha, _ = sha256_file(folder / rel)
            if sha != want.sha256:
                return f"{rel} has sha256 {sha}, {want.sha256} when extracted"
        elif info.st_mtime_ns != want.mtime_ns:
            return f"{rel} was modified after it was extracted"
    for rel, target in sorted(links.items()):
        if not stat.S_ISLNK(tree[rel].st_mode) or os.readlink(folder / rel) != target:
            return f"{rel} is no longer the link extracted"
    return None


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


# ---- inspection: ls / verify / prune --------------------------------------


@dataclass(frozen=True)
class CachedFile:
    """One file of the cache as ``hubtools cache ls`` shows it (or a folder, in what
    prune removes).

    ``kind`` is ``model`` (``<sha>_<name>``), ``partial`` (what an
    interrupted or killed download or extraction left), ``lock``,
    ``manifest``, ``extracted`` (a file inside an extracted archive, or its
    record) or ``other``.
    """

    path: Path
    size: int
    kind: str
    sha256: str | None = None


def _walk(cache_dir: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(cache_dir):
        dirs.sort()
        for name in sorted(files):
            yield Path(root, name)


def extracted_roots(cache_dir: Path) -> set[Path]:
    """Folders that are extracted archives: ``<sha>_<name>`` beside ``<sha>_<name>.tar.gz``
    (or ``.zip``)."""
    roots = set()
    for archive in cache_dir.rglob("*"):
        if not archive.name.endswith(ARCHIVE_SUFFIXES):
            continue
        match = _CACHED_RE.match(archive.name)
        if match and archive.is_file():
            folder = extracted_folder(archive)
            if folder.is_dir():
                roots.add(folder)
    return roots


def _kind(path: Path, cache_dir: Path, extracted: set[Path]) -> str:
    rel = path.relative_to(cache_dir)
    name = path.name
    if any(_LEFTOVER_RE.match(part) for part in rel.parts):
        return "partial"
    if name.endswith(LOCK_SUFFIX):
        return "lock"
    if rel.parts[0] == META_DIR:
        return "manifest" if name == "ONNX_HUB_MANIFEST.json" else "other"
    if any(root in path.parents for root in extracted):
        return "extracted"
    record = _RECORD_RE.match(name)
    if record and path.with_name(record.group("owner")) in extracted:
        return "extracted"
    if name.endswith(PARTIAL_SUFFIX):
        return "partial"
    if _CACHED_RE.match(name) and path.is_file() and not path.is_symlink():
        return "model"
    return "other"


def list_cache(cache_dir: Path) -> list[CachedFile]:
    """Every file under ``cache_dir`` with its size and kind. Raises nothing for a missing dir."""
    if not cache_dir.is_dir():
        return []
    extracted = extracted_roots(cache_dir)
    out = []
    for path in _walk(cache_dir):
        try:
            size = path.lstat().st_size
        except FileNotFoundError:
            continue
        kind = _kind(path, cache_dir, extracted)
        match = _CACHED_RE.match(path.name)
        sha = match.group(1) if match and kind == "model" else None
        out.append(CachedFile(path, size, kind, sha))
    return out


@contextlib.contextmanager
def _locked_unless_read_only(target: Path) -> Iterator[bool]:
    """Hold the lock of ``target``; True when the cache can be written. In a
    read-only cache nothing can be written, so there is nothing to lock
    against: False, and nothing held."""
    with contextlib.ExitStack() as stack:
        writable = True
        try:
            stack.enter_context(locked(target))
        except OSError as err:
            if not is_read_only(err):
                raise
            writable = False
        yield writable


@dataclass(frozen=True)
class VerifyResult:
    """One model file or extracted folder checked by :func:`verify_cache`.

    For a model, ``expected`` and ``actual`` are sha256s; for an extracted
    folder (``kind`` ``extracted``), ``actual`` says what differs from the
    record of its extraction. A bad one was removed unless ``kept`` says why
    not (a read-only cache, or ``remove=False``).
    """

    path: Path
    expected: str
    actual: str
    ok: bool
    kind: str = "model"
    kept: str | None = None


def verify_cache(cache_dir: Path, *, remove: bool = True) -> list[VerifyResult]:
    """Rehash every ``<sha>_<name>`` file and every extracted archive; remove (with
    ``remove``) what does not match, so the next load fetches or extracts it again.

    An extracted folder is checked against the record written when it was
    extracted (every file's size and sha256; see :func:`check_extracted`).
    Takes each target's lock while checking it, so a download in progress is
    not disturbed. A read-only cache is checked without locks (nothing can
    write to it) and nothing is removed. Raises OSError when a file cannot be
    read or removed.
    """
    results = []

    def kept(writable: bool) -> str | None:
        if not remove:
            return "not asked to remove it"
        return None if writable else "the cache is read-only"

    for item in list_cache(cache_dir):
        if item.kind != "model" or item.sha256 is None:
            continue
        with _locked_unless_read_only(item.path) as writable:
            if not item.path.exists():
                continue
            actual, _ = sha256_file(item.path)
            ok = actual == item.sha256
            if not ok and kept(writable) is None:
                item.path.unlink()
        results.append(VerifyResult(item.path, item.sha256, actual, ok, kept=kept(writable)))
    for folder in sorted(extracted_roots(cache_dir)):
        with _locked_unless_read_only(folder) as writable:
            problem = check_extracted(folder, full=True)
            if problem is not None and kept(writable) is None:
                shutil.rmtree(folder)
                record_path(folder).unlink(missing_ok=True)
        ok = problem is None
        results.append(VerifyResult(folder, "", problem or "", ok, "extracted", kept(writable)))
    return results


def repo_label(key: str) -> str:
    """The repository a kept manifest's key names, as ``--repo`` writes it:
    ``owner/name:ref``, ``onnx/models:archive``, a URL or a folder. Raises nothing."""
    kind, _, rest = key.partition(":")
    if kind in ("github", "packaged"):
        return rest
    if kind == "file":
        return urllib.request.url2pathname(urllib.parse.urlsplit(key).path).rstrip("/")
    return key.rstrip("/")


def kept_manifests(cache_dir: Path) -> list[tuple[str, Path]]:
    """``(repository key, path)`` of every manifest kept in the cache, by key.
    Raises OSError when the cache cannot be read."""
    root = cache_dir / META_DIR / "manifests"
    found = root.glob("*/ONNX_HUB_MANIFEST.json") if root.is_dir() else []
    return sorted((urllib.parse.unquote(p.parent.name), p) for p in found)


def _entry_targets(cache_dir: Path, entry: ModelEntry) -> Iterator[Path]:
    """The cache paths of an entry's model file and test-data bundle."""
    md = entry.metadata
    for path, sha in (
        (entry.model_path, md.model_sha),
        (md.model_with_data_path, md.model_with_data_sha),
    ):
        if path is not None:
            with contextlib.suppress(ManifestError):
                yield cached_path(cache_dir, path, sha)


def _kept_entries(cache_dir: Path, key: str | None = None) -> Iterator[tuple[str, ModelEntry]]:
    """``(repository key, entry)`` of the kept manifests (of ``key`` only, when given).
    Raises ManifestError when a kept manifest cannot be read."""
    from hubtools.core.manifest import Manifest

    for found, mpath in kept_manifests(cache_dir):
        if key is None or found == key:
            for entry in Manifest.load(mpath):
                yield found, entry


def _referenced(cache_dir: Path) -> set[Path] | None:
    """Cache paths named by the kept manifests, or None when a manifest cannot be read."""
    refs: set[Path] = set()
    try:
        for _, entry in _kept_entries(cache_dir):
            refs.update(_entry_targets(cache_dir, entry))
    except ManifestError as err:
        log.warning("%s; not pruning orphaned files", err)
        return None
    return refs


@dataclass(frozen=True)
class Owner:
    """A kept manifest's entry that names a cached file: repository (as ``--repo``
    writes it), model name and opset."""

    repo: str
    model: str
    opset: int


def _owners(cache_dir: Path) -> dict[Path, list[Owner]]:
    """For each cache path a kept manifest names, the entries that name it; an
    unreadable kept manifest is skipped with a warning."""
    owners: dict[Path, list[Owner]] = {}
    for key, mpath in kept_manifests(cache_dir):
        try:
            entries = list(_kept_entries(cache_dir, key))
        except ManifestError as err:
            log.warning("%s; its files are listed without their models", err)
            continue
        for _, entry in entries:
            owner = Owner(repo_label(key), entry.model, entry.opset_version)
            for target in _entry_targets(cache_dir, entry):
                owners.setdefault(target, []).append(owner)
        owners.setdefault(mpath, []).append(Owner(repo_label(key), "", 0))
    return owners


def _target_of(item: CachedFile, extracted: set[Path]) -> Path:
    """The cached file ``item`` belongs to: itself, or the file a partial download,
    a lock, an extracted folder or its record is of."""
    path, name = item.path, item.path.name
    leftover = _LEFTOVER_RE.match(name)
    record = _RECORD_RE.match(name)
    if record:
        path = path.with_name(record.group("owner"))
    elif leftover:
        path = path.with_name(leftover.group("owner"))
    elif name.endswith(PARTIAL_SUFFIX):
        path = path.with_name(name[: -len(PARTIAL_SUFFIX)])
    elif name.endswith(LOCK_SUFFIX):
        path = path.with_name(name[: -len(LOCK_SUFFIX)])
    root = next((r for r in extracted if r == path or r in path.parents), None)
    if root is not None:  # an extracted folder (or a file in it) is of its archive
        path = next(
            (a for a in (root.with_name(root.name + s) for s in ARCHIVE_SUFFIXES) if a.exists()),
            root,
        )
    return path


def describe_cache(cache_dir: Path) -> list[tuple[CachedFile, list[Owner]]]:
    """Every file of :func:`list_cache` with the kept manifests' entries it belongs
    to (none for an orphan). A file a manifest names without a sha256 (so
    without the ``<sha>_`` prefix) is a ``model`` too. Raises nothing for a
    missing folder, OSError when the cache cannot be read."""
    items = list_cache(cache_dir)
    if not items:
        return []
    owners = _owners(cache_dir)
    extracted = extracted_roots(cache_dir)
    out = []
    for item in items:
        found = owners.get(_target_of(item, extracted), [])
        if item.kind == "other" and found and item.path in owners:
            item = dataclasses.replace(item, kind="model")
        out.append((item, found))
    return out


@dataclass(frozen=True)
class Pruned:
    """What :func:`prune_cache` removed, and what it kept because a running
    process holds its lock (a download or an extraction in progress)."""

    removed: list[CachedFile] = field(default_factory=list)
    in_use: list[CachedFile] = field(default_factory=list)


def _folder_item(folder: Path, kind: str) -> CachedFile:
    size = sum(f.lstat().st_size for f in folder.rglob("*") if not f.is_dir())
    return CachedFile(folder, size, kind)


def _prune_candidates(cache_dir: Path) -> Iterator[tuple[CachedFile, Path]]:
    """What prune may remove, each with the target whose lock guards it."""
    refs = _referenced(cache_dir)
    judge_models = bool(refs)  # only with at least one kept manifest, all of them read
    leftover_dirs: set[Path] = set()
    for item in list_cache(cache_dir):
        rel = item.path.relative_to(cache_dir)
        top = next((i for i, part in enumerate(rel.parts[:-1]) if _LEFTOVER_RE.match(part)), None)
        if top is not None:  # inside a folder a killed extraction left
            folder = cache_dir.joinpath(*rel.parts[: top + 1])
            if folder not in leftover_dirs:
                leftover_dirs.add(folder)
                found = _LEFTOVER_RE.match(folder.name)
                assert found is not None
                yield _folder_item(folder, "partial"), folder.with_name(found.group("owner"))
        elif item.kind == "partial":
            name = item.path.name
            leftover = _LEFTOVER_RE.match(name)
            if leftover:
                owner = leftover.group("owner")
                record = _RECORD_RE.match(owner)  # the temporary file of a record
                yield item, item.path.with_name(record.group("owner") if record else owner)
            else:
                yield item, item.path.with_name(name[: -len(PARTIAL_SUFFIX)])
        elif item.kind == "model" and judge_models and refs is not None and item.path not in refs:
            yield item, item.path
    # Empty folders a killed extraction left are not seen by the walk above.
    for folder in sorted(cache_dir.rglob(".*")) if cache_dir.is_dir() else []:
        match = _LEFTOVER_RE.match(folder.name)
        if match and folder.is_dir() and folder not in leftover_dirs:
            yield CachedFile(folder, 0, "partial"), folder.with_name(match.group("owner"))


def _orphaned_extractions(cache_dir: Path, gone: set[Path]) -> Iterator[tuple[CachedFile, Path]]:
    """Extracted folders (and records) whose archive is gone, or in ``gone``."""
    if not cache_dir.is_dir():
        return
    for path in sorted(cache_dir.rglob("*")):
        record = _RECORD_RE.match(path.name)
        folder = path.with_name(record.group("owner")) if record else path
        if not _CACHED_RE.match(folder.name) or not (path.is_dir() or record):
            continue
        archives = [folder.with_name(folder.name + s) for s in ARCHIVE_SUFFIXES]
        if any(a.exists() and a not in gone for a in archives):
            continue
        if record:
            yield CachedFile(path, path.lstat().st_size, "extracted"), folder
        else:
            yield _folder_item(path, "extracted"), folder


def prune_cache(cache_dir: Path, *, dry_run: bool = False) -> Pruned:
    """Remove what interrupted or killed processes left, unused locks and orphaned
    files; return what was removed and what was kept because it is in use.

    With ``dry_run`` nothing is removed and the result says what would be.

    Removed: partial downloads and the temporary files and folders of
    downloads and extractions that were interrupted or killed; lock files no
    process holds; ``<sha>_<name>`` files no kept manifest names (only judged
    when at least one manifest is kept and all of them parse); extracted
    folders (and their records) whose archive is gone. Each is removed under
    the lock of the target it belongs to, taken without waiting: what a
    running download or extraction holds is kept and listed in ``in_use``.
    Raises FileWriteError for a read-only cache, OSError when something
    cannot be removed.
    """
    result = Pruned()
    gone: set[Path] = set()
    taken: set[Path] = set()

    def take(item: CachedFile, owner: Path) -> None:
        if dry_run:
            if _in_use(owner):
                result.in_use.append(item)
            else:
                result.removed.append(item)
                gone.add(item.path)
            return
        with lock_if_free(owner) as free:
            if not free:
                result.in_use.append(item)
                return
            taken.add(owner)
            if item.path.exists() or item.path.is_symlink():
                _remove(item.path)
                result.removed.append(item)
                gone.add(item.path)

    with writing(cache_dir, "prune the cache"):
        locks = [item for item in list_cache(cache_dir) if item.kind == "lock"]
        for item, owner in list(_prune_candidates(cache_dir)):
            take(item, owner)
        for item, owner in list(_orphaned_extractions(cache_dir, gone)):
            take(item, owner)
        for item in locks:
            owner = item.path.with_name(item.path.name[: -len(LOCK_SUFFIX)])
            if dry_run:
                if not _in_use(owner):
                    result.removed.append(item)
            elif not item.path.exists():
                if owner in taken:  # went when the lock taken above was released
                    result.removed.append(item)
            else:
                with lock_if_free(owner) as free:  # releasing it removes the file
                    if free:
                        result.removed.append(item)
    return result


@dataclass(frozen=True)
class Removed:
    """What :func:`remove_cached` removed (or, in a dry run, would remove); what it
    kept because a running process holds its lock; what it kept because another
    repository's kept manifest names it too (with those repositories); and how
    many manifest entries matched."""

    removed: list[CachedFile] = field(default_factory=list)
    in_use: list[CachedFile] = field(default_factory=list)
    shared: list[tuple[CachedFile, list[str]]] = field(default_factory=list)
    matched: int = 0


def _target_items(target: Path) -> list[tuple[CachedFile, Path]]:
    """What the cache holds of ``target``: the file, what interrupted downloads
    left, and for an archive its extracted folder and record; each with the
    target whose lock guards it."""
    out: list[tuple[CachedFile, Path]] = []
    for path, kind in [(target, "model")] + [
        (p, "partial") for p in (partial_path(target), *_leftovers(target))
    ]:
        with contextlib.suppress(FileNotFoundError):
            out.append((CachedFile(path, path.lstat().st_size, kind), target))
    if target.name.endswith(ARCHIVE_SUFFIXES):
        folder = extracted_folder(target)
        if folder.is_dir() and not folder.is_symlink():
            out.append((_folder_item(folder, "extracted"), folder))
        for path in (record_path(folder), *_leftovers(folder)):
            with contextlib.suppress(FileNotFoundError):
                out.append((CachedFile(path, path.lstat().st_size, "extracted"), folder))
    return out


def remove_cached(
    cache_dir: Path,
    *,
    model: str | None = None,
    opset: int | None = None,
    repo_key: str | None = None,
    dry_run: bool = False,
) -> Removed:
    """Remove the cached files of the entries the kept manifests list for ``model``
    (any case; at ``opset`` when given) and ``repo_key`` (a repository's key,
    with its ref; all repositories when None): model files, test-data bundles,
    their extracted folders and what interrupted downloads left.

    With ``repo_key`` and no ``model``, the repository's kept manifest goes too,
    and a file another kept manifest also names is kept (and listed in
    ``shared``). Each is removed under its lock, taken without waiting: what a
    running download holds is kept and listed in ``in_use``. With ``dry_run``
    nothing is removed. Raises ManifestError when a kept manifest cannot be
    read, FileWriteError for a read-only cache, OSError when something cannot
    be removed.
    """
    targets: dict[Path, None] = {}
    whole_repo = model is None and repo_key is not None
    matched = 0
    for _, entry in _kept_entries(cache_dir, repo_key):
        if model is not None and entry.model.lower() != model.lower():
            continue
        if opset is not None and entry.opset_version != opset:
            continue
        matched += 1
        targets.update(dict.fromkeys(_entry_targets(cache_dir, entry)))
    result = Removed(matched=matched)
    others: dict[Path, list[str]] = {}
    if whole_repo:
        for key, entry in _kept_entries(cache_dir):
            if key != repo_key:
                for target in _entry_targets(cache_dir, entry):
                    others.setdefault(target, []).append(repo_label(key))
    items: list[tuple[CachedFile, Path]] = []
    for target in targets:
        if target in others:
            for item, _ in _target_items(target):
                result.shared.append((item, sorted(set(others[target]))))
            continue
        items.extend(_target_items(target))
    if whole_repo and repo_key is not None:
        kept = manifest_path(cache_dir, repo_key)
        if kept.exists():
            items.append((CachedFile(kept, kept.stat().st_size, "manifest"), kept))
    with writing(cache_dir, "remove cached files"):
        for item, owner in items:
            if dry_run:
                (result.in_use if _in_use(owner) else result.removed).append(item)
                continue
            with lock_if_free(owner) as free:
                if not free:
                    result.in_use.append(item)
                elif item.path.exists() or item.path.is_symlink():
                    _remove(item.path)
                    result.removed.append(item)
        if whole_repo and not dry_run and repo_key is not None:
            with contextlib.suppress(OSError):
                manifest_path(cache_dir, repo_key).parent.rmdir()
    return result
