"""GFM tables with line numbers, cell text/links, and header matching."""

from __future__ import annotations

import pytest

from hubtools.generate.markdown import (
    MAX_CELLS,
    MAX_COLUMNS,
    MAX_ROWS,
    Cell,
    Row,
    SkippedTable,
    match_columns,
    normalize_header,
    parse_tables,
    raw_cell_count,
    read_tables,
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


def _table(columns: int, rows: int, cell: str = "x") -> str:
    head = "|" + "|".join(f"c{i}" for i in range(columns)) + "|\n"
    rule = "|" + "-|" * columns + "\n"
    return head + rule + ("|" + "|".join(cell for _ in range(columns)) + "|\n") * rows


def test_tables_within_the_limits_are_all_read() -> None:
    text = _table(MAX_COLUMNS, 2) + "\n" + _table(2, MAX_ROWS)
    tables, skipped = read_tables(text)
    assert skipped == []
    assert [(t.line, len(t.header), len(t.rows)) for t in tables] == [
        (1, MAX_COLUMNS, 2),
        (6, 2, MAX_ROWS),
    ]


def test_a_table_over_a_limit_is_left_unparsed_and_the_rest_keep_their_lines() -> None:
    text = (
        "# Doc\n\n"
        + _table(MAX_COLUMNS + 1, 3)
        + "\n"
        + _table(1, MAX_ROWS + 1)
        + "\n"
        + _table(2, 1)
    )
    tables, skipped = read_tables(text)
    assert skipped == [
        SkippedTable(3, "columns", MAX_COLUMNS + 1),
        SkippedTable(9, "rows", MAX_ROWS + 1),
    ]
    last = 9 + 2 + (MAX_ROWS + 1) + 1  # header, rule, rows, blank line
    assert [(t.line, t.header, [r.line for r in t.rows]) for t in tables] == [
        (last, ("c0", "c1"), [last + 2])
    ]
    assert parse_tables(text) == tables


def test_the_cell_budget_counts_padded_rows_and_skips_every_later_table() -> None:
    # Short rows are padded to the header's width: 60 cells per "x" line.
    bomb = "|" + "|".join("h" for _ in range(60)) + "|\n" + "|" + "-|" * 60 + "\n" + "x\n" * 400
    text = _table(2, 1) + "".join("\n" + bomb for _ in range(4))
    tables, skipped = read_tables(text)
    per_table = 60 * 401
    assert [(t.limit, t.line) for t in skipped] == [("cells", 5 + 2 * 403), ("cells", 5 + 3 * 403)]
    assert skipped[0].found == 2 * 2 + 3 * per_table > MAX_CELLS
    assert [len(t.header) for t in tables] == [2, 60, 60]


def test_limits_count_tables_in_quotes_and_code_too() -> None:
    wide = _table(MAX_COLUMNS + 1, 1)
    quoted = "".join(f"> {line}\n" for line in wide.splitlines())
    fenced = "```\n" + wide + "```\n"
    for text in (quoted, fenced):
        _, skipped = read_tables(text)
        assert [t.limit for t in skipped] == ["columns"]


def test_lines_are_numbered_as_the_parser_numbers_them() -> None:
    # A form feed ends a line for str.splitlines, not for Markdown.
    text = "x\x0cy\r\n|A|B|\r|-|-|\n|1|\n|1|2|\n"
    (table,) = parse_tables(text)
    assert table.line == 2
    assert [(r.line, r.source_cells) for r in table.rows] == [(4, 1), (5, 2)]
