"""GFM tables with line numbers, cell text/links, and header matching."""

from __future__ import annotations

import pytest

from hubtools.generate.markdown import (
    Cell,
    Row,
    match_columns,
    normalize_header,
    parse_tables,
    raw_cell_count,
)

DOC = """\
# Title

 |Model|Download|Opset Version|Notes|
|-|-|-|-|
|<b>[Tiny](https://x.org/card)</b>|[1 kB](model/a%20b.onnx)|7|one
|Plain `code` name|[2 kB](model/c.onnx#frag)|12|
> footnote line, not a row
>
> second footnote

|A|B|
|-|-|
|1|2|
<hr>

Not | a table
"""


def test_rows_carry_line_numbers_and_footnotes_are_not_rows() -> None:
    tables = parse_tables(DOC)
    assert [t.line for t in tables] == [3, 11]
    first = tables[0]
    assert first.header == ("Model", "Download", "Opset Version", "Notes")
    assert first.rows == (
        Row(
            5,
            (
                Cell("Tiny", ("https://x.org/card",)),
                Cell("1 kB", ("model/a b.onnx",)),
                Cell("7"),
                Cell("one"),
            ),
            4,
        ),
        Row(
            6,
            (Cell("Plain code name"), Cell("2 kB", ("model/c.onnx#frag",)), Cell("12"), Cell("")),
            3,
        ),
    )
    assert tables[1].rows == (Row(13, (Cell("1"), Cell("2")), 2),)


def test_short_rows_are_padded_but_count_their_source_cells() -> None:
    (table,) = parse_tables("|a|b|c|\n|-|-|-|\n|1|2|\n")
    assert table.rows[0].cells == (Cell("1"), Cell("2"), Cell(""))
    assert table.rows[0].source_cells == 2


@pytest.mark.parametrize(
    ("line", "count"),
    [
        ("|a|b|c|", 3),
        ("a|b|c", 3),
        ("|a|b| c", 3),
        (r"|a\|b|c|", 2),
        ("|`a|b`|c|", 2),
        ("  |a|  ", 1),
    ],
)
def test_raw_cell_count(line: str, count: int) -> None:
    assert raw_cell_count(line) == count


def test_no_tables_and_garbage_never_raise() -> None:
    assert parse_tables("") == []
    assert parse_tables("|a|\n|x|\n") == []  # no delimiter row: not a table
    assert parse_tables("\x00|||\n|-|\n") is not None


def test_normalize_header() -> None:
    assert normalize_header("  Opset   Version ") == "opset version"


WANTED = {
    "model": ("Model",),
    "opset": ("Opset version", "Opset"),
    "data": ("Download (with sample test data)",),
}


def test_match_columns_ignores_case_space_and_takes_aliases() -> None:
    match = match_columns([" MODEL ", "opset", "Download  (with sample test data)"], WANTED)
    assert dict(match.columns) == {"model": 0, "opset": 1, "data": 2}
    assert match.missing == ()
    assert dict(match.suggestions) == {}


def test_match_columns_suggests_typos() -> None:
    match = match_columns(["Model", "Opset Verison", "Accuracy"], WANTED)
    assert dict(match.columns) == {"model": 0}
    assert match.missing == ("opset", "data")
    assert dict(match.suggestions) == {"Opset Verison": "Opset version"}
