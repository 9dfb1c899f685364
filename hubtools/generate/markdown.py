"""GitHub-flavoured Markdown tables as rows that carry their line numbers, and
header matching with aliases and "did you mean" suggestions
(:func:`match_columns`). Cells keep their plain text and the targets of their
links, so callers can use a cell as a name or as a link. A table over the
limits (:data:`MAX_COLUMNS`, :data:`MAX_ROWS`, :data:`MAX_CELLS`) is found
from the source lines and left unparsed, so no document makes the parser
allocate without bound. It must not raise on malformed Markdown, and it knows
nothing of model tables: which columns matter is the collectors' business.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import unquote

from markdown_it import MarkdownIt

__all__ = [
    "MAX_CELLS",
    "MAX_COLUMNS",
    "MAX_ROWS",
    "Cell",
    "ColumnMatch",
    "Row",
    "SkippedTable",
    "Table",
    "match_columns",
    "normalize_header",
    "parse_tables",
    "raw_cell_count",
    "read_tables",
]

# The parser keeps about 1.5 KB per cell, and pads every row to the header's
# width: a few KB of Markdown can ask for millions of cells. These limits are
# far above any model README (the ONNX Model Zoo's widest table has 9 columns,
# its longest 15 rows, its largest README a few hundred cells) and keep one
# README's tables under about 100 MB.
#: Columns a table may have.
MAX_COLUMNS = 64
#: Body rows a table may have.
MAX_ROWS = 5_000
#: Cells (rows, header included, times columns) all the tables of a document may have.
MAX_CELLS = 50_000

_SPACE = re.compile(r"\s+")
# A table's delimiter row, after any blockquote markers and indentation: only
# pipes, dashes, colons and blanks, starting with one of the first three.
_DELIMITER = re.compile(r"[ \t>]*([|:-][|:\- \t]*)\Z")
_ALIGN = re.compile(r":?-+:?\Z")


@dataclass(frozen=True)
class Cell:
    """One table cell: its plain text, and the targets of its links in order."""

    text: str
    links: tuple[str, ...] = ()

    @property
    def link(self) -> str | None:
        """The first link target, or None when the cell has no link."""
        return self.links[0] if self.links else None


@dataclass(frozen=True)
class Row:
    """A body row: its 1-based line, its cells padded to the header width, and
    how many cells the source line really has."""

    line: int
    cells: tuple[Cell, ...]
    source_cells: int


@dataclass(frozen=True)
class Table:
    """A table: the 1-based line of its header, the header texts, the body rows."""

    line: int
    header: tuple[str, ...]
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class SkippedTable:
    """A table left unparsed because it is over a limit: the 1-based line of its
    header, the limit (``"columns"``, ``"rows"`` or ``"cells"``) and what the
    table has (for rows and cells, an upper bound, found from the source lines)."""

    line: int
    limit: str
    found: int


@dataclass(frozen=True)
class ColumnMatch:
    """How a table's header matched the wanted columns.

    ``columns`` maps each wanted key to its column index; ``missing`` lists the
    wanted keys that no header matched; ``suggestions`` maps a header text that
    looks like a typo to the canonical name it is close to.
    """

    columns: Mapping[str, int]
    missing: tuple[str, ...]
    suggestions: Mapping[str, str]


@functools.cache
def _parser() -> MarkdownIt:
    # commonmark + the GFM table rule; "gfm-like" would also turn on linkify,
    # which needs an extra package and does not change tables. One instance
    # for every README: building its rule chains took half of a README's parse
    # (parsing keeps its state per call, so sharing it is safe).
    return MarkdownIt("commonmark").enable("table")


def normalize_header(text: str) -> str:
    """A header text folded for matching: case-folded, runs of space made one."""
    return _SPACE.sub(" ", text).strip().casefold()


def raw_cell_count(line: str) -> int:
    """How many cells a GFM table source line has (unescaped ``|`` splits cells).

    A leading and a trailing pipe do not open an empty cell, as in GFM.
    """
    text = line.strip()
    if text.startswith("|"):
        text = text[1:]
    if text.endswith("|") and not text.endswith("\\|"):
        text = text[:-1]
    count, escaped, in_code = 1, False, False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "`":
            in_code = not in_code
        elif char == "|" and not in_code:
            count += 1
    return count


def _cell(children: Sequence[object]) -> Cell:
    parts: list[str] = []
    links: list[str] = []
    for child in children:
        kind = getattr(child, "type", "")
        if kind in ("text", "code_inline"):
            parts.append(str(getattr(child, "content", "")))
        elif kind in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif kind == "link_open":
            href = getattr(child, "attrs", {}).get("href")
            if isinstance(href, str):
                # markdown-it percent-encodes targets; the file name is the decoded one.
                links.append(unquote(href))
        elif kind == "image":
            parts.append(str(getattr(child, "content", "")))
    return Cell(text=_SPACE.sub(" ", "".join(parts)).strip(), links=tuple(links))


def _lines(text: str) -> list[str]:
    """The lines of ``text`` as the parser numbers them: it ends a line at
    ``\\n``, ``\\r\\n`` and ``\\r`` only, where :meth:`str.splitlines` knows more."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _width(line: str) -> int | None:
    """The columns of the table ``line`` would be the delimiter row of; None when it is not one."""
    match = _DELIMITER.match(line)
    if match is None or "-" not in match.group(1):
        return None
    parts = match.group(1).strip(" \t").split("|")
    if parts and not parts[0].strip(" \t"):
        parts = parts[1:]
    if parts and not parts[-1].strip(" \t"):
        parts = parts[:-1]
    if not parts or not all(_ALIGN.match(p.strip(" \t")) for p in parts):
        return None
    return len(parts)


def _oversized(lines: list[str]) -> list[SkippedTable]:
    """The tables over a limit, found from the source lines alone.

    A table is a header line holding a ``|`` followed by a delimiter row; its
    rows can only be the non-blank lines that follow, up to the first blank
    one, and each has the header's width once the parser pads it. Every
    candidate is counted, also one inside a code block or one that is really
    a row of the table above: the counts are upper bounds, never less than
    what the parser would build.
    """
    candidates: list[tuple[int, int, int]] = []  # delimiter index, columns, rows at most
    run_end = len(lines)
    for index in range(len(lines) - 1, 0, -1):  # bottom-up: a run's end is known first
        if not lines[index].strip(" \t"):
            run_end = index
            continue
        width = _width(lines[index])
        if width is not None and "|" in lines[index - 1]:
            candidates.append((index, width, run_end - index - 1))
    skipped: list[SkippedTable] = []
    cells = 0
    for index, width, rows in reversed(candidates):
        if width > MAX_COLUMNS:
            skipped.append(SkippedTable(index, "columns", width))
        elif rows > MAX_ROWS:
            skipped.append(SkippedTable(index, "rows", rows))
        else:
            # Once past the budget, every later table is skipped too: which
            # tables are read must not depend on which fit in what is left.
            cells += width * (rows + 1)
            if cells > MAX_CELLS:
                skipped.append(SkippedTable(index, "cells", cells))
    return skipped


def read_tables(text: str) -> tuple[list[Table], list[SkippedTable]]:
    """Every GFM table of a Markdown document within the limits, in document
    order, and the tables left unparsed because they are over one.

    Tables are parsed with markdown-it-py's GFM table rule, so the rows are the
    ones GitHub renders: a ``>`` footnote line under a table, an ``<hr>`` or a
    blank line ends the table instead of becoming a row. Cells keep their plain
    text (inline HTML such as ``<b>`` dropped, link text kept) and the targets
    of their links. A table over :data:`MAX_COLUMNS` or :data:`MAX_ROWS`, and
    every table from the one that takes the document past :data:`MAX_CELLS`,
    is found from the source lines first and handed to the parser as plain
    text (its delimiter row blanked), so what is parsed stays bounded.

    Never raises on malformed Markdown: what GitHub would not render as a table
    is simply not returned.
    """
    lines = _lines(text)
    skipped = _oversized(lines)
    if skipped:
        for table in skipped:
            # Its delimiter row (the line after the header, so index == line):
            # without it the parser sees plain text, on the same line numbers.
            lines[table.line] = ""
        text = "\n".join(lines)
    tokens = _parser().parse(text)
    tables: list[Table] = []
    header: list[str] = []
    rows: list[Row] = []
    cells: list[Cell] = []
    table_line = 0
    row_line = 0
    in_head = in_row = False
    for token in tokens:
        kind = token.type
        if kind == "table_open":
            header, rows = [], []
            table_line = (token.map[0] + 1) if token.map else 0
        elif kind == "thead_open":
            in_head = True
        elif kind == "thead_close":
            in_head = False
        elif kind == "tr_open":
            cells, in_row = [], True
            row_line = (token.map[0] + 1) if token.map else 0
        elif kind == "inline" and in_row:
            cells.append(_cell(token.children or []))
        elif kind == "tr_close":
            in_row = False
            if in_head:
                header = [c.text for c in cells]
            else:
                source = lines[row_line - 1] if 0 < row_line <= len(lines) else ""
                rows.append(Row(row_line, tuple(cells), raw_cell_count(source)))
        elif kind == "table_close":
            tables.append(Table(table_line, tuple(header), tuple(rows)))
    return tables, skipped


def parse_tables(text: str) -> list[Table]:
    """The tables of :func:`read_tables`, without the ones it left unparsed."""
    return read_tables(text)[0]


def match_columns(
    header: Sequence[str],
    wanted: Mapping[str, Sequence[str]],
) -> ColumnMatch:
    """Match header texts against wanted columns.

    ``wanted`` maps a key to its accepted names, canonical name first (for
    example ``{"opset": ("Opset version", "Opset")}``). Names match after
    :func:`normalize_header` (case and runs of space ignored); the first
    header matching a key wins. A header
    that matches nothing but is close to the canonical name of a missing key
    is reported in ``suggestions``. Never raises.
    """
    folded = [normalize_header(h) for h in header]
    columns: dict[str, int] = {}
    used: set[int] = set()
    for key, names in wanted.items():
        accepted = {normalize_header(n) for n in names}
        for index, text in enumerate(folded):
            if index not in used and text in accepted:
                columns[key] = index
                used.add(index)
                break
    missing = tuple(key for key in wanted if key not in columns)
    suggestions: dict[str, str] = {}
    for key in missing:
        canonical = wanted[key][0]
        choices = {normalize_header(n): canonical for n in wanted[key]}
        for index, text in enumerate(folded):
            if index in used:
                continue
            close = difflib.get_close_matches(text, list(choices), n=1, cutoff=0.8)
            if close:
                suggestions[header[index].strip()] = choices[close[0]]
                used.add(index)
                break
    return ColumnMatch(columns=columns, missing=missing, suggestions=suggestions)
