"""GitHub-flavoured Markdown tables as rows that carry their line numbers, and
header matching with aliases and "did you mean" suggestions
(:func:`match_columns`). Cells keep their plain text and the targets of their
links, so callers can use a cell as a name or as a link. It must not raise on
malformed Markdown, and it knows nothing of model tables: which columns matter
is the collectors' business.
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
    "Cell",
    "ColumnMatch",
    "Row",
    "Table",
    "match_columns",
    "normalize_header",
    "parse_tables",
    "raw_cell_count",
]

_SPACE = re.compile(r"\s+")


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


def parse_tables(text: str) -> list[Table]:
    """Every GFM table of a Markdown document, in document order.

    Tables are parsed with markdown-it-py's GFM table rule, so the rows are the
    ones GitHub renders: a ``>`` footnote line under a table, an ``<hr>`` or a
    blank line ends the table instead of becoming a row. Cells keep their plain
    text (inline HTML such as ``<b>`` dropped, link text kept) and the targets
    of their links.

    Never raises on malformed Markdown: what GitHub would not render as a table
    is simply not returned.
    """
    lines = text.splitlines()
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
    return tables


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
