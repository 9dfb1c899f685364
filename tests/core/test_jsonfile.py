from __future__ import annotations

from pathlib import Path

import pytest

from hubtools.core.jsonfile import parse_json, pointer_of, printable, read_json_file
from hubtools.errors import ManifestError

TEXT = '[\n {"a": 1, "b": {"c": [1, 2, NaN]}, "a": 2},\n {"x~/y": 3, "": [true]}\n]'


@pytest.mark.parametrize(
    ("pointer", "position"),
    [
        ("", (1, 1)),
        ("/0", (2, 2)),
        ("/0/a", (2, 41)),  # the last duplicate, the value json keeps
        ("/0/b", (2, 16)),
        ("/0/b/c/2", (2, 29)),
        ("/1/x~0~1y", (3, 11)),
        ("/1//0", (3, 19)),
        ("/1/missing", (3, 2)),  # leads nowhere: the deepest value on the way
        ("/7", (1, 1)),
    ],
)
def test_locate_maps_pointers_to_line_and_column(pointer: str, position: tuple[int, int]) -> None:
    assert parse_json(TEXT, "t.json").locate(pointer) == position


def test_oddities_are_found_with_pointers() -> None:
    doc = parse_json(TEXT, "t.json")
    assert [(o.kind, o.pointer, o.detail) for o in doc.oddities] == [
        ("duplicate-key", "/0/a", "a"),
        ("non-finite", "/0/b/c/2", "NaN"),
    ]


def test_plain_json_has_no_oddities() -> None:
    assert parse_json('{"a": [1.5, -Infinity]}', "x").oddities[0].detail == "-Infinity"
    assert parse_json('{"a": [1.5, 2]}', "x").oddities == ()


def test_pointer_of_escapes_tokens() -> None:
    assert pointer_of(("a/b", 0, "c~d")) == "/a~1b/0/c~0d"
    assert pointer_of(()) == ""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1,\n 2,,]", "f.json:2:4: invalid JSON: Expecting value"),
        ("", "f.json:1:1: invalid JSON: Expecting value"),
        ('{"a" 1}', "f.json:1:6: invalid JSON: Expecting ':' delimiter"),
        (
            "\ufeff[]",
            "f.json:1:1: the file starts with a UTF-8 byte-order mark; save it as "
            "UTF-8 without a BOM",
        ),
        ("[" * 200_000, "f.json: invalid JSON: values are nested too deeply to read"),
    ],
)
def test_syntax_errors_name_line_and_column(text: str, message: str) -> None:
    with pytest.raises(ManifestError) as info:
        parse_json(text, "f.json")
    assert str(info.value) == message


def test_read_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'[\n "caf\xe9"]')
    with pytest.raises(ManifestError, match=r"bad.json:2:6: invalid UTF-8 \(byte 7: 0xe9\)"):
        read_json_file(bad)
    with pytest.raises(ManifestError, match="is a directory"):
        read_json_file(tmp_path)
    with pytest.raises(ManifestError, match="no such file"):
        read_json_file(tmp_path / "nope.json")


LONG = "1" + "0" * 5000


def test_integers_too_long_to_convert_are_oddities_at_their_pointer() -> None:
    text = f'[\n {{"a": {LONG}, "b": [1, -{LONG}]}}\n]'
    doc = parse_json(text, "t.json")
    assert [(o.kind, o.pointer, o.detail) for o in doc.oddities] == [
        ("number-too-long", "/0/a", "5001"),
        ("number-too-long", "/0/b/1", "5001"),
    ]
    assert doc.locate("/0/b/1") == (2, text.index(f"-{LONG}") - text.index("\n"))
    assert doc.data[0]["b"][0] == 1  # type: ignore[index,call-overload]
    with pytest.raises(ManifestError) as info:
        doc.strict_data()
    assert str(info.value) == (
        "t.json:2:8: /0/a: an integer of 5001 digits is too long to read; "
        "`hubtools validate` lists every such problem"
    )


def test_integers_up_to_the_limit_are_read() -> None:
    digits = "9" * 4300
    assert parse_json(f"[{digits}]", "t").data == [int(digits)]


def test_lone_surrogates_are_oddities_and_pairs_are_not() -> None:
    text = '[{"ok": "\\ud83d\\ude00", "bad": "x\\udc00", "k\\ud800": 1, "raw": "\\\\ud800"}]'
    doc = parse_json(text, "t.json")
    assert [(o.kind, o.pointer, o.detail) for o in doc.oddities] == [
        ("lone-surrogate", "/0/bad", "\\udc00"),
        ("lone-surrogate", "/0/k\ud800", "\\ud800"),
    ]
    with pytest.raises(ManifestError) as info:
        doc.strict_data()
    column = text.index('"x') + 1
    assert str(info.value) == (
        f"t.json:1:{column}: /0/bad: \\udc00 is half a surrogate pair, not a character; "
        "`hubtools validate` lists every such problem"
    )
    str(info.value).encode("utf-8")  # printable
    assert printable("a\ud800b") == "a\\ud800b"
    assert printable("é") == "é"
