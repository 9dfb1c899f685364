"""``hubtools cache ls|verify|prune|rm``: every file of the cache with its kind
and the kept-manifest entries that own it, rehashing, removing what killed
or interrupted processes left (under each file's lock, skipping what is in
use), and removing a model's or a repository's files. It never downloads."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shutil
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from hubtools.client.cache import (
    CACHED_RE,
    LEFTOVER_RE,
    META_DIR,
    PARTIAL_SUFFIX,
    cached_path,
    is_read_only,
    leftovers,
    manifest_path,
    partial_path,
    remove_path,
    writing,
)
from hubtools.client.extracted import RECORD_RE, check_extracted, extracted_folder, record_path
from hubtools.client.locks import LOCK_SUFFIX, in_use, lock_if_free, locked
from hubtools.core.archives import ARCHIVE_SUFFIXES
from hubtools.core.files import sha256_file
from hubtools.errors import (
    ManifestError,
)

if TYPE_CHECKING:
    from hubtools.core.manifest import ModelEntry

log = logging.getLogger(__name__)


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
        match = CACHED_RE.match(archive.name)
        if match and archive.is_file():
            folder = extracted_folder(archive)
            if folder.is_dir():
                roots.add(folder)
    return roots


def _kind(path: Path, cache_dir: Path, extracted: set[Path]) -> str:
    rel = path.relative_to(cache_dir)
    name = path.name
    if any(LEFTOVER_RE.match(part) for part in rel.parts):
        return "partial"
    if name.endswith(LOCK_SUFFIX):
        return "lock"
    if rel.parts[0] == META_DIR:
        return "manifest" if name == "ONNX_HUB_MANIFEST.json" else "other"
    if any(root in path.parents for root in extracted):
        return "extracted"
    record = RECORD_RE.match(name)
    if record and path.with_name(record.group("owner")) in extracted:
        return "extracted"
    if name.endswith(PARTIAL_SUFFIX):
        return "partial"
    if CACHED_RE.match(name) and path.is_file() and not path.is_symlink():
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
        match = CACHED_RE.match(path.name)
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
    """``(repository key, entry)`` of the kept manifests (of ``key`` only, when given):
    the entries the client uses, read as it reads them (a manifest is kept as the
    server sent it, and an entry the client refuses is left out with a warning).
    Raises ManifestError when a kept manifest cannot be read or is no manifest."""
    from hubtools.client.manifests import parse_manifest

    for found, mpath in kept_manifests(cache_dir):
        if key is None or found == key:
            try:
                text = mpath.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as err:
                raise ManifestError(f"{mpath}: cannot read the kept manifest: {err}") from err
            for info in parse_manifest(text, str(mpath)):
                if info.entry is not None:  # always, for what parse_manifest gives
                    yield found, info.entry


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
    leftover = LEFTOVER_RE.match(name)
    record = RECORD_RE.match(name)
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
        top = next((i for i, part in enumerate(rel.parts[:-1]) if LEFTOVER_RE.match(part)), None)
        if top is not None:  # inside a folder a killed extraction left
            folder = cache_dir.joinpath(*rel.parts[: top + 1])
            if folder not in leftover_dirs:
                leftover_dirs.add(folder)
                found = LEFTOVER_RE.match(folder.name)
                assert found is not None
                yield _folder_item(folder, "partial"), folder.with_name(found.group("owner"))
        elif item.kind == "partial":
            name = item.path.name
            leftover = LEFTOVER_RE.match(name)
            if leftover:
                owner = leftover.group("owner")
                record = RECORD_RE.match(owner)  # the temporary file of a record
                yield item, item.path.with_name(record.group("owner") if record else owner)
            else:
                yield item, item.path.with_name(name[: -len(PARTIAL_SUFFIX)])
        elif item.kind == "model" and judge_models and refs is not None and item.path not in refs:
            yield item, item.path
    # Empty folders a killed extraction left are not seen by the walk above.
    for folder in sorted(cache_dir.rglob(".*")) if cache_dir.is_dir() else []:
        match = LEFTOVER_RE.match(folder.name)
        if match and folder.is_dir() and folder not in leftover_dirs:
            yield CachedFile(folder, 0, "partial"), folder.with_name(match.group("owner"))


def _orphaned_extractions(cache_dir: Path, gone: set[Path]) -> Iterator[tuple[CachedFile, Path]]:
    """Extracted folders (and records) whose archive is gone, or in ``gone``."""
    if not cache_dir.is_dir():
        return
    for path in sorted(cache_dir.rglob("*")):
        record = RECORD_RE.match(path.name)
        folder = path.with_name(record.group("owner")) if record else path
        if not CACHED_RE.match(folder.name) or not (path.is_dir() or record):
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
            if in_use(owner):
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
                remove_path(item.path)
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
                if not in_use(owner):
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
        (p, "partial") for p in (partial_path(target), *leftovers(target))
    ]:
        with contextlib.suppress(FileNotFoundError):
            out.append((CachedFile(path, path.lstat().st_size, kind), target))
    if target.name.endswith(ARCHIVE_SUFFIXES):
        folder = extracted_folder(target)
        if folder.is_dir() and not folder.is_symlink():
            out.append((_folder_item(folder, "extracted"), folder))
        for path in (record_path(folder), *leftovers(folder)):
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
                (result.in_use if in_use(owner) else result.removed).append(item)
                continue
            with lock_if_free(owner) as free:
                if not free:
                    result.in_use.append(item)
                elif item.path.exists() or item.path.is_symlink():
                    remove_path(item.path)
                    result.removed.append(item)
        if whole_repo and not dry_run and repo_key is not None:
            with contextlib.suppress(OSError):
                manifest_path(cache_dir, repo_key).parent.rmdir()
    return result
