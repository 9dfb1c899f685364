"""Air-gapped copies of a hub: :func:`snapshot` fetches the chosen entries of a
repository, verified, into a folder that is then a hub of its own (its
``ONNX_HUB_MANIFEST.json`` lists those entries, and each file sits at its
``model_path``), so ``hub.load(name, repo=folder)`` works without a network
and ``hubtools validate folder/ONNX_HUB_MANIFEST.json --repo folder`` passes.
A file already in the folder with the manifest's sha256 is not fetched again,
so an interrupted snapshot resumes, and a later one adds to the folder.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hubtools.client.cache import matches
from hubtools.core.files import replace_into, sha256_file, temp_beside, write_atomic
from hubtools.core.manifest import MANIFEST_NAME, JSONObject, JSONValue
from hubtools.core.paths import check_relative_path
from hubtools.errors import ChecksumMismatchError, ManifestError, ModelNotFoundError

if TYPE_CHECKING:
    from hubtools.client.hub import Hub
    from hubtools.client.manifests import ModelInfo

__all__ = ["Snapshot", "SnapshotFile", "snapshot"]

log = logging.getLogger(__name__)

CHUNK = 1 << 20
_DATA_KEYS = ("model_with_data_path", "model_with_data_sha", "model_with_data_bytes")


@dataclass(frozen=True)
class SnapshotFile:
    """One file of a snapshot: the entry it belongs to, its path in the folder,
    and whether it was fetched (False: it was there already, verified)."""

    model: str
    opset: int
    path: str
    fetched: bool


@dataclass(frozen=True)
class Snapshot:
    """What :func:`snapshot` did: the folder, its manifest, how many entries it
    copied now, and each of their files."""

    dest: Path
    manifest: Path
    entries: int
    files: tuple[SnapshotFile, ...]


def _select(
    infos: list[ModelInfo], models: Iterable[str], tags: Iterable[str], repo: str
) -> list[ModelInfo]:
    """The entries named one of ``models`` (any case; all when none) and having one
    of ``tags`` (all when none). Raises ModelNotFoundError for a name no entry
    has, or when nothing is left."""
    names = {m.lower(): m for m in models}
    wanted = {t.lower() for t in tags}
    missing = sorted(set(names) - {i.model.lower() for i in infos})
    if missing:
        raise ModelNotFoundError(
            f"{repo} has no model named {', '.join(names[m] for m in missing)}; "
            f"`hubtools list --repo {repo}` shows the models it has"
        )
    chosen = [
        i
        for i in infos
        if (not names or i.model.lower() in names)
        and (not wanted or wanted & {t.lower() for t in i.tags})
    ]
    if not chosen:
        raise ModelNotFoundError(f"no entry of {repo} has the models and tags asked for")
    return chosen


def _files(info: ModelInfo, test_data: bool) -> Iterator[tuple[str, str | None, int | None]]:
    """``(path, sha256, size)`` of the files of an entry that a snapshot copies."""
    md = info.entry.metadata if info.entry is not None else None
    if md is None:  # pragma: no cover - the client builds every ModelInfo with its entry
        raise ManifestError(f"{info.model} ({info.model_path}): not a usable manifest entry")
    yield info.model_path, md.model_sha, md.model_bytes
    if test_data and md.model_with_data_path is not None:
        yield md.model_with_data_path, md.model_with_data_sha, md.model_with_data_bytes


def _present(path: Path, sha: str | None, size: int | None, what: str) -> bool:
    """True when ``path`` is a file the manifest's sha256 (or, without one, size) accepts."""
    if not path.is_file():
        return False
    got_sha, got_size = sha256_file(path)
    return matches(got_sha, got_size, sha, size, what=what)


def _copy_verified(src: Path, dst: Path, sha: str | None, size: int | None, what: str) -> None:
    """Copy ``src`` to ``dst`` through a temporary file beside it, hashing on the way;
    renamed into place only when it matches. Raises ChecksumMismatchError, OSError."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    temp = temp_beside(dst)
    try:
        h = hashlib.sha256()
        n = 0
        with src.open("rb") as fin, temp.open("wb") as fout:
            while block := fin.read(CHUNK):
                fout.write(block)
                h.update(block)
                n += len(block)
        if not matches(h.hexdigest(), n, sha, size, what=what):
            raise ChecksumMismatchError(
                f"{what}: the cached file changed while it was copied (sha256 {h.hexdigest()}, "
                f"{n} bytes; the manifest says {sha}); run the snapshot again"
            )
        replace_into(temp, dst)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _entry_json(info: ModelInfo, test_data: bool) -> JSONObject:
    """The entry as the snapshot's manifest lists it: as the repository wrote it,
    without the test-data fields when the bundle was left out."""
    raw = dict(info.raw_model_info)
    metadata = raw.get("metadata")
    if not test_data and isinstance(metadata, dict):
        raw["metadata"] = {k: v for k, v in metadata.items() if k not in _DATA_KEYS}
    return raw


def _read_dest_manifest(path: Path) -> list[JSONValue]:
    """The entries a folder's manifest already lists (none when there is none).
    Raises ManifestError when it is there but not a manifest."""
    from hubtools.core.jsonfile import read_json_file

    if not path.exists():
        return []
    data = read_json_file(path).strict_data()
    if not isinstance(data, list):
        raise ManifestError(
            f"{path}: not a manifest (a JSON array); remove it, or snapshot into another folder"
        )
    return data


def _write_manifest(path: Path, entries: list[JSONObject]) -> None:
    """Merge ``entries`` into the manifest at ``path`` (an entry replaces the one with
    its ``model_path``), sorted by ``model_path``, written atomically."""
    merged: dict[str, JSONValue] = {}
    for old in _read_dest_manifest(path):
        key = old.get("model_path") if isinstance(old, dict) else None
        merged[key if isinstance(key, str) else json.dumps(old)] = old
    merged.update((str(entry["model_path"]), entry) for entry in entries)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps([merged[k] for k in sorted(merged)], indent=4) + "\n")


def snapshot(
    client: Hub,
    repo: str,
    dest: Path,
    *,
    models: Iterable[str] = (),
    tags: Iterable[str] = (),
    test_data: bool = True,
    trust_repo: bool = False,
) -> Snapshot | None:
    """Copy the entries of ``repo`` named one of ``models`` and having one of
    ``tags`` (all of them when neither is given) into ``dest``, with their
    test-data bundles unless ``test_data`` is False, and list them in
    ``dest/ONNX_HUB_MANIFEST.json`` (merged with the entries it lists already).

    Each file is fetched into the cache through ``client`` (verified, from the
    repository's host or its mirrors; from the cache alone when offline),
    copied to ``dest/<model_path>`` and verified again; a file already there
    with the manifest's sha256 is kept. The manifest is written at the end,
    and when the snapshot stops on an error or an interrupt it lists the
    entries copied until then, so the folder is always a usable hub. Returns
    None when the user declined to trust the repository.

    Raises ModelNotFoundError when a name in ``models`` is not in the
    repository or nothing is chosen, ManifestError when ``dest`` holds a
    manifest that cannot be read, and what :meth:`Hub.fetch_file` raises.
    """
    dest = Path(dest)
    manifest = dest / MANIFEST_NAME
    chosen = _select(client.list_models(repo), list(models), list(tags), repo)
    _read_dest_manifest(manifest)  # refuse an unreadable one before fetching anything
    done: list[SnapshotFile] = []
    copied: list[JSONObject] = []
    try:
        for info in chosen:
            for path, sha, size in _files(info, test_data):
                target = dest.joinpath(*check_relative_path(path).parts)
                what = f"{info.model} ({path})"
                if _present(target, sha, size, what):
                    log.info("%s: already in %s, verified", what, dest)
                    done.append(SnapshotFile(info.model, info.opset, path, False))
                    continue
                got = client.fetch_file(repo, info.model, path, sha, size, trust_repo=trust_repo)
                if got is None:
                    return None
                _copy_verified(got.path, target, sha, size, what)
                done.append(SnapshotFile(info.model, info.opset, path, True))
            copied.append(_entry_json(info, test_data))
    finally:
        if copied:
            _write_manifest(manifest, copied)
    return Snapshot(dest, manifest, len(chosen), tuple(done))
