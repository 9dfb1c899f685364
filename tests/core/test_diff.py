"""The manifest diff engine: what counts as added, removed, changed, moved,
reordered, and which name a client resolves to, on tiny hand-built manifests."""

from __future__ import annotations

from hubtools.core.diff import (
    EntryChange,
    FieldChange,
    ManifestDiff,
    ResolutionChange,
    default_entry,
    diff_manifests,
)
from hubtools.core.manifest import JSONValue, Manifest, Metadata, ModelEntry

SHA_A, SHA_B, SHA_C = "a" * 64, "b" * 64, "c" * 64


def entry(
    model: str,
    path: str,
    opset: int = 12,
    sha: str = SHA_A,
    *,
    onnx_version: str = "1.9",
    size: int = 10,
    tags: tuple[str, ...] = (),
    extra: tuple[tuple[str, JSONValue], ...] = (),
) -> ModelEntry:
    metadata = Metadata(model_sha=sha, model_bytes=size, tags=tags, extra=extra)
    return ModelEntry(model, path, onnx_version, opset, metadata)


def manifest(*entries: ModelEntry) -> Manifest:
    return Manifest.from_entries(entries)


def test_identical_manifests_are_the_same() -> None:
    m = manifest(entry("mnist", "m/mnist-12.onnx"), entry("resnet", "r/resnet.onnx", sha=SHA_B))
    assert diff_manifests(m, m) == ManifestDiff((), (), (), (), (), order_changed=False)
    assert diff_manifests(m, m).same
    assert diff_manifests(Manifest(), Manifest()).same


def test_an_added_entry_and_its_new_name() -> None:
    old_a = entry("mnist", "m/mnist-12.onnx")
    new_b = entry("resnet", "r/resnet.onnx", 7, SHA_B)
    result = diff_manifests(manifest(old_a), manifest(old_a, new_b))
    assert result.added == (new_b,)
    assert (result.removed, result.changed, result.moved) == ((), (), ())
    assert result.resolutions == (ResolutionChange("resnet", None, new_b),)
    assert not result.order_changed
    assert not result.same


def test_a_removed_entry_and_the_name_it_leaves() -> None:
    a = entry("mnist", "m/mnist-12.onnx")
    b = entry("resnet", "r/resnet.onnx", 7, SHA_B)
    result = diff_manifests(manifest(a, b), manifest(a))
    assert result.removed == (b,)
    assert (result.added, result.changed, result.moved) == ((), (), ())
    assert result.resolutions == (ResolutionChange("resnet", b, None),)
    assert not result.same


def test_a_changed_entry_lists_each_field_in_entry_order() -> None:
    old = entry("mnist", "m/mnist-12.onnx", tags=("vision", "old"), extra=(("note", "x"),))
    new = entry(
        "mnist",
        "m/mnist-12.onnx",
        onnx_version="1.10",
        size=11,
        tags=("vision", "new"),
        extra=(("a/b", 1),),
    )
    result = diff_manifests(manifest(old), manifest(new))
    assert result.changed == (
        EntryChange(
            old,
            new,
            (
                FieldChange("/onnx_version", "1.9", "1.10"),
                FieldChange("/metadata/model_bytes", 10, 11),
                FieldChange("/metadata/tags/1", "old", "new"),
                FieldChange("/metadata/note", "x", None, new_present=False),
                FieldChange("/metadata/a~1b", None, 1, old_present=False),
            ),
        ),
    )
    assert (result.added, result.removed, result.moved, result.resolutions) == ((), (), (), ())
    assert not result.same


def test_lists_of_another_length_and_values_of_another_type_change_whole() -> None:
    old = entry("m", "m.onnx", tags=("a",), extra=(("flag", 1),))
    new = entry("m", "m.onnx", tags=("a", "b"), extra=(("flag", True),))
    (change,) = diff_manifests(manifest(old), manifest(new)).changed
    assert change.fields == (
        FieldChange("/metadata/tags", ["a"], ["a", "b"]),
        FieldChange("/metadata/flag", 1, True),
    )


def test_an_entry_under_a_new_path_is_moved_not_removed_and_added() -> None:
    old = entry("mnist", "old/mnist-12.onnx")
    new = entry("MNIST", "new/mnist-12.onnx")  # the name matches case-insensitively
    result = diff_manifests(manifest(old), manifest(new))
    assert result.moved == (
        EntryChange(
            old,
            new,
            (
                FieldChange("/model", "mnist", "MNIST"),
                FieldChange("/model_path", "old/mnist-12.onnx", "new/mnist-12.onnx"),
            ),
        ),
    )
    assert (result.added, result.removed, result.changed) == ((), (), ())
    assert result.resolutions == (ResolutionChange("MNIST", old, new),)
    assert not result.same


def test_a_new_path_with_another_sha_or_opset_is_not_a_move() -> None:
    old = entry("mnist", "old/mnist.onnx")
    other_sha = entry("mnist", "new/mnist.onnx", sha=SHA_B)
    result = diff_manifests(manifest(old), manifest(other_sha))
    assert (result.added, result.removed, result.moved) == ((other_sha,), (old,), ())
    other_opset = entry("mnist", "new/mnist.onnx", 13)
    result = diff_manifests(manifest(old), manifest(other_opset))
    assert (result.added, result.removed, result.moved) == ((other_opset,), (old,), ())


def test_a_higher_opset_changes_what_a_name_resolves_to() -> None:
    m7 = entry("mnist", "m/mnist-7.onnx", 7)
    m12 = entry("mnist", "m/mnist-12.onnx", 12, SHA_B)
    m13 = entry("Mnist", "m/mnist-13.onnx", 13, SHA_C)
    result = diff_manifests(manifest(m7, m12), manifest(m7, m12, m13))
    assert result.added == (m13,)
    assert result.resolutions == (ResolutionChange("Mnist", m12, m13),)
    result = diff_manifests(manifest(m7, m12), manifest(m7))
    assert result.resolutions == (ResolutionChange("mnist", m12, m7),)
    # Removing a lower opset leaves the resolution as it was.
    assert diff_manifests(manifest(m7, m12), manifest(m12)).resolutions == ()


def test_only_the_order_changed() -> None:
    a = entry("mnist", "m/mnist-12.onnx")
    b = entry("resnet", "r/resnet.onnx", sha=SHA_B)
    result = diff_manifests(manifest(a, b), manifest(b, a))
    assert result == ManifestDiff((), (), (), (), (), order_changed=True)
    assert not result.same


def test_default_entry_takes_the_highest_opset() -> None:
    m7 = entry("mnist", "m/mnist-7.onnx", 7)
    m12 = entry("mnist", "m/mnist-12.onnx", 12)
    m8 = entry("mnist", "m/mnist-8.onnx", 8)
    other = entry("resnet", "r/resnet.onnx", 18)
    assert default_entry((m7, m12, m8, other), "mnist") is m12
    assert default_entry([other, m7], "mnist") is m7


def test_default_entry_takes_the_first_among_equal_opsets() -> None:
    first = entry("mnist", "a/mnist.onnx", 12)
    second = entry("mnist", "b/mnist.onnx", 12)
    assert default_entry((first, second), "mnist") is first
    assert default_entry((second, first), "mnist") is second


def test_default_entry_matches_names_case_insensitively() -> None:
    upper = entry("MNIST", "a/mnist.onnx", 12)
    lower = entry("mnist", "b/mnist.onnx", 12)
    assert default_entry((upper, lower), "Mnist") is upper
    assert default_entry((upper, lower), "STRASSE") is None
    assert default_entry((entry("Straße", "s.onnx"),), "STRASSE") is not None
    assert default_entry((), "mnist") is None


def _disjoint(n: int, prefix: str) -> Manifest:
    return Manifest.from_entries(
        entry(f"{prefix}-{i}", f"{prefix}/{i:06d}.onnx", 7 + i % 12, f"{i:064x}") for i in range(n)
    )


def test_20k_against_20k_disjoint_entries() -> None:
    """Every entry added, removed and looked up as a move; every name resolves
    differently (this took 55 s when each lookup scanned every entry)."""
    old, new = _disjoint(20_000, "old"), _disjoint(20_000, "new")
    result = diff_manifests(old, new)
    assert (result.added, result.removed) == (new.entries, old.entries)
    assert (result.changed, result.moved, result.order_changed) == ((), (), False)
    assert len(result.resolutions) == 40_000
    assert result.resolutions[0] == ResolutionChange("old-0", old.entries[0], None)
    assert result.resolutions[-1] == ResolutionChange("new-19999", None, new.entries[-1])


def test_20k_moved_entries_in_order() -> None:
    old = _disjoint(20_000, "m")
    new = Manifest.from_entries(
        ModelEntry(e.model, "moved/" + e.model_path, e.onnx_version, e.opset_version, e.metadata)
        for e in old
    )
    result = diff_manifests(old, new)
    assert [(c.old, c.new) for c in result.moved] == list(zip(old, new, strict=True))
    assert (result.added, result.removed, result.changed) == ((), (), ())


def test_equal_added_entries_leave_as_list_remove_took_them() -> None:
    """Of two equal added entries, the move takes the last and the first leaves
    the added list, as the quadratic version did."""
    old = entry("mnist", "old/mnist.onnx")
    twin_a, other, twin_b = (
        entry("mnist", "new/mnist.onnx"),
        entry("resnet", "r.onnx", sha=SHA_B),
        entry("mnist", "new/mnist.onnx"),
    )
    result = diff_manifests(manifest(old), manifest(twin_a, other, twin_b))
    assert result.moved[0].new is twin_b
    assert result.added == (other, twin_b)
    assert result.added[1] is twin_b
