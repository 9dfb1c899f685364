"""Extracted archives in the cache: where an archive is extracted, the record of
what was extracted (sizes, sha256, times of every file, written atomically
beside the folder), and the check of a folder against it, so a file edited
inside an extracted archive is caught. It never downloads."""

from __future__ import annotations

import json
import logging
import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hubtools.client.cache import leftovers, remove_path
from hubtools.core.archives import strip_archive_suffix
from hubtools.core.files import sha256_file, write_atomic

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

RECORD_SUFFIX = ".files.json"
#: Extracted content up to this size is hashed on every load; above it, a load
#: compares sizes and modification times only, and ``cache verify`` hashes it.
HASH_ON_LOAD_MAX = 64 << 20
RECORD_RE = re.compile(r"^\.(?P<owner>.+)" + re.escape(RECORD_SUFFIX) + "$")


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
    for path in leftovers(folder):
        remove_path(path)
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
