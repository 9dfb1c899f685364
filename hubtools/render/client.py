"""Render what the hub client and the cache give: model tables and entries,
where a download came from, and the cache listing, verification and pruning.
Pure functions: they return what the CLI prints, never print, never import
click, and never touch the network or the cache themselves."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hubtools.client.cache import CachedFile, VerifyResult
    from hubtools.hub import Download, ModelInfo


def table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    """Columns padded to their widest cell, two spaces apart, no trailing blanks."""
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
    return lines


def info_json(found: ModelInfo) -> str:
    """One model's manifest entry as indented JSON."""
    return json.dumps(found.raw_model_info, indent=2)


def download_source(got: Download) -> str:
    """``hubtools: <model_path> from <URL or cache>``: which source served a download."""
    where = "cache" if got.from_cache else got.source
    return f"hubtools: {got.model_path} from {where}"


# ---- cache -----------------------------------------------------------------------


def cache_table(items: Sequence[CachedFile], root: Path) -> str:
    """Cached files as a BYTES/KIND/PATH table, paths relative to ``root``."""
    rows = [[str(i.size), i.kind, str(i.path.relative_to(root))] for i in items]
    return table(rows, ["BYTES", "KIND", "PATH"])


def cache_total(items: Sequence[CachedFile], root: Path) -> str:
    """``total: N file(s), B bytes in <root>``."""
    return f"total: {len(items)} file(s), {sum(i.size for i in items)} bytes in {root}"


def cache_json(items: Sequence[CachedFile], root: Path) -> str:
    """The cache listing as one indented JSON object: folder, files and total bytes."""
    files = [{"path": str(i.path.relative_to(root)), "size": i.size, "kind": i.kind} for i in items]
    total = sum(i.size for i in items)
    return json.dumps({"cache_dir": str(root), "files": files, "total": total}, indent=2)


def verify_lines(results: Sequence[VerifyResult], root: Path) -> list[str]:
    """One line per corrupt file found (and removed) by a cache verification."""
    return [
        f"{r.path.relative_to(root)}: got sha256 {r.actual}, name says {r.expected}; removed"
        for r in results
        if not r.ok
    ]


def verify_summary(results: Sequence[VerifyResult]) -> str:
    """``N file(s) checked, M corrupt``."""
    return f"{len(results)} file(s) checked, {sum(1 for r in results if not r.ok)} corrupt"


def _verb(dry_run: bool) -> str:
    return "would remove" if dry_run else "removed"


def prune_lines(removed: Sequence[CachedFile], root: Path, *, dry_run: bool) -> list[str]:
    """One line per file a prune removed (or, with ``dry_run``, would remove)."""
    verb = _verb(dry_run)
    return [f"{verb} {i.kind} {i.path.relative_to(root)} ({i.size} bytes)" for i in removed]


def prune_summary(removed: Sequence[CachedFile], *, dry_run: bool) -> str:
    """``removed N item(s), B bytes`` (``would remove`` with ``dry_run``)."""
    return f"{_verb(dry_run)} {len(removed)} item(s), {sum(i.size for i in removed)} bytes"
