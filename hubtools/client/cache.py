"""The cache: layout, atomic writes, per-target locks, verification by sha256.

Layout, as ``onnx.hub`` had it so that existing caches are reused::

    <cache dir>/<model_path folders>/<sha256>_<file name>
    <cache dir>/<model_with_data_path folders>/<sha256>_<name>.tar.gz   (+ its extracted folder)

plus hubtools' own files, which never collide with a model path because no
model path starts with a dot::

    <cache dir>/.hubtools/manifests/<quoted repository key>/ONNX_HUB_MANIFEST.json
    <cache dir>/trusted_repos.txt

A download goes into a unique temporary file beside its target, is checked
for size and sha256, then ``os.replace``\\ d into place, so nothing unverified
ever sits under a final name. A download that stops half-way is kept as
``<target>.partial`` and resumed next time.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from hubtools.core.archives import ARCHIVE_SUFFIXES, strip_archive_suffix
from hubtools.core.files import replace_into, sha256_file, temp_beside
from hubtools.core.paths import check_relative_path, check_sha
from hubtools.errors import (
    ChecksumMismatchError,
    HubtoolsError,
    ManifestError,
    WrongContentError,
)

log = logging.getLogger(__name__)

CHUNK = 1 << 20
META_DIR = ".hubtools"
TRUSTED_FILE = "trusted_repos.txt"
PARTIAL_SUFFIX = ".partial"
TEMP_SUFFIX = ".tmp"
LOCK_SUFFIX = ".lock"
_CACHED_RE = re.compile(r"^([0-9a-f]{64})_(.+)$")


def cached_path(cache_dir: Path, model_path: str, sha: str | None) -> Path:
    """``<cache_dir>/<model_path folders>/<sha>_<file name>`` (no prefix when ``sha`` is None).

    Raises :class:`~hubtools.errors.ManifestError` when ``model_path`` or
    ``sha`` could make the result leave ``cache_dir``.
    """
    rel = check_relative_path(model_path)
    name = rel.name if sha is None else f"{check_sha(sha)}_{rel.name}"
    return cache_dir.joinpath(*rel.parts[:-1], name)


def verify_file(path: Path, sha: str | None, size: int | None = None, *, what: str = "") -> None:
    """Check ``path`` has ``sha`` (and ``size``), streaming; delete it when it does not.

    Raises :class:`~hubtools.errors.ChecksumMismatchError` giving expected and
    actual sha256 and what to do, or OSError when the file cannot be read.
    """
    actual, actual_size = sha256_file(path)
    if (sha is None or actual == sha) and (size is None or actual_size == size):
        return
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    raise ChecksumMismatchError(
        f"{what or path.name}: got sha256 {actual} ({actual_size} bytes), manifest says "
        f"{sha} ({size if size is not None else '?'} bytes); the file was deleted from "
        "the cache, retry the download (if it keeps failing, the repository changed the "
        "file without updating its manifest)"
    )


@contextlib.contextmanager
def locked(target: Path, timeout: float = -1) -> Iterator[None]:
    """Hold the inter-process lock of ``target`` (file ``<target>.lock``).

    Raises OSError when the lock file cannot be created, or filelock's
    ``Timeout`` (a TimeoutError) after ``timeout`` seconds when it is not negative.
    """
    from filelock import FileLock

    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + LOCK_SUFFIX, timeout=timeout):
        yield


def fetch_into_cache(
    target: Path,
    fetch: Callable[[Path], tuple[int, str]],
    *,
    sha: str | None,
    size: int | None,
    what: str,
) -> None:
    """Fill ``target`` through ``fetch(temp) -> (size, sha256)``, verified and atomic.

    ``fetch`` appends to the temporary file it is given, which starts with the
    bytes of ``<target>.partial`` when a previous attempt left one. The caller
    holds the lock of ``target``. On a size or sha256 mismatch the temporary
    file is deleted and :class:`~hubtools.errors.ChecksumMismatchError` raised;
    when ``fetch`` raises :class:`~hubtools.errors.WrongContentError` (the
    source did not serve the file) the temporary file is deleted; when it
    raises another :class:`~hubtools.errors.HubtoolsError` or OSError, what
    arrived is kept as ``<target>.partial`` for a resume (possibly from
    another source: the sha256 at the end decides).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = temp_beside(target, TEMP_SUFFIX)
    partial = target.with_name(target.name + PARTIAL_SUFFIX)
    try:
        if partial.exists():
            os.replace(partial, temp)
            log.info("resuming %s from %d bytes", what, temp.stat().st_size)
        got_size, got_sha = fetch(temp)
    except WrongContentError:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    except (HubtoolsError, OSError, KeyboardInterrupt):
        with contextlib.suppress(OSError):
            if temp.stat().st_size and not temp.is_symlink():
                os.replace(temp, partial)
            else:
                temp.unlink()
        raise
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    if (sha is not None and got_sha != sha) or (size is not None and got_size != size):
        temp.unlink()
        raise ChecksumMismatchError(
            f"{what}: got sha256 {got_sha} ({got_size} bytes), manifest says {sha} "
            f"({size if size is not None else '?'} bytes); the download was deleted, retry "
            "it (if it keeps failing, the repository or mirror serves a different file "
            "than its manifest describes)"
        )
    replace_into(temp, target)


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


def read_trusted(cache_dir: Path) -> set[str]:
    """The entries of the trusted list (blank lines and ``#`` comments skipped)."""
    try:
        text = trusted_file(cache_dir).read_text(encoding="utf-8")
    except FileNotFoundError:
        return set()
    return {ln.split("#", 1)[0].strip() for ln in text.splitlines()} - {""}


# ---- inspection: ls / verify / prune --------------------------------------


@dataclass(frozen=True)
class CachedFile:
    """One file of the cache, as ``hubtools cache ls`` shows it.

    ``kind`` is ``model`` (``<sha>_<name>``), ``partial`` (an interrupted or
    temporary download), ``lock``, ``manifest``, ``extracted`` (a file inside
    an extracted test-data folder) or ``other``.
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


def extracted_folder(archive: Path) -> Path:
    """Where the cached ``archive`` is extracted: its name without the archive suffix."""
    stem = strip_archive_suffix(archive.name)
    return archive.with_name(stem if stem is not None else archive.name + ".d")


def _extracted_roots(cache_dir: Path) -> set[Path]:
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


def list_cache(cache_dir: Path) -> list[CachedFile]:
    """Every file under ``cache_dir`` with its size and kind. Raises nothing for a missing dir."""
    if not cache_dir.is_dir():
        return []
    extracted = _extracted_roots(cache_dir)
    out = []
    for path in _walk(cache_dir):
        try:
            size = path.lstat().st_size
        except FileNotFoundError:
            continue
        name = path.name
        match = _CACHED_RE.match(name)
        rel = path.relative_to(cache_dir)
        if rel.parts[0] == META_DIR:
            kind = "manifest" if name == "ONNX_HUB_MANIFEST.json" else "other"
        elif any(root in path.parents for root in extracted):
            kind = "extracted"
        elif name.endswith(LOCK_SUFFIX):
            kind = "lock"
        elif name.endswith((PARTIAL_SUFFIX, TEMP_SUFFIX)):
            kind = "partial"
        elif match and path.is_file() and not path.is_symlink():
            kind = "model"
        else:
            kind = "other"
        sha = match.group(1) if match and kind == "model" else None
        out.append(CachedFile(path, size, kind, sha))
    return out


@dataclass(frozen=True)
class VerifyResult:
    """One model file checked by :func:`verify_cache`; ``ok`` False means it was removed."""

    path: Path
    expected: str
    actual: str
    ok: bool


def verify_cache(cache_dir: Path, *, remove: bool = True) -> list[VerifyResult]:
    """Rehash every ``<sha>_<name>`` file; remove (with ``remove``) those that do not match.

    Takes each file's lock while checking it, so a download in progress is not
    disturbed. Raises OSError when a file cannot be read or removed.
    """
    results = []
    for item in list_cache(cache_dir):
        if item.kind != "model" or item.sha256 is None:
            continue
        with locked(item.path):
            if not item.path.exists():
                continue
            actual, _ = sha256_file(item.path)
            ok = actual == item.sha256
            if not ok and remove:
                item.path.unlink()
        results.append(VerifyResult(item.path, item.sha256, actual, ok))
    return results


def _referenced(cache_dir: Path) -> set[Path] | None:
    """Cache paths named by the kept manifests, or None when a manifest cannot be read."""
    from hubtools.core.manifest import Manifest

    refs: set[Path] = set()
    for mpath in (cache_dir / META_DIR / "manifests").glob("*/ONNX_HUB_MANIFEST.json"):
        try:
            manifest = Manifest.load(mpath)
        except ManifestError as err:
            log.warning("%s; not pruning orphaned files", err)
            return None
        for entry in manifest:
            md = entry.metadata
            for path, sha in (
                (entry.model_path, md.model_sha),
                (md.model_with_data_path, md.model_with_data_sha),
            ):
                if path is None:
                    continue
                with contextlib.suppress(ManifestError):
                    refs.add(cached_path(cache_dir, path, sha))
    return refs


def prune_cache(cache_dir: Path, *, dry_run: bool = False) -> list[CachedFile]:
    """Remove partial downloads, unused locks and orphaned files; return what was removed.

    With ``dry_run`` nothing is removed and the list says what would be.

    Orphaned: a ``<sha>_<name>`` file no kept manifest names (only judged when
    at least one manifest is kept and all of them parse), or an extracted
    folder whose archive is gone. Lock files are removed only when no process
    holds them. Raises OSError when something cannot be removed.
    """
    from filelock import FileLock, Timeout

    refs = _referenced(cache_dir)
    has_manifests = bool(refs)
    removed = []
    for item in list_cache(cache_dir):
        if item.kind == "partial" or (
            item.kind == "model" and has_manifests and refs is not None and item.path not in refs
        ):
            removed.append(item)
            if not dry_run:
                item.path.unlink(missing_ok=True)
        elif item.kind == "lock":
            target = Path(str(item.path)[: -len(LOCK_SUFFIX)])
            lock = FileLock(str(item.path), timeout=0)
            try:
                with lock:
                    if not target.exists():
                        removed.append(item)
                        if not dry_run:
                            item.path.unlink(missing_ok=True)
            except Timeout:
                continue
    # Extracted folders whose archive was removed (now, or before).
    for folder in (
        sorted({p for p in cache_dir.rglob("*") if p.is_dir()}) if cache_dir.is_dir() else []
    ):
        match = _CACHED_RE.match(folder.name)
        archives = [folder.with_name(folder.name + s) for s in ARCHIVE_SUFFIXES]
        removed_paths = {r.path for r in removed}
        if (
            match
            and folder.exists()
            and not any(a.exists() and a not in removed_paths for a in archives)
        ):
            size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
            removed.append(CachedFile(folder, size, "extracted"))
            if not dry_run:
                shutil.rmtree(folder)
    return removed
