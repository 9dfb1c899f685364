"""Strict JSON reading with positions: syntax errors, duplicate keys, NaN,
integers too long to convert and lone surrogates are found with their line and
column, and any RFC 6901 JSON pointer can be mapped back to the line and column
where its value starts.

The standard :mod:`json` parser does the parsing (it is fast and exact); this
module adds what it does not keep: positions, which it finds again on demand by
scanning only the part of the text the pointer leads through.
"""

from __future__ import annotations

import bisect
import gc
import json
import math
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from json.decoder import scanstring  # type: ignore[attr-defined]
from pathlib import Path
from typing import Union

from hubtools.errors import ManifestError

#: Any value JSON can hold, as :func:`json.loads` returns it.
# A string forward reference cannot take part in `X | Y` at run time.
JSONValue = Union[None, bool, int, float, str, list["JSONValue"], dict[str, "JSONValue"]]  # noqa: UP007
#: A JSON object as :func:`json.loads` returns it.
JSONObject = dict[str, JSONValue]

_WS = re.compile(r"[ \t\n\r]*")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _skip_int(_text: str) -> int:
    return 0  # locating only needs where a number ends, not its value


# Skips values to find positions; integers are not converted, so one too long
# to convert (a number-too-long oddity) cannot stop the search.
_DECODER = json.JSONDecoder(parse_int=_skip_int)


class _DupDict(dict[str, JSONValue]):
    """A JSON object that held the same key more than once (the last value wins, as in json)."""

    duplicates: tuple[str, ...] = ()


class _NonFinite(float):
    """NaN or ±Infinity, which JSON does not allow but Python's json reads, or a
    number too large for a float (``overflow``), which json reads as infinity."""

    spelling: str = ""
    overflow: bool = False


class _LongNumber(float):
    """An integer with more digits than Python converts (``sys.get_int_max_str_digits``),
    kept as ±infinity so that no integer check passes it."""

    digits: int = 0


def _long_number(text: str) -> float:
    digits = len(text.lstrip("-"))
    value = _LongNumber("-inf" if text.startswith("-") else "inf")
    value.digits = digits
    return value


def _with_duplicates(
    obj: dict[str, JSONValue], pairs: list[tuple[str, JSONValue]]
) -> dict[str, JSONValue]:
    """``obj`` (built from ``pairs``, some keys repeated) marked with the repeated keys."""
    seen: set[str] = set()
    dups = [k for k, _ in pairs if k in seen or seen.add(k)]  # type: ignore[func-returns-value]
    marked = _DupDict(obj)
    marked.duplicates = tuple(dict.fromkeys(dups))
    return marked


def _constant(name: str) -> float:
    value = _NonFinite(float(name.replace("Infinity", "inf")))
    value.spelling = name
    return value


def printable(text: str) -> str:
    """``text`` with any lone surrogate written as its escape (``\\ud800``), so
    that it can be printed as UTF-8. Raises nothing."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def escape_pointer_token(token: str | int) -> str:
    """One RFC 6901 reference token: ``~`` -> ``~0``, ``/`` -> ``~1``."""
    return str(token).replace("~", "~0").replace("/", "~1")


def pointer_of(path: tuple[str | int, ...] | list[str | int]) -> str:
    """The RFC 6901 JSON pointer of a path of keys and indexes (``""`` for the root)."""
    return "".join("/" + escape_pointer_token(t) for t in path)


def _split_pointer(pointer: str) -> list[str]:
    if not pointer:
        return []
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]]


@dataclass(frozen=True)
class Oddity:
    """Something json accepted that JSON does not (duplicate key, NaN), at a pointer."""

    kind: str  # "duplicate-key", "non-finite", "number-too-long" or "lone-surrogate"
    pointer: str
    detail: str


@dataclass
class JSONDocument:
    """A parsed JSON text, with what is needed to locate pointers in it."""

    source: str
    text: str
    data: JSONValue
    oddities: tuple[Oddity, ...] = ()
    #: False only when the parse saw no float (no fraction or exponent anywhere).
    has_floats: bool = True

    def strict_data(self) -> JSONValue:
        """The data, when JSON's own rules hold: no duplicate key, no NaN/Infinity.

        Raises:
            ManifestError: naming the first oddity with its ``source:line:col``
                and JSON pointer.
        """
        if self.oddities:
            odd = self.oddities[0]
            line, col = self.locate(odd.pointer)
            what = {
                "duplicate-key": f"key {odd.detail!r} appears twice in one object",
                "non-finite": f"{odd.detail} is not valid JSON",
                "float-overflow": f"{odd.detail} is too large for a 64-bit float",
                "number-too-long": f"an integer of {odd.detail} digits is too long to read",
                "lone-surrogate": f"{odd.detail} is half a surrogate pair, not a character",
            }[odd.kind]
            raise ManifestError(
                f"{self.source}:{line}:{col}: {printable(odd.pointer or '/')}: {what}; "
                "`hubtools validate` lists every such problem"
            )
        return self.data

    def __post_init__(self) -> None:
        self._line_starts: list[int] | None = None
        self._item_offsets: list[int] | None = None

    # -- positions --------------------------------------------------------
    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based line and column of a character offset."""
        if self._line_starts is None:
            self._line_starts = [0] + [m.end() for m in re.finditer("\n", self.text)]
        line = bisect.bisect_right(self._line_starts, offset)
        return line, offset - self._line_starts[line - 1] + 1

    def offset_of(self, pointer: str) -> int:
        """Offset where the value at ``pointer`` starts; for a pointer that leads
        nowhere, the offset of the deepest value that exists on its way."""
        tokens = _split_pointer(pointer)
        text = self.text
        pos = _WS.match(text, 0).end()  # type: ignore[union-attr]
        if tokens and text.startswith("[", pos) and tokens[0].isdigit():
            # The top-level array is indexed once, so many lookups stay linear.
            items = self._top_items()
            index = int(tokens[0])
            if index >= len(items):
                return pos
            pos, tokens = items[index], tokens[1:]
        for token in tokens:
            found = self._child(pos, token)
            if found is None:
                break
            pos = found
        return pos

    def locate(self, pointer: str) -> tuple[int, int]:
        """1-based (line, column) where the value at ``pointer`` starts."""
        return self.line_col(self.offset_of(pointer))

    def _top_items(self) -> list[int]:
        if self._item_offsets is None:
            start = _WS.match(self.text, 0).end()  # type: ignore[union-attr]
            self._item_offsets = [off for off, _ in self._members(start)]
        return self._item_offsets

    def _members(self, pos: int) -> Iterator[tuple[int, str | None]]:
        """(value offset, key or None) of each member of the container at ``pos``."""
        text = self.text
        opener = text[pos]
        closer = "}" if opener == "{" else "]"
        pos = _WS.match(text, pos + 1).end()  # type: ignore[union-attr]
        if text.startswith(closer, pos):
            return
        while True:
            key: str | None = None
            if opener == "{":
                key, pos = scanstring(text, pos + 1)
                pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
                pos = _WS.match(text, pos + 1).end()  # type: ignore[union-attr] # past ':'
            yield pos, key
            _, pos = _DECODER.raw_decode(text, pos)
            pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
            if text.startswith(closer, pos):
                return
            pos = _WS.match(text, pos + 1).end()  # type: ignore[union-attr] # past ','

    def _child(self, pos: int, token: str) -> int | None:
        if self.text[pos] == "{":
            found = None
            for off, key in self._members(pos):
                if key == token:
                    found = off  # the last one: json keeps the last duplicate
            return found
        if self.text[pos] == "[" and token.isdigit():
            for i, (off, _) in enumerate(self._members(pos)):
                if i == int(token):
                    return off
        return None


def _surrogate(text: str) -> str | None:
    """The first lone surrogate of ``text``, escaped as JSON writes it; None when none."""
    found = _LONE_SURROGATE.search(text)
    return None if found is None else f"\\u{ord(found.group()):04x}"


def _walk_oddities(data: JSONValue, *, strings: bool = False) -> list[Oddity]:
    """Find the marked duplicate-key objects, NaN/Infinity values, integers too
    long to convert and, with ``strings``, keys and strings holding a lone
    surrogate (iteratively: deep nesting must not overflow the stack)."""
    found: list[Oddity] = []
    stack: list[tuple[JSONValue, tuple[str | int, ...]]] = [(data, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            escaped = _surrogate(value) if strings else None
            if escaped:
                found.append(Oddity("lone-surrogate", pointer_of(path), escaped))
        elif isinstance(value, dict):
            if isinstance(value, _DupDict):
                for key in value.duplicates:
                    found.append(Oddity("duplicate-key", pointer_of((*path, key)), key))
            for key in value if strings else ():
                escaped = _surrogate(key)
                if escaped:
                    found.append(Oddity("lone-surrogate", pointer_of((*path, key)), escaped))
            stack.extend((v, (*path, k)) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, (*path, i)) for i, v in enumerate(value))
        elif isinstance(value, _NonFinite):
            kind = "float-overflow" if value.overflow else "non-finite"
            found.append(Oddity(kind, pointer_of(path), value.spelling))
        elif isinstance(value, _LongNumber):
            found.append(Oddity("number-too-long", pointer_of(path), str(value.digits)))
    found.sort(key=lambda o: o.pointer)
    return found


def _syntax_position(text: str, pos: int) -> tuple[int, int]:
    line = text.count("\n", 0, pos) + 1
    return line, pos - (text.rfind("\n", 0, pos) + 1) + 1


def parse_json(text: str, source: str) -> JSONDocument:
    """Parse JSON text strictly enough for a linter.

    What Python's json reads but JSON (or Python) cannot hold becomes an
    :class:`Oddity` at its pointer instead of an error, so that a validator
    lists them all: a repeated key, NaN/Infinity, an integer with more digits
    than Python converts (``sys.get_int_max_str_digits()``, 4300 by default),
    which is kept as ±infinity, and a ``\\uD800``-``\\uDFFF`` escape that is
    not half of a pair (a lone surrogate, which no UTF-8 output can print).

    Raises:
        ManifestError: the text is not JSON (message has ``source:line:col``),
            or is nested too deeply to parse.
    """
    if text.startswith("\ufeff"):
        detail = "the file starts with a UTF-8 byte-order mark; save it as UTF-8 without a BOM"
        raise ManifestError(f"{source}:1:1: {detail}", line=1, column=1, detail=detail)
    seen_oddity = seen_float = False

    def hook(pairs: list[tuple[str, JSONValue]]) -> dict[str, JSONValue]:
        obj = dict(pairs)
        if len(obj) == len(pairs):  # one call per object: kept short, it is most of a parse
            return obj
        nonlocal seen_oddity
        seen_oddity = True
        return _with_duplicates(obj, pairs)

    def constant(name: str) -> float:
        nonlocal seen_oddity
        seen_oddity = True
        return _constant(name)

    def real(text: str) -> float:
        nonlocal seen_oddity, seen_float
        seen_float = True
        value = float(text)
        if value in (math.inf, -math.inf):  # 1e400: valid JSON, but no float holds it
            seen_oddity = True
            marked = _NonFinite(value)
            marked.spelling, marked.overflow = text, True
            return marked
        return value

    def integer(digits: str) -> int | float:
        nonlocal seen_oddity
        limit = sys.get_int_max_str_digits()
        if limit and len(digits) - digits.startswith("-") > limit:
            seen_oddity = True
            return _long_number(digits)
        return int(digits)

    was_enabled = gc.isenabled()
    gc.disable()  # json.loads builds millions of acyclic objects; collections only slow it
    try:
        try:
            data = json.loads(
                text, object_pairs_hook=hook, parse_constant=constant, parse_float=real
            )
        except json.JSONDecodeError:
            raise
        except ValueError:
            # An integer too long to convert; parsed again with a hook that marks
            # it (only then: a Python hook per integer would slow every parse).
            data = json.loads(
                text,
                object_pairs_hook=hook,
                parse_constant=constant,
                parse_float=real,
                parse_int=integer,
            )
    except json.JSONDecodeError as err:
        line, col = _syntax_position(text, err.pos)
        detail = f"invalid JSON: {err.msg}"
        raise ManifestError(
            f"{source}:{line}:{col}: {detail}", line=line, column=col, detail=detail
        ) from err
    except RecursionError as err:
        raise ManifestError(
            f"{source}: invalid JSON: values are nested too deeply to read"
        ) from err
    finally:
        if was_enabled:
            gc.enable()
    # A lone surrogate can only come from a \\uD800-\\uDFFF escape: look for one
    # (str.find is fast) before walking every string.
    strings = ("\\ud" in text or "\\uD" in text) and _SURROGATE_ESCAPE.search(text) is not None
    oddities = tuple(_walk_oddities(data, strings=strings)) if seen_oddity or strings else ()
    has_floats = seen_float or seen_oddity
    return JSONDocument(source, text, data, oddities, has_floats)


def read_json_file(path: Path, source: str | None = None) -> JSONDocument:
    """Read and parse a JSON file (see :func:`parse_json`).

    Raises:
        ManifestError: the path is missing, a directory, unreadable, not UTF-8,
            or not JSON; the message says which, and where.
    """
    name = source if source is not None else str(path)
    try:
        raw = Path(path).read_bytes()
    except IsADirectoryError as err:
        raise ManifestError(f"{name}: is a directory, not a manifest file") from err
    except FileNotFoundError as err:
        raise ManifestError(f"{name}: no such file") from err
    except OSError as err:
        raise ManifestError(f"{name}: cannot read: {err.strerror or err}") from err
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        prefix = raw[: err.start].decode("utf-8", errors="replace")
        line, col = _syntax_position(prefix, len(prefix))
        detail = (
            f"invalid UTF-8 (byte {err.start}: 0x{raw[err.start]:02x}); JSON files must be UTF-8"
        )
        raise ManifestError(
            f"{name}:{line}:{col}: {detail}", line=line, column=col, detail=detail
        ) from err
    return parse_json(text, name)
