"""Hostile manifests, built at test time from the valid one-entry fixture:
integers too long for Python to convert (in a typed field, an open field, a
shape, twice), integers written as floats (``7.0``, ``7e0``), paths no file
system can hold (a 300-byte name, 3000 levels, 4096 bytes passed in
multi-byte characters, a lone surrogate), paths under a dot folder where the
client keeps its own files, and values nested deep inside or past what the
parser reads. Each case says what ``validate`` reports (code and pointer, in
order), where the first problem's value starts in the text, and its exit
code. Nothing here is a committed file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BASE", "CASES", "HostileManifest", "position"]

BASE = (
    Path(__file__).resolve().parents[2] / "fixtures" / "manifests" / "valid" / "without-bundle.json"
).read_text("utf-8")
LONG = "1" + "0" * 5000  # 5001 digits: more than Python's 4300
PATH = '"vision/classification/mnist/model/mnist-8.onnx"'
BUNDLE = (
    '"model_bytes": 26454,\n'
    '            "model_with_data_path": "vision/{}.tar.gz",\n'
    f'            "model_with_data_sha": "{"a" * 64}",\n'
    '            "model_with_data_bytes": 1'
)


@dataclass(frozen=True)
class HostileManifest:
    """One hostile manifest: its text, what validate reports (code, pointer), the
    text where the first problem's value starts, and validate's exit code."""

    name: str
    build: Callable[[], str]
    problems: tuple[tuple[str, str], ...]
    needle: str = ""
    exit_code: int = 1


def _replace(old: str, new: str) -> Callable[[], str]:
    """The base text with the first ``old`` (the input's, for shapes) made ``new``;
    for ``"tags": [``, ``new`` goes before it (a field of its own)."""

    def build() -> str:
        assert old in BASE, old
        return BASE.replace(old, f"{new}\n{old}" if old == _TAGS else new, 1)

    return build


def _twice() -> str:
    first = json.loads(BASE)[0]
    second = json.loads(json.dumps(first))
    second["model_path"] = second["model_path"].replace("mnist-8", "mnist-9")
    text = json.dumps([first, second], indent=4)
    return text.replace('"model_bytes": 26454', f'"model_bytes": {LONG}')


def _nested(depth: int) -> str:
    return "[" * depth + "1" + "]" * depth


def position(text: str, needle: str) -> tuple[int, int]:
    """1-based line and column of the first ``needle`` in ``text``."""
    offset = text.index(needle)
    return text.count("\n", 0, offset) + 1, offset - (text.rfind("\n", 0, offset) + 1) + 1


_BYTES = '"model_bytes": 26454'
_OPSET = '"opset_version": 8'
_DIM = '"shape": [\n                            1,'  # the first: the input's
_TAGS = '"tags": ['
_LONG_PART = "vision/" + "m" * 300 + ".onnx"
_DEEP = "a/" * 3000 + "mnist-8.onnx"
_WIDE = "/".join(["é" * 100] * 25)  # 2524 characters, 5024 bytes
_DEEP_LIST = _nested(900)


def _one(
    name: str, old: str, new: str, code: str, pointer: str, needle: str = ""
) -> HostileManifest:
    """A case that makes the first ``old`` of the base ``new`` and gets one problem,
    at ``needle`` (default: the new value, after its key)."""
    return HostileManifest(
        name, _replace(old, new), ((code, pointer),), needle or new.split(": ", 1)[-1]
    )


# Pointers and codes of the cases, short so that each case fits a line.
_B, _O, _P = "/0/metadata/model_bytes", "/0/opset_version", "/0/model_path"
_IN_SHAPE = "/0/metadata/io_ports/inputs/0/shape/0"
_TOO_LONG, _TYPE, _UNSAFE = "number-too-long", "schema-type", "unsafe-path"

CASES = (
    _one("number-too-long-in-bytes", _BYTES, f'"model_bytes": {LONG}', _TOO_LONG, _B),
    _one("number-too-long-negative-opset", _OPSET, f'"opset_version": -{LONG}', _TOO_LONG, _O),
    _one("number-too-long-in-open-field", _TAGS, f'"zoo": {LONG},', _TOO_LONG, "/0/metadata/zoo"),
    _one("number-too-long-in-shape", _DIM, f'"shape": [{LONG},', _TOO_LONG, _IN_SHAPE, LONG),
    HostileManifest(
        "number-too-long-twice",
        _twice,
        ((_TOO_LONG, _B), (_TOO_LONG, "/1/metadata/model_bytes")),
        LONG,
    ),
    _one("float-for-bytes", _BYTES, '"model_bytes": 26454.0', _TYPE, _B),
    _one("float-for-opset", _OPSET, '"opset_version": 8.0', _TYPE, _O),
    _one("exponent-for-bytes", _BYTES, '"model_bytes": 26454e0', _TYPE, _B),
    _one("float-in-shape", _DIM, '"shape": [1.0,', _TYPE, _IN_SHAPE, "1.0"),
    _one("file-name-of-300-bytes", PATH, f'"{_LONG_PART}"', _UNSAFE, _P),
    _one("model-path-of-3000-levels", PATH, f'"{_DEEP}"', "schema-maxLength", _P),
    _one("path-over-4096-bytes-in-fewer-characters", PATH, f'"{_WIDE}"', _UNSAFE, _P),
    _one("hubtools-dot-folder", PATH, '".hubtools/mnist-8.onnx"', _UNSAFE, _P),
    _one("git-dot-folder", PATH, '".git/objects/mnist-8.onnx"', _UNSAFE, _P),
    _one(
        "bundle-name-of-300-bytes",
        _BYTES,
        BUNDLE.format("b" * 300),
        _UNSAFE,
        "/0/metadata/model_with_data_path",
        '"vision/bbb',
    ),
    _one("lone-surrogate", PATH, '"vision/\\ud800.onnx"', "lone-surrogate", _P),
    HostileManifest(
        "deep-value-in-open-field", _replace(_TAGS, f'"zoo": {_DEEP_LIST},'), (), exit_code=0
    ),
    _one("deep-value-in-typed-field", _BYTES, f'"model_bytes": {_DEEP_LIST}', _TYPE, _B),
    HostileManifest("nested-past-the-parser", lambda: "[" * 100_000, (), exit_code=2),
)
