"""The manifest diff engine: compare two manifests entry by entry, matched by
``model_path``, report an entry that moved (same name, opset and sha256 under a
new path) as moved rather than removed and added, and say which model names a
client would now resolve differently. It computes only: it never formats or
prints (that is :mod:`hubtools.render.diff`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from hubtools.core.jsonfile import escape_pointer_token
from hubtools.core.manifest import JSONValue, Manifest, ModelEntry


@dataclass(frozen=True)
class FieldChange:
    """One changed value inside an entry: its pointer relative to the entry."""

    pointer: str
    old: JSONValue
    new: JSONValue
    old_present: bool = True
    new_present: bool = True


@dataclass(frozen=True)
class EntryChange:
    """An entry present in both manifests (or moved), with what changed in it."""

    old: ModelEntry
    new: ModelEntry
    fields: tuple[FieldChange, ...]


@dataclass(frozen=True)
class ResolutionChange:
    """What ``load(name)`` with no opset gives before and after (None: no such model)."""

    name: str
    old: ModelEntry | None
    new: ModelEntry | None


@dataclass(frozen=True)
class ManifestDiff:
    """Everything that differs between two manifests."""

    added: tuple[ModelEntry, ...]
    removed: tuple[ModelEntry, ...]
    changed: tuple[EntryChange, ...]
    moved: tuple[EntryChange, ...]
    resolutions: tuple[ResolutionChange, ...]
    order_changed: bool

    @property
    def same(self) -> bool:
        """True when the two manifests hold the same entries in the same order."""
        return not (self.added or self.removed or self.changed or self.moved or self.order_changed)


def default_entry(
    entries: tuple[ModelEntry, ...] | list[ModelEntry], name: str
) -> ModelEntry | None:
    """The entry a client gets for ``name`` with no opset: the case-insensitive
    match with the highest opset, the first in file order among equals (as
    ``onnx.hub`` did)."""
    wanted = name.casefold()
    best: ModelEntry | None = None
    for entry in entries:
        if entry.model.casefold() == wanted and (
            best is None or entry.opset_version > best.opset_version
        ):
            best = entry
    return best


def _field_changes(old: JSONValue, new: JSONValue, pointer: str = "") -> Iterator[FieldChange]:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in list(old) + [k for k in new if k not in old]:
            sub = f"{pointer}/{escape_pointer_token(key)}"
            if key not in new:
                yield FieldChange(sub, old[key], None, new_present=False)
            elif key not in old:
                yield FieldChange(sub, None, new[key], old_present=False)
            else:
                yield from _field_changes(old[key], new[key], sub)
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            yield from _field_changes(a, b, f"{pointer}/{i}")
    elif old != new or type(old) is not type(new):
        yield FieldChange(pointer, old, new)


def _target(entry: ModelEntry | None) -> tuple[str, int] | None:
    return None if entry is None else (entry.model_path, entry.opset_version)


def _defaults(entries: tuple[ModelEntry, ...]) -> dict[str, ModelEntry]:
    """:func:`default_entry` of every name at once, keyed by the casefolded name."""
    best: dict[str, ModelEntry] = {}
    for entry in entries:
        key = entry.model.casefold()
        current = best.get(key)
        if current is None or entry.opset_version > current.opset_version:
            best[key] = entry
    return best


def diff_manifests(old: Manifest, new: Manifest) -> ManifestDiff:
    """Compare ``old`` with ``new``, in time linear in their entries."""
    old_by_path = {e.model_path: e for e in old}
    new_by_path = {e.model_path: e for e in new}
    added = [e for e in new if e.model_path not in old_by_path]
    removed = [e for e in old if e.model_path not in new_by_path]
    changed = []
    for entry in old:
        other = new_by_path.get(entry.model_path)
        if other is not None:
            fields = tuple(_field_changes(entry.to_json(), other.to_json()))
            if fields:
                changed.append(EntryChange(entry, other, fields))

    def identity(e: ModelEntry) -> tuple[str, int, str | None]:
        return (e.model.casefold(), e.opset_version, e.metadata.model_sha)

    # A removed entry moved to the last added entry of its identity, each identity
    # once. The entries that leave the lists are found by position in one pass;
    # of equal added entries the first leaves, as list.remove would take it.
    moved = []
    added_by_identity: dict[tuple[str, int, str | None], list[int]] = {}
    for j, e in enumerate(added):
        added_by_identity.setdefault(identity(e), []).append(j)
    moved_from, moved_to = set(), set()
    for i, entry in enumerate(removed):
        group = added_by_identity.pop(identity(entry), None)
        if group is not None:
            target = added[group[-1]]
            moved_from.add(i)
            moved_to.add(next(j for j in group if added[j] == target))
            moved.append(
                EntryChange(entry, target, tuple(_field_changes(entry.to_json(), target.to_json())))
            )
    removed = [e for i, e in enumerate(removed) if i not in moved_from]
    added = [e for j, e in enumerate(added) if j not in moved_to]

    names = dict.fromkeys(e.model.casefold() for e in (*old, *new))
    old_defaults, new_defaults = _defaults(old.entries), _defaults(new.entries)
    resolutions = []
    for name in names:
        before, after = old_defaults.get(name), new_defaults.get(name)
        if _target(before) != _target(after):
            shown = after or before
            assert shown is not None
            resolutions.append(ResolutionChange(shown.model, before, after))
    common_old = [e.model_path for e in old if e.model_path in new_by_path]
    common_new = [e.model_path for e in new if e.model_path in old_by_path]
    return ManifestDiff(
        added=tuple(added),
        removed=tuple(removed),
        changed=tuple(changed),
        moved=tuple(moved),
        resolutions=tuple(resolutions),
        order_changed=common_old != common_new,
    )
