"""The collector of the ONNX Model Zoo's README layout: model tables in
READMEs that a ``Model Class`` table of the top README links. It turns table
rows into :class:`~hubtools.generate.collectors.base.Candidate` entries and
reports bad rows as warnings; it must not raise on bad input, and it never
reads model files (their facts are the generator's job).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping, Sequence

from hubtools.errors import LinkError, LinkIsURLError, Location, Problem
from hubtools.generate.collectors.base import MAX_OPSET, Candidate, CollectResult, read_source
from hubtools.generate.collectors.base import error as _error
from hubtools.generate.collectors.base import warning as _warning
from hubtools.generate.markdown import (
    MAX_CELLS,
    MAX_COLUMNS,
    MAX_ROWS,
    ColumnMatch,
    Row,
    SkippedTable,
    Table,
    match_columns,
    read_tables,
)
from hubtools.generate.repo import RepoFiles, resolve_link

__all__ = [
    "DATA_COLUMN",
    "MAX_README_BYTES",
    "MODEL_CLASS_COLUMN",
    "MODEL_COLUMNS",
    "LegacyZooCollector",
]

#: The largest README read for model tables: 16 times the ONNX Model Zoo's
#: largest (31 KB). Parsing costs up to about 500 bytes of memory per byte of
#: Markdown, so this keeps one README under about 300 MB; a larger one is
#: refused from its size, before it is read.
MAX_README_BYTES = 512 * 1024
_DIGITS = re.compile(r"[0-9]+\Z")  # int() would also take "1_2", " 12" and other scripts' digits
# What repo_file refuses: reported for every README, also one no link reaches.
_REFUSED = frozenset({"link-outside", "not-a-regular-file"})
# Problems after which a README's model tables may not all have been read.
_TABLES_SKIPPED = frozenset(
    {"table-too-wide", "table-too-long", "readme-too-many-cells", "table-missing-column"}
)
_RENAME = "change the `Model` cell of one of the two rows (names match case-insensitively)"


#: Columns of a legacy model table: key -> accepted names, canonical first.
MODEL_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "model": ("Model", "Model name", "Name"),
    "download": ("Download", "Download (model only)", "Model download"),
    "onnx_version": ("ONNX version", "ONNX"),
    "opset_version": ("Opset version", "Opset"),
}
#: Optional column: the bundle with sample test data.
DATA_COLUMN: Mapping[str, tuple[str, ...]] = {
    "with_data": (
        "Download (with sample test data)",
        "Download (with test data)",
        "Download with sample test data",
    ),
}
MODEL_CLASS_COLUMN: Mapping[str, tuple[str, ...]] = {"model_class": ("Model Class",)}


def _read_text(repo: RepoFiles, path: str) -> str | Problem:
    """A README's text, or the warning that it was not read (see
    :func:`~hubtools.generate.collectors.base.read_source`)."""
    return read_source(
        repo,
        path,
        limit=MAX_README_BYTES,
        code="readme",
        kind="a README",
        outcome="its tables were skipped",
        hint="split it into one README per model folder, each linked from the top README",
    )


def _tables(readme: str, text: str, problems: list[Problem]) -> list[Table]:
    """The tables of a README, with a warning for each one left out for its size
    (one for all those past the cell budget)."""
    tables, skipped = read_tables(text)
    over_budget = [t for t in skipped if t.limit == "cells"]
    for table in skipped:
        if table.limit != "cells":
            problems.append(_limit_problem(readme, table, 0))
        elif table is over_budget[0]:
            problems.append(_limit_problem(readme, table, len(over_budget) - 1))
    return tables


def _limit_problem(readme: str, table: SkippedTable, later: int) -> Problem:
    """The warning for a table over a limit; ``later``: tables after it also skipped."""
    if table.limit == "columns":
        return _warning(
            "table-too-wide",
            f"table has {table.found} columns, more than the {MAX_COLUMNS} a table may "
            "have; it was skipped",
            readme,
            table.line,
            f"keep a model table to the columns it needs (at most {MAX_COLUMNS}); "
            "put other figures in a table of their own",
        )
    if table.limit == "rows":
        return _warning(
            "table-too-long",
            f"table has more than {MAX_ROWS} rows; it was skipped",
            readme,
            table.line,
            f"split it into tables of at most {MAX_ROWS} rows, or over several READMEs",
        )
    others = f" and the {later} after it were" if later else " was"
    return _warning(
        "readme-too-many-cells",
        f"with this table the README's tables reach {table.found} cells (rows times "
        f"columns), more than the {MAX_CELLS} a README may have; this table{others} skipped",
        readme,
        table.line,
        "split the tables over several READMEs, one per model folder",
    )


class LegacyZooCollector:
    """The ONNX Model Zoo's README layout.

    The top-level README's tables with a ``Model Class`` column link model
    folders; each folder's README has tables with Model / Download / ONNX
    version / Opset version columns (plus an optional Download (with sample
    test data) column). Tags are the README folder's parts below a collection
    folder (``collection_folders``, default ``validated``) with ``_`` read as
    a space, plus ``preprocessing`` for models under a ``preproc`` folder.

    READMEs with model tables that no top-level link reaches are reported,
    and collected too when ``include_unlinked`` is set.
    """

    name = "readme-tables"

    def __init__(
        self,
        *,
        top_readme: str = "README.md",
        collection_folders: Sequence[str] = ("validated",),
        include_unlinked: bool = False,
    ) -> None:
        self.top_readme = top_readme
        self.collection_folders = tuple(collection_folders)
        self.include_unlinked = include_unlinked

    def collect(self, repo: RepoFiles) -> CollectResult:
        """Candidates from the README tables of ``repo``; never raises on bad input.

        The result's ``left_out`` holds the model files of rows it could not
        use, of READMEs no link reaches, and under the folder of a README it
        could not read whole: each is reported already, by its own problem.
        """
        problems: list[Problem] = []
        sources: list[str] = []
        candidates: list[Candidate] = []
        left_out: list[str] = []
        linked = self._linked_readmes(repo, problems, sources)
        matched = bool(linked)  # a `Model Class` table links model folders: this layout
        for readme in linked:
            text = _read_text(repo, readme)
            sources.append(readme)
            if isinstance(text, Problem):
                problems.append(text)
                left_out.extend(_models_under(repo, readme))
            else:
                reported = len(problems)
                tables = _tables(readme, text, problems)
                found = self._model_rows(repo, readme, tables, problems, left_out)
                skipped = any(p.code in _TABLES_SKIPPED for p in problems[reported:])
                if skipped:
                    left_out.extend(_models_under(repo, readme))
                if found is not None:
                    matched = True
                    candidates.extend(found)
                elif not skipped:
                    problems.append(
                        _warning(
                            "no-model-table",
                            "linked from the top README but has no table with Model, "
                            "Download, ONNX version and Opset version columns",
                            readme,
                            None,
                            "add the model table, or remove the link",
                        )
                    )
        seen = set(linked) | {self.top_readme}
        for readme in sorted(repo.files):
            if readme in seen or posixpath.basename(readme).lower() != "readme.md":
                continue
            unlinked: list[Problem] = []
            unlinked_files: list[str] = []
            text = _read_text(repo, readme)
            if isinstance(text, Problem):
                if text.code in _REFUSED:  # a link out or a FIFO is worth a word anywhere
                    problems.append(text)
                continue
            tables = _tables(readme, text, unlinked)
            found = self._model_rows(repo, readme, tables, unlinked, unlinked_files)
            if found is None:
                continue
            sources.append(readme)
            matched = True
            left_out.extend(unlinked_files)
            if self.include_unlinked:
                problems.extend(unlinked)
                candidates.extend(found)
                continue
            left_out.extend(c.model_path for c in found)
            first = next((t.line for t in tables if _is_model_table(t)), None)
            problems.append(
                _warning(
                    "unlinked-readme",
                    f"has model tables ({len(found)} rows) that no link in "
                    f"{self.top_readme} reaches; they were left out",
                    readme,
                    first,
                    f"link its folder from a `Model Class` table in {self.top_readme}, "
                    "or pass --include-unlinked",
                ),
            )
        return CollectResult(
            tuple(candidates),
            tuple(problems),
            tuple(sources),
            left_out=tuple(left_out),
            matched=matched,
        )

    def _linked_readmes(
        self, repo: RepoFiles, problems: list[Problem], sources: list[str]
    ) -> list[str]:
        top = self.top_readme
        if top not in repo.files:
            problems.append(
                _warning(
                    "top-readme-missing",
                    "no top-level README to start from",
                    top,
                    None,
                    "add a README.md with a `Model Class` table linking the model folders",
                )
            )
            return []
        text = _read_text(repo, top)
        sources.append(top)
        if isinstance(text, Problem):
            problems.append(text)
            return []
        readmes: list[str] = []
        for table in _tables(top, text, problems):
            column = match_columns(table.header, MODEL_CLASS_COLUMN).columns.get("model_class")
            if column is None:
                continue
            for row in table.rows:
                for href in row.cells[column].links:
                    readme = self._readme_of(repo, href, row.line, problems)
                    if readme is not None and readme not in readmes:
                        readmes.append(readme)
        return readmes

    def _readme_of(
        self, repo: RepoFiles, href: str, line: int, problems: list[Problem]
    ) -> str | None:
        top = self.top_readme
        try:
            path = resolve_link(repo.root, posixpath.dirname(top), href)
        except LinkIsURLError:
            return None  # a link to a paper or a Space, not a model folder
        except LinkError as err:
            problems.append(
                _warning("link-escapes", str(err), top, line, "link a folder inside the repository")
            )
            return None
        readme = path if path.lower().endswith(".md") else posixpath.join(path, "README.md")
        if readme not in repo.files:
            problems.append(
                _warning(
                    "link-missing-readme",
                    f"`Model Class` link {href!r} leads to {readme}, which is not a tracked file",
                    top,
                    line,
                    "fix the link or add the folder's README.md",
                )
            )
            return None
        return readme

    def _tags(self, readme: str, model_path: str) -> tuple[str, ...]:
        parts = [p for p in posixpath.dirname(readme).split("/") if p]
        if parts and parts[0] in self.collection_folders:
            parts = parts[1:]
        tags = [p.replace("_", " ") for p in parts]
        if "preproc" in model_path.split("/")[:-1]:
            tags.append("preprocessing")
        return tuple(tags)

    def _model_rows(
        self,
        repo: RepoFiles,
        readme: str,
        tables: Sequence[Table],
        problems: list[Problem],
        left_out: list[str],
    ) -> list[Candidate] | None:
        """Candidates of every model table of a README; None when it has no model
        table. The files that rows it cannot use link go to ``left_out``."""
        found: list[Candidate] | None = None
        for table in tables:
            match = match_columns(table.header, {**MODEL_COLUMNS, **DATA_COLUMN})
            required_missing = [k for k in match.missing if k in MODEL_COLUMNS]
            if required_missing:
                present = len(MODEL_COLUMNS) - len(required_missing)
                if present >= 2 or match.suggestions:
                    problems.append(_column_problem(readme, table, required_missing, match))
                continue
            found = [] if found is None else found
            for row in table.rows:
                candidate = self._row(repo, readme, table, row, match.columns, problems)
                if candidate is not None:
                    found.append(candidate)
                    continue
                download = match.columns["download"]
                if download < row.source_cells:
                    linked = _quiet_link(repo, readme, row.cells[download].link)
                    if linked is not None:
                        left_out.append(linked)
        return found

    def _row(
        self,
        repo: RepoFiles,
        readme: str,
        table: Table,
        row: Row,
        columns: Mapping[str, int],
        problems: list[Problem],
    ) -> Candidate | None:
        width = len(table.header)
        for key in MODEL_COLUMNS:
            index = columns[key]
            if index >= row.source_cells or not row.cells[index].text:
                what = "missing" if index >= row.source_cells else "empty"
                problems.append(
                    _error(
                        "row-missing-cell",
                        f"row has {row.source_cells} cells, header has {width}; the "
                        f"`{table.header[index]}` cell is {what}, so the row cannot be used",
                        readme,
                        row.line,
                        f"fill in the `{table.header[index]}` cell",
                    )
                )
                return None
        cells = {key: row.cells[index] for key, index in columns.items()}
        opset = _opset(cells["opset_version"].text, readme, row.line)
        if isinstance(opset, Problem):
            problems.append(opset)
            return None
        link = cells["download"].link
        model_path = self._file_link(repo, readme, row, link, "Download", problems)
        if model_path is None:
            return None
        data_path = None
        data_cell = cells.get("with_data")
        if data_cell is not None and data_cell.link is not None:
            column = table.header[columns["with_data"]]
            data_path = self._file_link(repo, readme, row, data_cell.link, column, problems)
        return Candidate(
            model=cells["model"].text,
            model_path=model_path,
            onnx_version=cells["onnx_version"].text,
            opset_version=opset,
            tags=self._tags(readme, model_path),
            model_with_data_path=data_path,
            location=Location(readme, row.line),
            rename=_RENAME,
        )

    @staticmethod
    def _file_link(
        repo: RepoFiles,
        readme: str,
        row: Row,
        href: str | None,
        column: str,
        problems: list[Problem],
    ) -> str | None:
        """The tracked file a cell links, or None with the problem said."""
        outcome = (
            "the row cannot be used"
            if column == "Download"
            else "the entry cannot have its test-data bundle"
        )
        if href is None:
            problems.append(
                _error(
                    "no-link",
                    f"the `{column}` cell has no link; {outcome}",
                    readme,
                    row.line,
                    f"make the `{column}` cell a link to the file, like [1 MB](model/x.onnx)",
                )
            )
            return None
        try:
            path = resolve_link(repo.root, posixpath.dirname(readme), href)
        except LinkError as err:
            skipped = (
                "the row was skipped"
                if column == "Download"
                else "the entry was written without its test-data bundle"
            )
            problems.append(
                _warning(
                    "bad-link",
                    f"`{column}` {err}; {skipped}",
                    readme,
                    row.line,
                    "link a file inside the repository, relative to the README",
                )
            )
            return None
        if path not in repo.files:
            problems.append(
                _error(
                    "link-missing-file",
                    f"`{column}` links {href!r} = {path}, which is not a tracked file; {outcome}",
                    readme,
                    row.line,
                    "fix the link, or add and commit the file",
                )
            )
            return None
        return path


def _opset(text: str, readme: str, line: int) -> int | Problem:
    """The opset a cell gives, or what is wrong with it (quoting at most 20
    characters): an error when it is not a whole number (a typo such as
    ``thirteen``), a refusal (a warning, the row skipped) when it is one out of
    range, as a hostile README's 5000-digit number is."""
    shown = repr(text) if len(text) <= 20 else f"{text[:20]!r}... ({len(text)} characters)"
    hint = "write the opset as a whole number such as 12"
    if not _DIGITS.match(text):
        return _error(
            "opset-not-a-number",
            f"opset version {shown} is not a whole number, so the row cannot be used",
            readme,
            line,
            hint,
        )
    if len(text) > len(str(MAX_OPSET)) or not 1 <= int(text) <= MAX_OPSET:
        return _warning(
            "bad-opset",
            f"opset version {shown} is out of range: an opset is a whole number from 1 to "
            f"{MAX_OPSET}; the row was skipped",
            readme,
            line,
            hint,
        )
    return int(text)


def _quiet_link(repo: RepoFiles, readme: str, href: str | None) -> str | None:
    """The tracked file a link names, or None; for files whose row was reported."""
    if href is None:
        return None
    try:
        path = resolve_link(repo.root, posixpath.dirname(readme), href)
    except LinkError:
        return None
    return path if path in repo.files else None


def _models_under(repo: RepoFiles, readme: str) -> list[str]:
    """The ``.onnx`` files under a README's folder (which its tables might have listed)."""
    folder = posixpath.dirname(readme)
    prefix = f"{folder}/" if folder else ""
    return [p for p in repo.files if p.startswith(prefix) and p.endswith(".onnx")]


def _is_model_table(table: Table) -> bool:
    return not match_columns(table.header, MODEL_COLUMNS).missing


def _column_problem(
    readme: str, table: Table, missing: Sequence[str], match: ColumnMatch
) -> Problem:
    names = ", ".join(f"`{MODEL_COLUMNS[k][0]}`" for k in missing)
    suggestions = match.suggestions
    if suggestions:
        hint = "; ".join(
            f"column `{got}`: did you mean `{want}`?" for got, want in suggestions.items()
        )
    else:
        hint = f"add the {names} column(s), or rename the header to one of these names"
    return _warning(
        "table-missing-column",
        f"table looks like a model table but has no {names} column; it was skipped",
        readme,
        table.line,
        hint,
    )
