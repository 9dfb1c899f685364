"""Render what the hub client and the cache give: model tables and entries,
where a download came from, and the cache listing, verification and pruning.
Pure functions: they return what the CLI prints, never print, never import
click, and never touch the network or the cache themselves. Names, tags,
paths and URLs come from manifests nobody vetted (``list`` and ``info`` need
no trust), so every text line escapes control and bidi characters
(:func:`~hubtools.render.text.escape_control`); JSON output escapes them as
``\\u001b`` and stays valid JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from hubtools.render.text import escape_control

if TYPE_CHECKING:
    from hubtools.client.cache import CachedFile, VerifyResult
    from hubtools.hub import Download, ModelInfo


def table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    """Columns padded to their widest cell, two spaces apart, no trailing blanks;
    control characters in cells escaped."""
    header = [escape_control(c) for c in header]
    rows = [[escape_control(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in [header, *rows]
    ]
    return "\n".join(lines)


# ---- models ----------------------------------------------------------------------


def models_table(infos: Sequence[ModelInfo]) -> str:
    """The models as a MODEL/OPSET/TAGS/PATH table (``hubtools list``)."""
    rows = [[i.model, str(i.opset), ", ".join(sorted(i.tags)), i.model_path] for i in infos]
    return table(rows, ["MODEL", "OPSET", "TAGS", "PATH"])


def models_json(infos: Sequence[ModelInfo]) -> str:
    """The models' manifest entries as one indented JSON array."""
    return json.dumps([i.raw_model_info for i in infos], indent=2)


def models_count(infos: Sequence[ModelInfo]) -> str:
    """``3 model(s)``."""
    return f"{len(infos)} model(s)"


def info_lines(found: ModelInfo) -> list[str]:
    """One model's entry as ``key: value`` lines (``hubtools info``): name,
    opset, path, sha256, size, tags, one line per port, and the test data."""
    md = found.metadata
    lines = [
        f"model: {found.model}",
        f"opset: {found.opset}",
        f"path: {found.model_path}",
        f"sha256: {found.model_sha}",
        f"bytes: {md.get('model_bytes')}",
        f"tags: {', '.join(sorted(found.tags))}",
    ]
    ports = md.get("io_ports")
    if isinstance(ports, dict):
        for side in ("inputs", "outputs"):
            side_ports = ports.get(side)
            for port in side_ports if isinstance(side_ports, list) else []:
                if isinstance(port, dict):
                    name, kind, shape = port.get("name"), port.get("type"), port.get("shape")
                    lines.append(f"{side[:-1]}: {name} {kind} {shape}")
    if md.get("model_with_data_path"):
        lines.append(f"test data: {md.get('model_with_data_path')}")
    return [escape_control(line) for line in lines]


def info_json(found: ModelInfo) -> str:
    """One model's manifest entry as indented JSON."""
    return json.dumps(found.raw_model_info, indent=2)


def download_source(got: Download) -> str:
    """``hubtools: <model_path> from <URL or cache>``: which source served a download."""
    where = "cache" if got.from_cache else got.source
    return escape_control(f"hubtools: {got.model_path} from {where}")


def local_path(path: Path) -> str:
    """A path in the cache, as ``hubtools download`` prints it."""
    return escape_control(str(path))


# ---- cache -----------------------------------------------------------------------


def cache_table(items: Sequence[CachedFile], root: Path) -> str:
    """Cached files as a BYTES/KIND/PATH table, paths relative to ``root``."""
    rows = [[str(i.size), i.kind, str(i.path.relative_to(root))] for i in items]
    return table(rows, ["BYTES", "KIND", "PATH"])


def cache_total(items: Sequence[CachedFile], root: Path) -> str:
    """``total: N file(s), B bytes in <root>``."""
    total = sum(i.size for i in items)
    return escape_control(f"total: {len(items)} file(s), {total} bytes in {root}")


def cache_json(items: Sequence[CachedFile], root: Path) -> str:
    """The cache listing as one indented JSON object: folder, files and total bytes."""
    files = [{"path": str(i.path.relative_to(root)), "size": i.size, "kind": i.kind} for i in items]
    total = sum(i.size for i in items)
    return json.dumps({"cache_dir": str(root), "files": files, "total": total}, indent=2)


def verify_lines(results: Sequence[VerifyResult], root: Path) -> list[str]:
    """One line per corrupt model file or changed extracted folder a cache
    verification found, and whether it was removed."""
    lines = []
    for r in results:
        if r.ok:
            continue
        if r.kind == "extracted":
            what = f"{r.path.relative_to(root)}: {r.actual}"
            done = "removed (extracted again from its archive at the next load)"
        else:
            what = f"{r.path.relative_to(root)}: got sha256 {r.actual}, name says {r.expected}"
            done = "removed"
        lines.append(escape_control(f"{what}; {done if r.kept is None else 'kept: ' + r.kept}"))
    return lines


def verify_summary(results: Sequence[VerifyResult]) -> str:
    """``N file(s) checked, M corrupt`` (and the extracted folders, when there are some)."""
    folders = sum(1 for r in results if r.kind == "extracted")
    checked = f"{len(results) - folders} file(s)"
    if folders:
        checked += f" and {folders} extracted folder(s)"
    return f"{checked} checked, {sum(1 for r in results if not r.ok)} corrupt"


def _verb(dry_run: bool) -> str:
    return "would remove" if dry_run else "removed"


def prune_lines(removed: Sequence[CachedFile], root: Path, *, dry_run: bool) -> list[str]:
    """One line per file a prune removed (or, with ``dry_run``, would remove)."""
    verb = _verb(dry_run)
    return [
        escape_control(f"{verb} {i.kind} {i.path.relative_to(root)} ({i.size} bytes)")
        for i in removed
    ]


def prune_in_use_lines(in_use: Sequence[CachedFile], root: Path) -> list[str]:
    """One line per file a prune kept because a running process holds its lock."""
    return [
        escape_control(
            f"kept {i.kind} {i.path.relative_to(root)} ({i.size} bytes): in use by a "
            "running download or extraction"
        )
        for i in in_use
    ]


def prune_summary(
    removed: Sequence[CachedFile], *, dry_run: bool, in_use: Sequence[CachedFile] = ()
) -> str:
    """``removed N item(s), B bytes`` (``would remove`` with ``dry_run``), and how
    many were kept because they are in use."""
    text = f"{_verb(dry_run)} {len(removed)} item(s), {sum(i.size for i in removed)} bytes"
    return text + (f"; {len(in_use)} in use, kept" if in_use else "")
