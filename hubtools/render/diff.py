"""Render a manifest diff for people (text lines, one summary line) and for
programs (a JSON object). Pure functions over :mod:`hubtools.core.diff` results:
they return what the CLI prints, never print, and never import click."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hubtools.core.diff import FieldChange, ManifestDiff
    from hubtools.core.manifest import JSONObject, JSONValue, ModelEntry


def _json(value: JSONValue) -> str:
    return json.dumps(value, ensure_ascii=False)


def _label(entry: ModelEntry) -> str:
    return f"{entry.model_path} ({entry.model}, opset {entry.opset_version})"


def _resolved(entry: ModelEntry | None) -> str:
    if entry is None:
        return "nothing (no such model)"
    return f"{entry.model_path} (opset {entry.opset_version})"


def _field_line(change: FieldChange) -> str:
    if not change.old_present:
        return f"    {change.pointer}: added {_json(change.new)}"
    if not change.new_present:
        return f"    {change.pointer}: removed (was {_json(change.old)})"
    return f"    {change.pointer}: {_json(change.old)} -> {_json(change.new)}"


def render_text(diff: ManifestDiff) -> list[str]:
    """The diff as lines for people: ``+`` added, ``-`` removed, ``~`` changed
    (one indented line per field), ``>`` moved, then ``!`` for each existing
    name that a client now resolves differently (new names are only ``+``)."""
    lines = [f"+ {_label(e)}" for e in diff.added]
    lines += [f"- {_label(e)}" for e in diff.removed]
    for change in diff.changed:
        lines.append(f"~ {_label(change.new)}")
        lines += [_field_line(f) for f in change.fields]
    for change in diff.moved:
        lines.append(f"> {change.old.model_path} -> {change.new.model_path}")
        lines += [_field_line(f) for f in change.fields if f.pointer != "/model_path"]
    for res in diff.resolutions:
        if res.old is None:
            continue  # a new name: its entry is listed as added above
        lines.append(
            f"! load({res.name!r}) with no opset: was {_resolved(res.old)}, "
            f"now {_resolved(res.new)}"
        )
    if diff.order_changed:
        lines.append("! the order of entries changed")
    return lines


def summary_text(diff: ManifestDiff) -> str:
    """One line: how many entries were added, removed, changed and moved."""
    new_names = sum(1 for r in diff.resolutions if r.old is None)
    return (
        f"{len(diff.added)} added, {len(diff.removed)} removed, {len(diff.changed)} changed, "
        f"{len(diff.moved)} moved; {len(diff.resolutions) - new_names} default resolutions "
        f"changed, {new_names} new names"
    )


def _field_json(change: FieldChange) -> JSONObject:
    out: JSONObject = {"pointer": change.pointer}
    if change.old_present:
        out["old"] = change.old
    if change.new_present:
        out["new"] = change.new
    return out


def _ref(entry: ModelEntry | None) -> JSONValue:
    if entry is None:
        return None
    return {
        "model": entry.model,
        "model_path": entry.model_path,
        "opset_version": entry.opset_version,
    }


def to_json(diff: ManifestDiff) -> JSONObject:
    """The diff as a JSON object (added/removed entries in full, changes field by field)."""
    return {
        "same": diff.same,
        "added": [e.to_json() for e in diff.added],
        "removed": [e.to_json() for e in diff.removed],
        "changed": [
            {"model_path": c.new.model_path, "fields": [_field_json(f) for f in c.fields]}
            for c in diff.changed
        ],
        "moved": [
            {
                "from": c.old.model_path,
                "to": c.new.model_path,
                "fields": [_field_json(f) for f in c.fields],
            }
            for c in diff.moved
        ],
        "resolutions": [
            {"model": r.name, "old": _ref(r.old), "new": _ref(r.new)} for r in diff.resolutions
        ],
        "order_changed": diff.order_changed,
    }


def json_text(diff: ManifestDiff) -> str:
    """:func:`to_json` as the indented document ``hubtools diff --format json`` prints."""
    return json.dumps(to_json(diff), indent=2, ensure_ascii=False)
