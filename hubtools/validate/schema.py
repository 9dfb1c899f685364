"""The manifest's JSON Schema: load the copy packaged in the wheel, run
jsonschema, and turn its errors into :class:`~hubtools.errors.Problem` objects
with short messages (jsonschema's own repeat the whole offending value, which
can be an entire manifest). It must not check what the schema cannot say, nor
locate problems by line: the caller does both.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from importlib import resources
from typing import Any

from hubtools.core.jsonfile import pointer_of, printable
from hubtools.core.manifest import JSONValue
from hubtools.errors import Location, Problem

SCHEMA_FILE = "onnx-hub-manifest.schema.json"

_HINTS = {
    "sha256 hex digest": "run `hubtools generate` (or `sha256sum FILE`) to recompute it",
    "byte count": "use the file's size in bytes, as an integer",
    "relative POSIX path inside the repository": (
        "write the path relative to the repository root with '/' separators"
    ),
    "onnxruntime type string": "write it as onnxruntime prints it, e.g. tensor(float)",
}


@functools.cache
def schema_text() -> str:
    """The packaged schema's text (byte-identical to ``schema/`` in the repository)."""
    return (resources.files("hubtools") / "schema" / SCHEMA_FILE).read_text("utf-8")


@functools.cache
def load_schema() -> dict[str, Any]:
    """The manifest's JSON Schema (draft 2020-12) as a dict."""
    schema: dict[str, Any] = json.loads(schema_text())
    return schema


def _inline_refs(node: Any, defs: dict[str, Any]) -> Any:
    """The schema with every local ``$ref`` replaced by its target (the schema has
    no recursion): jsonschema's reference lookups were a third of its time."""
    if isinstance(node, list):
        return [_inline_refs(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _inline_refs(v, defs) for k, v in node.items() if k not in ("$ref", "$defs")}
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        out = {**_inline_refs(defs[ref.rsplit("/", 1)[1]], defs), **out}
    return out


def _strict_integer(_checker: Any, instance: object) -> bool:
    """JSON Schema's ``integer``, read strictly: 7.0 is a float to every JSON
    reader hubtools serves (Python's json, onnx.hub), so it is not one."""
    return isinstance(instance, int) and not isinstance(instance, bool)


@functools.cache
def _validators() -> tuple[Any, Any]:
    """jsonschema validators of the whole manifest and of one entry."""
    import jsonschema  # imported here: it costs ~0.1 s, and only validation needs it

    base = jsonschema.Draft202012Validator
    strict = jsonschema.validators.extend(
        base, type_checker=base.TYPE_CHECKER.redefine("integer", _strict_integer)
    )
    schema = load_schema()
    inlined = _inline_refs(schema, schema["$defs"])
    return strict(inlined), strict(inlined["items"])


@functools.cache
def _screen() -> Any | None:
    """The same schema compiled by jsonschema-rs (about 100x faster), or None
    where it is not installed. It only screens: it says which entries fail, and
    jsonschema then describes those, so the problems are jsonschema's, word
    for word, whichever engine ran."""
    try:
        import jsonschema_rs
    except ImportError:  # pragma: no cover - a dependency; jsonschema does it all then
        return None
    return jsonschema_rs.Draft202012Validator(load_schema())


def _failing_entries(data: list[JSONValue]) -> list[int] | None:
    """Indices of the entries jsonschema-rs finds invalid, or None when it cannot
    tell (not installed, a value it cannot take, an error outside the entries)."""
    screen = _screen()
    if screen is None:
        return None
    try:
        found = {
            error.instance_path[0] if error.instance_path else -1
            for error in screen.iter_errors(data)
        }
    except Exception:  # a value Rust cannot hold (a huge integer, a lone surrogate)
        return None
    return None if -1 in found else sorted(int(i) for i in found)


def _errors(data: JSONValue, screen: bool) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    """(absolute path, jsonschema error) for every way ``data`` breaks the schema."""
    failing = _failing_entries(data) if screen and isinstance(data, list) else None
    if failing is None:
        for error in _validators()[0].iter_errors(data):
            yield tuple(error.absolute_path), error
        return
    assert isinstance(data, list)
    for index in failing:  # the whole schema is `items`: entries fail on their own
        # jsonschema is imported only here: a valid manifest never needs it.
        for error in _validators()[1].iter_errors(data[index]):
            yield (index, *error.absolute_path), error


def _short(value: object, limit: int = 60) -> str:
    text = printable(json.dumps(value, ensure_ascii=False, default=str))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _describe(error: Any) -> tuple[str, str | None]:
    """A message and a hint for one jsonschema error, never longer than a line."""
    kind, value, instance = error.validator, error.validator_value, error.instance
    title = error.schema.get("title") if isinstance(error.schema, dict) else None
    hint = _HINTS.get(title) if title else None
    if kind == "type":
        wanted = " or ".join(value) if isinstance(value, list) else value
        if "integer" in wanted and isinstance(instance, float) and instance.is_integer():
            plain = f"{int(instance)}" if abs(instance) < 1e15 else "the integer"
            return (
                f"{_short(instance)} has a fraction or exponent, so JSON readers return a "
                "float, not an integer",
                f"write {plain}, without a fraction or exponent",
            )
        return f"{_short(instance)} is not of type {wanted}", hint
    if kind == "pattern":
        what = title or f"string matching {value!r}"
        return f"{_short(instance)} is not a valid {what}", hint
    if kind == "required":
        missing = [name for name in value if name not in instance]
        return f"missing required property {missing[0]!r}", "add it; see the schema"
    if kind == "dependentRequired":
        present = [k for k in value if k in instance]
        missing = sorted({d for k in present for d in value[k] if d not in instance})
        return (
            f"{', '.join(present)} given without {', '.join(missing)}",
            "give model_with_data_path, model_with_data_sha and model_with_data_bytes "
            "together, or none of them",
        )
    if kind in ("minimum", "exclusiveMinimum"):
        return f"{_short(instance)} is less than the minimum of {value}", hint
    if kind == "minLength":
        return "must not be an empty string", hint
    if kind == "maxLength":
        return (
            f"is {len(instance)} characters long, more than the maximum of {value}",
            "shorten it: file systems hold paths of at most 4096 bytes",
        )
    message = error.message
    return (message if len(message) <= 200 else f"value fails the schema's {kind!r}"), hint


def schema_problems(data: JSONValue, source: str, *, screen: bool = False) -> Iterator[Problem]:
    """Every way ``data`` breaks the manifest schema, as problems with JSON pointers
    (positions are filled in later by the caller, which has the text).

    ``screen`` lets jsonschema-rs find the failing entries first; the caller
    passes it only for data holding no float (a JSON parse says so), because
    JSON Schema's ``integer`` takes 7.0 where hubtools' reading does not.
    """
    said: set[tuple[str, str]] = set()
    for path, error in _errors(data, screen):
        pointer = pointer_of(path)
        if error.validator == "dependentRequired":
            # jsonschema reports each missing dependency once per present key; say it once.
            if (pointer, error.validator) in said:
                continue
            said.add((pointer, error.validator))
        message, hint = _describe(error)
        yield Problem(
            code=f"schema-{error.validator}",
            message=message,
            location=Location(source, pointer=pointer),
            hint=hint,
        )
