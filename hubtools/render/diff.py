"""Render a manifest diff for people (text lines, one summary line), for
programs (a JSON object) and for pull requests (Markdown). Pure functions over
:mod:`hubtools.core.diff` results: they return what the CLI prints, never
print, and never import click."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from hubtools.render.text import escape_control, human_size

if TYPE_CHECKING:
    from hubtools.core.diff import EntryChange, FieldChange, ManifestDiff
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


# ---- Markdown, for a pull request's summary or comment --------------------------

#: GitHub refuses comments longer than this many characters.
GITHUB_COMMENT_LIMIT = 65_536
_WHAT = {
    "/model": "name",
    "/model_path": "path",
    "/onnx_version": "onnx_version",
    "/opset_version": "opset",
    "/metadata/model_sha": "sha",
    "/metadata/model_bytes": "size",
    "/metadata/tags": "tags",
    "/metadata/io_ports": "io_ports",
    "/metadata/extra_ports": "extra_ports",
    "/metadata/model_with_data_path": "test data",
    "/metadata/model_with_data_sha": "test data",
    "/metadata/model_with_data_bytes": "test data",
}


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell: no pipe, newline or HTML from a manifest."""
    text = escape_control(text)
    for raw, safe in (("|", "\\|"), ("<", "&lt;"), (">", "&gt;"), ("`", "'")):
        text = text.replace(raw, safe)
    return text


def _what_changed(change: EntryChange) -> str:
    kinds: dict[str, None] = {}
    for field in change.fields:
        key = next(
            (k for k in _WHAT if field.pointer == k or field.pointer.startswith(k + "/")), ""
        )
        kinds[_WHAT.get(key, field.pointer.split("/")[-1] or "entry")] = None
    return ", ".join(kinds) or "order"


def _delta(before: int | None, after: int | None) -> str:
    if before is None or after is None or before == after:
        return ""
    return ("+" if after > before else "") + human_size(after - before)


def _row(kind: str, entry: ModelEntry, before: int | None, after: int | None, what: str) -> str:
    cells = [
        kind,
        f"`{_cell(entry.model)}`",
        str(entry.opset_version),
        _cell(entry.model_path),
        human_size(before),
        human_size(after),
        _delta(before, after),
        what,
    ]
    return "| " + " | ".join(cells) + " |"


def headline(diff: ManifestDiff) -> str:
    """``N added, M removed, K changed, R resolution changes`` (moves counted as changes)."""
    changed = len(diff.changed) + len(diff.moved)
    resolutions = sum(1 for r in diff.resolutions if r.old is not None)
    return (
        f"{len(diff.added)} added, {len(diff.removed)} removed, {changed} changed, "
        f"{resolutions} resolution change{'s' if resolutions != 1 else ''}"
    )


def render_markdown(diff: ManifestDiff, title: str, limit: int = GITHUB_COMMENT_LIMIT) -> str:
    """The diff as Markdown for a pull request: a headline, a table of entries
    (name, opset, path, size before/after/delta, what changed), the
    ``load(name)`` resolution changes, and a note when rows were cut to keep
    the text under ``limit`` characters. Text from the manifests is escaped."""
    head = [f"### {_cell(title)}: {headline(diff)}", ""]
    if diff.same:
        return "\n".join([*head, "No entry changed."]) + "\n"
    rows = [_row("added", e, None, e.metadata.model_bytes, "new") for e in diff.added]
    rows += [_row("removed", e, e.metadata.model_bytes, None, "removed") for e in diff.removed]
    for change in (*diff.changed, *diff.moved):
        kind = "moved" if change in diff.moved else "changed"
        before, after = change.old.metadata.model_bytes, change.new.metadata.model_bytes
        rows.append(_row(kind, change.new, before, after, _what_changed(change)))
    table = [
        "| | model | opset | path | size before | size after | change | what changed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    tail = []
    resolved = [r for r in diff.resolutions if r.old is not None]
    if resolved:
        tail += ["", "**What `load(name)` with no opset now gives:**", ""]
        tail += [
            f"- `{_cell(r.name)}`: was {_cell(_resolved(r.old))}, now {_cell(_resolved(r.new))}"
            for r in resolved
        ]
    if diff.order_changed:
        tail += ["", "The order of the entries changed (generate writes them sorted by path)."]
    body = [*head, *table]
    size = sum(len(line) + 1 for line in (*body, *tail)) + 200  # room for the cut note
    shown = 0
    for row in rows:
        if size + len(row) + 1 > limit:
            break
        body.append(row)
        size += len(row) + 1
        shown += 1
    if shown < len(rows):
        tail += [
            "",
            f"_{len(rows) - shown} more rows not shown, to stay under GitHub's "
            f"{limit:,}-character limit; `hubtools diff` lists them all._",
        ]
    return "\n".join([*body, *tail]) + "\n"
