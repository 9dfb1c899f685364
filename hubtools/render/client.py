"""Render what the hub client and the cache give: model tables and entries,
where a download came from, the cache listing, removal, verification and
pruning, the trusted list, and snapshots.
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

from hubtools.render.text import escape_control, human_size, size_text

if TYPE_CHECKING:
    from hubtools.client.housekeeping import CachedFile, Owner, Pruned, Removed, VerifyResult
    from hubtools.client.snapshot import Snapshot
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


def _size_of(value: object) -> str:
    """A manifest's size field in text: as :func:`size_text`, or as written when not a count."""
    if isinstance(value, int) and not isinstance(value, bool):
        return size_text(value)
    return "unknown" if value is None else repr(value)


def info_lines(found: ModelInfo) -> list[str]:
    """One model's entry as ``key: value`` lines (``hubtools info``): name,
    opset, path, sha256, size, tags, one line per port, and the test data."""
    md = found.metadata
    lines = [
        f"model: {found.model}",
        f"opset: {found.opset}",
        f"path: {found.model_path}",
        f"sha256: {found.model_sha}",
        f"size: {_size_of(md.get('model_bytes'))}",
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


def _joined(values: Sequence[str]) -> str:
    """Distinct values in order, comma-separated; ``-`` for none."""
    return ", ".join(dict.fromkeys(v for v in values if v)) or "-"


def cache_table(described: Sequence[tuple[CachedFile, Sequence[Owner]]], root: Path) -> str:
    """Cached files as a REPO/MODEL/OPSET/SIZE/KIND/PATH table, sizes in human
    units, paths relative to ``root``; ``-`` where no kept manifest names a file."""
    rows = [
        [
            _joined([o.repo for o in owners]),
            _joined([o.model for o in owners]),
            _joined([str(o.opset) for o in owners if o.model]),
            human_size(item.size),
            item.kind,
            str(item.path.relative_to(root)),
        ]
        for item, owners in described
    ]
    return table(rows, ["REPO", "MODEL", "OPSET", "SIZE", "KIND", "PATH"])


def cache_total(items: Sequence[CachedFile], root: Path) -> str:
    """``total: N file(s), 3.4 MiB (3563337 bytes) in <root>``."""
    total = sum(i.size for i in items)
    return escape_control(f"total: {len(items)} file(s), {size_text(total)} in {root}")


def _file_json(item: CachedFile, root: Path) -> dict[str, object]:
    return {"path": str(item.path.relative_to(root)), "size": item.size, "kind": item.kind}


def cache_json(described: Sequence[tuple[CachedFile, Sequence[Owner]]], root: Path) -> str:
    """The cache listing as one indented JSON object: folder, files (each with the
    repositories and models it belongs to) and total bytes."""
    files = [
        {
            **_file_json(item, root),
            "repos": list(dict.fromkeys(o.repo for o in owners)),
            "models": [
                {"repo": o.repo, "model": o.model, "opset": o.opset} for o in owners if o.model
            ],
        }
        for item, owners in described
    ]
    total = sum(item.size for item, _ in described)
    return json.dumps({"cache_dir": str(root), "files": files, "total": total}, indent=2)


def removed_lines(done: Removed, root: Path, *, dry_run: bool) -> list[str]:
    """One line per item ``cache rm`` removed (or would remove), kept because a
    running download holds it, or kept because another repository uses it."""
    verb = _verb(dry_run)
    lines = [
        escape_control(f"{verb} {i.kind} {i.path.relative_to(root)} ({human_size(i.size)})")
        for i in done.removed
    ]
    lines += prune_in_use_lines(done.in_use, root)
    lines += [
        escape_control(
            f"kept {i.kind} {i.path.relative_to(root)} ({human_size(i.size)}): also in "
            f"{', '.join(repos)}"
        )
        for i, repos in done.shared
    ]
    return lines


def removed_summary(
    done: Removed, model: str | None, opset: int | None, repo: str | None, *, dry_run: bool
) -> str:
    """What ``cache rm`` did in one line, or that no kept manifest lists what was asked."""
    what = " ".join(
        part
        for part in (
            model or "",
            f"(opset {opset})" if opset is not None else "",
            (f"in {repo}" if model else repo) if repo else "",
        )
        if part
    )
    if not done.matched:
        return escape_control(
            f"hubtools: no kept manifest lists {what}; `hubtools cache ls` shows what the "
            "cache holds"
        )
    total = sum(i.size for i in done.removed)
    text = f"{_verb(dry_run)} {len(done.removed)} item(s), {human_size(total)}, of {what}"
    if done.in_use:
        text += f"; {len(done.in_use)} in use, kept"
    if done.shared:
        text += f"; {len(done.shared)} used by another repository, kept"
    return escape_control(text)


def removed_json(done: Removed, root: Path, *, dry_run: bool) -> str:
    """What ``cache rm`` removed (or would remove) and kept, as indented JSON."""
    return json.dumps(
        {
            "dry_run": dry_run,
            "matched": done.matched,
            "removed": [_file_json(i, root) for i in done.removed],
            "in_use": [_file_json(i, root) for i in done.in_use],
            "shared": [{**_file_json(i, root), "repos": repos} for i, repos in done.shared],
            "total": sum(i.size for i in done.removed),
        },
        indent=2,
    )


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
        escape_control(f"{verb} {i.kind} {i.path.relative_to(root)} ({human_size(i.size)})")
        for i in removed
    ]


def prune_in_use_lines(in_use: Sequence[CachedFile], root: Path) -> list[str]:
    """One line per file a prune kept because a running process holds its lock."""
    return [
        escape_control(
            f"kept {i.kind} {i.path.relative_to(root)} ({human_size(i.size)}): in use by a "
            "running download or extraction"
        )
        for i in in_use
    ]


def prune_summary(
    removed: Sequence[CachedFile], *, dry_run: bool, in_use: Sequence[CachedFile] = ()
) -> str:
    """``removed N item(s), 1.2 MiB`` (``would remove`` with ``dry_run``), and how
    many were kept because they are in use."""
    text = f"{_verb(dry_run)} {len(removed)} item(s), {human_size(sum(i.size for i in removed))}"
    return text + (f"; {len(in_use)} in use, kept" if in_use else "")


# ---- trust -----------------------------------------------------------------------


def trust_table(entries: Sequence[tuple[str, str]]) -> str:
    """The trusted entries as an ENTRY/FROM table, then the rule for folders."""
    text = table([list(e) for e in entries], ["ENTRY", "FROM"])
    return text + "\n" + "(and any folder named as the repository: your own files)"


def trust_json(entries: Sequence[tuple[str, str]]) -> str:
    """The trusted entries as an indented JSON array of ``{"entry", "from"}``."""
    return json.dumps([{"entry": e, "from": where} for e, where in entries], indent=2)


def trust_changed(
    entry: str, where: Path, *, added: bool | None = None, removed: bool | None = None
) -> str:
    """What ``trust add`` or ``trust rm`` did to the trusted list at ``where``."""
    if added is not None:
        done = "is trusted from now on" if added else "was trusted already"
        return escape_control(f"hubtools: {entry} {done} ({where})")
    if removed:
        return escape_control(f"hubtools: {entry} is no longer trusted (removed from {where})")
    return escape_control(
        f"hubtools: {entry} is not in {where}; `hubtools trust ls` shows where each "
        "trusted entry comes from"
    )


def trust_changed_json(
    entry: str, where: Path, *, added: bool | None = None, removed: bool | None = None
) -> str:
    """``trust add|rm --format json``: the entry, the list's path, and what changed."""
    done: dict[str, object] = {"entry": entry, "trusted_file": str(where)}
    if added is not None:
        done["added"] = added
    if removed is not None:
        done["removed"] = removed
    return json.dumps(done, indent=2)


# ---- snapshot ---------------------------------------------------------------------


def snapshot_lines(done: Snapshot) -> list[str]:
    """One line per file of a snapshot: fetched, or kept (already there, verified)."""
    return [
        escape_control(f"{'fetched' if f.fetched else 'kept'} {f.model} (opset {f.opset}) {f.path}")
        for f in done.files
    ]


def snapshot_summary(done: Snapshot) -> str:
    """``snapshot of N entries in DEST: ...``, and how to use it."""
    fetched = sum(1 for f in done.files if f.fetched)
    return escape_control(
        f"snapshot of {done.entries} entries in {done.dest}: {fetched} file(s) fetched, "
        f"{len(done.files) - fetched} already there and verified; load from it with "
        f"--repo {done.dest} (no network needed)"
    )


def snapshot_json(done: Snapshot) -> str:
    """``snapshot --format json``: the folder, its manifest, and every file with
    whether it was fetched or already there (verified)."""
    fetched = sum(1 for f in done.files if f.fetched)
    return json.dumps(
        {
            "dest": str(done.dest),
            "manifest": str(done.manifest),
            "entries": done.entries,
            "fetched": fetched,
            "kept": len(done.files) - fetched,
            "files": [
                {"model": f.model, "opset": f.opset, "path": f.path, "fetched": f.fetched}
                for f in done.files
            ],
        },
        indent=2,
    )


# ---- JSON of the cache commands and download --------------------------------------


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def verify_json(results: Sequence[VerifyResult], root: Path) -> str:
    """``cache verify --format json``: every file checked, and the bad ones."""
    return json.dumps(
        {
            "cache_dir": str(root),
            "checked": len(results),
            "corrupt": [
                {
                    "path": _relative(r.path, root),
                    "kind": r.kind,
                    "expected": r.expected,
                    "actual": r.actual,
                    "removed": r.kept is None,
                    "kept_because": r.kept,
                }
                for r in results
                if not r.ok
            ],
        },
        indent=2,
    )


def prune_json(pruned: Pruned, root: Path, *, dry_run: bool) -> str:
    """``cache prune --format json``: what was (or would be) removed, what is in use."""

    def item(i: CachedFile) -> dict[str, object]:
        return {"path": _relative(i.path, root), "kind": i.kind, "bytes": i.size}

    return json.dumps(
        {
            "cache_dir": str(root),
            "dry_run": dry_run,
            "removed": [item(i) for i in pruned.removed],
            "removed_bytes": sum(i.size for i in pruned.removed),
            "in_use": [item(i) for i in pruned.in_use],
        },
        indent=2,
    )


def download_json(path: Path, got: Download | None) -> str:
    """``download --format json``: the local path, and where the file came from."""
    return json.dumps(
        {
            "path": str(path),
            "model": got.model if got else None,
            "model_path": got.model_path if got else None,
            "source": got.source if got else None,
            "from_cache": got.from_cache if got else None,
            "skipped": list(got.skipped) if got else [],
        },
        indent=2,
    )
