"""The validator's checks on a manifest's text, with no repository."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from hubtools.core.jsonfile import parse_json
from hubtools.core.manifest import Manifest, ModelEntry
from hubtools.errors import ManifestError, Severity
from hubtools.validate.checks import check_document

from .support import entry


def test_check_document_keeps_only_schema_valid_entries() -> None:
    good = entry("m/a.onnx", b"x")
    bad = entry("../escape.onnx", b"x")
    result = check_document(parse_json(json.dumps([good, bad]), "remote"))
    manifest, report = result.manifest, result.report
    assert manifest is not None
    assert [e.model_path for e in manifest] == ["m/a.onnx"]
    assert [(p.code, p.location.pointer, p.severity) for p in report] == [
        ("schema-pattern", "/1/model_path", Severity.ERROR)
    ]
    assert check_document(parse_json("{}", "remote")).manifest is None


def _problems(entries: list[dict[str, object]]) -> list[tuple[str, str | None]]:
    result = check_document(parse_json(json.dumps(entries, indent=4), "m.json"))
    return [(p.code, p.location.pointer) for p in result.report]


def test_paths_the_client_refuses_are_problems_at_their_pointer() -> None:
    dot = entry(".hubtools/a.onnx", b"x")
    long_name = entry("m/" + "n" * 256 + ".onnx", b"x")
    bundle = entry("m/z.onnx", b"x", ("m/" + "é" * 128 + ".tar.gz", b"y"))
    assert _problems([dot, long_name, bundle]) == [
        ("unsafe-path", "/0/model_path"),
        ("unsafe-path", "/1/model_path"),
        ("unsafe-path", "/2/metadata/model_with_data_path"),
    ]


def test_integers_written_as_floats_are_schema_type_problems() -> None:
    good = entry("m/a.onnx", b"x")
    floats = entry("m/b.onnx", b"x")
    floats["opset_version"] = 13.0
    floats["metadata"]["model_bytes"] = 1.0  # type: ignore[index]
    result = check_document(parse_json(json.dumps([good, floats]), "m.json"))
    assert [(p.code, p.location.pointer, p.hint) for p in result.report] == [
        ("schema-type", "/1/opset_version", "write 13, without a fraction or exponent"),
        ("schema-type", "/1/metadata/model_bytes", "write 1, without a fraction or exponent"),
    ]
    assert result.manifest is not None
    assert [e.model_path for e in result.manifest] == ["m/a.onnx"]


def test_a_number_too_long_is_one_problem_and_its_entry_is_left_out() -> None:
    text = json.dumps([entry("m/a.onnx", b"x")], indent=4).replace(
        '"model_bytes": 1', '"model_bytes": 1' + "0" * 5000
    )
    result = check_document(parse_json(text, "m.json"))
    assert [(p.code, p.location.pointer, p.location.line) for p in result.report] == [
        ("number-too-long", "/0/metadata/model_bytes", 9)
    ]
    assert result.manifest == Manifest()


def _variants(doc: object, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str, object]]:
    """Every way to spoil one place of ``doc``: each container and leaf replaced by
    a value of each JSON type, each key removed. Yields (what was done, variant)."""
    pointer = "/" + "/".join(map(str, path))
    for other in (None, True, 0, -1, 1.5, "", "s", [], ["s"], {}, {"k": 1}):
        yield f"{pointer} = {other!r}", _changed(doc, path, other)
    inner = _at(doc, path)
    if isinstance(inner, dict):
        for key in inner:
            yield f"{pointer}/{key} removed", _changed(doc, (*path, key), _REMOVE)
            yield from _variants(doc, (*path, key))
    elif isinstance(inner, list):
        for i in range(len(inner)):
            yield from _variants(doc, (*path, i))


_REMOVE = object()


def _at(value: object, path: tuple[str | int, ...]) -> object:
    for step in path:
        value = value[step]  # type: ignore[index]
    return value


def _changed(doc: object, path: tuple[str | int, ...], new: object) -> object:
    """A copy of ``doc`` with the value at ``path`` replaced by ``new`` (or removed)."""
    if not path:
        return new
    copy = json.loads(json.dumps(doc))
    parent = _at(copy, path[:-1])
    if new is _REMOVE:
        del parent[path[-1]]  # type: ignore[attr-defined]
    else:
        parent[path[-1]] = new  # type: ignore[index]
    return copy


def test_every_entry_the_schema_passes_can_be_typed() -> None:
    """validate checks raw entries and types them only when asked: so every entry
    the schema (and the checks) pass must be one ModelEntry can read. Spoils each
    place of a full entry in every way and reads each variant both ways."""
    full = entry("m/a.onnx", b"x", ("m/a.tar.gz", b"y"))
    full["metadata"]["extra_ports"] = {"features": [{"name": "f", "shape": [1]}]}  # type: ignore[index]
    passed = refused = 0
    for where, variant in _variants(full):
        result = check_document(parse_json(json.dumps([variant]), "m.json"))
        if result.report.errors:
            refused += 1
            continue
        passed += 1
        try:
            ModelEntry.from_json(variant, "/0")  # type: ignore[arg-type]
        except ManifestError as err:
            pytest.fail(f"{where}: the schema passes {variant!r} but it cannot be typed: {err}")
        assert result.manifest is not None
        assert len(result.manifest) == 1
    assert passed > 20
    assert refused > 200


def test_lone_surrogates_are_one_printable_problem() -> None:
    text = json.dumps([entry("m/a.onnx", b"x")], indent=4).replace("m/a.onnx", "m/\\ud800.onnx")
    (problem,) = check_document(parse_json(text, "m.json")).report
    assert (problem.code, problem.location.pointer) == ("lone-surrogate", "/0/model_path")
    str(problem).encode("utf-8")


def test_a_float_too_large_for_a_double_is_a_problem_at_its_place() -> None:
    """json reads 1e400 as infinity, which a re-dump would write as Infinity."""
    text = '[\n  {"model": "m", "note": 1e400}\n]'
    report = check_document(parse_json(text, "m.json")).report
    found = [p for p in report if p.code == "non-finite"]
    assert [(p.location.pointer, p.location.line, p.location.column) for p in found] == [
        ("/0/note", 2, 26)
    ]
    assert found[0].message.startswith("1e400 is too large for a 64-bit float")
