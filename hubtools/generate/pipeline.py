"""Turn a model repository into an ``ONNX_HUB_MANIFEST.json``.

The pipeline (see DESIGN.md, "Data flow (generator)"):

1. walk the tracked files (:mod:`hubtools.generate.repo`);
2. collectors find candidate entries: :class:`LegacyZooCollector` reads the
   README tables of the ONNX Model Zoo layout; any object satisfying the
   :class:`Collector` protocol can be added (``collectors=``);
3. file facts: a Git LFS pointer gives sha256 and size with no content; real
   content is read once for sha256, size and io_ports
   (:mod:`hubtools.core.files`, :mod:`hubtools.inspect.facts`); with ``changed_since``
   the facts of unchanged files come from the previous manifest;
4. io_ports missing because the content is absent, and ``extra_ports``, are
   carried over from the previous manifest by ``model_sha``;
5. entries sorted by ``model_path``.

Bad input becomes a :class:`~hubtools.errors.Problem` (severity warning, with
``file:line``) and the run goes on; :func:`generate_manifest` raises only when
it cannot work at all.
"""

from __future__ import annotations

import posixpath
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from hubtools.core import files as hashing
from hubtools.core.manifest import IOPorts, JSONValue, Manifest, Metadata, ModelEntry
from hubtools.errors import (
    FileReadError,
    FileWriteError,
    InvalidModelError,
    LinkError,
    LinkIsURLError,
    Location,
    Problem,
    Report,
    UsageError,
)
from hubtools.generate.collectors.base import Candidate, Collector, CollectResult
from hubtools.generate.collectors.base import warning as _warning
from hubtools.generate.markdown import Row, Table, match_columns, parse_tables
from hubtools.generate.repo import RepoFiles, list_files, resolve_link
from hubtools.generate.repo import changed_since as _changed_since

__all__ = [
    "Candidate",
    "CollectResult",
    "Collector",
    "GenerateResult",
    "GenerateStats",
    "LegacyZooCollector",
    "default_collectors",
    "generate_manifest",
    "write_manifest",
]


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


def _read_text(repo: RepoFiles, path: str, problems: list[Problem]) -> str | None:
    """A README's text, or None (with a warning) when it cannot be read as UTF-8."""
    try:
        data = (repo.root / path).read_bytes()
    except OSError as err:
        problems.append(
            _warning("readme-unreadable", f"cannot read: {err.strerror}", path, None, None)
        )
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        problems.append(
            _warning(
                "readme-not-utf8",
                f"byte 0x{data[err.start]:02x} is not UTF-8; its tables were skipped",
                path,
                line,
                "save the file as UTF-8",
            )
        )
        return None


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

    name = "legacy-zoo"

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
        """Candidates from the README tables of ``repo``; never raises on bad input."""
        problems: list[Problem] = []
        sources: list[str] = []
        candidates: list[Candidate] = []
        linked = self._linked_readmes(repo, problems, sources)
        for readme in linked:
            text = _read_text(repo, readme, problems)
            sources.append(readme)
            if text is not None:
                found = self._model_rows(repo, readme, text, problems)
                if found is None:
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
                else:
                    candidates.extend(found)
        seen = set(linked) | {self.top_readme}
        for readme in sorted(repo.files):
            if readme in seen or posixpath.basename(readme).lower() != "readme.md":
                continue
            unlinked: list[Problem] = []
            text = _read_text(repo, readme, unlinked)
            if text is None:
                continue
            found = self._model_rows(repo, readme, text, unlinked)
            if found is None:
                continue
            sources.append(readme)
            if self.include_unlinked:
                problems.extend(unlinked)
                candidates.extend(found)
                continue
            first = next((t.line for t in parse_tables(text) if _is_model_table(t)), None)
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
        return CollectResult(tuple(candidates), tuple(problems), tuple(sources))

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
        text = _read_text(repo, top, problems)
        sources.append(top)
        if text is None:
            return []
        readmes: list[str] = []
        for table in parse_tables(text):
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
        self, repo: RepoFiles, readme: str, text: str, problems: list[Problem]
    ) -> list[Candidate] | None:
        """Candidates of every model table of a README; None when it has no model table."""
        found: list[Candidate] | None = None
        for table in parse_tables(text):
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
                    _warning(
                        "row-missing-cell",
                        f"row has {row.source_cells} cells, header has {width}; the "
                        f"`{table.header[index]}` cell is {what}; the row was skipped",
                        readme,
                        row.line,
                        f"fill in the `{table.header[index]}` cell",
                    )
                )
                return None
        cells = {key: row.cells[index] for key, index in columns.items()}
        opset_text = cells["opset_version"].text
        try:
            opset = int(opset_text)
        except ValueError:
            problems.append(
                _warning(
                    "bad-opset",
                    f"opset version {opset_text!r} is not an integer; the row was skipped",
                    readme,
                    row.line,
                    "write the opset as a whole number such as 12",
                )
            )
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
        """The tracked file a cell links, or None with a warning."""
        outcome = (
            "the row was skipped"
            if column == "Download"
            else "the entry was written without its test-data bundle"
        )
        if href is None:
            problems.append(
                _warning(
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
            problems.append(
                _warning(
                    "bad-link",
                    f"`{column}` {err}; {outcome}",
                    readme,
                    row.line,
                    "link a file inside the repository, relative to the README",
                )
            )
            return None
        if path not in repo.files:
            problems.append(
                _warning(
                    "link-missing-file",
                    f"`{column}` links {href!r} = {path}, which is not a tracked file; {outcome}",
                    readme,
                    row.line,
                    "fix the link, or add and commit the file",
                )
            )
            return None
        return path


def _is_model_table(table: Table) -> bool:
    return not match_columns(table.header, MODEL_COLUMNS).missing


def _column_problem(readme: str, table: Table, missing: Sequence[str], match: object) -> Problem:
    names = ", ".join(f"`{MODEL_COLUMNS[k][0]}`" for k in missing)
    suggestions: Mapping[str, str] = getattr(match, "suggestions", {})
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


# ---- file facts ------------------------------------------------------------


@dataclass(frozen=True)
class _Facts:
    """What one file contributes to an entry."""

    sha: str
    size: int
    from_pointer: bool
    io_ports: IOPorts | None = None
    opset: int | None = None  # the default-domain opset the content imports
    hashed: int = 0  # bytes read to get these facts
    notes: tuple[str, ...] = ()  # what the file-facts engine found odd


@dataclass(frozen=True)
class _FactsJob:
    path: str
    is_model: bool
    archive: str | None = None  # a model inside a .tar.gz/.zip (new-layout archives)


def _file_facts(root: Path, job: _FactsJob) -> _Facts | Problem:
    """Facts of one file: from its LFS pointer, or from one pass over its content."""
    full = root / job.path
    try:
        pointer = hashing.read_lfs_pointer(full)
        if pointer is not None:
            return _Facts(pointer.oid, pointer.size, from_pointer=True)
        if job.is_model:
            # Imported here: it loads onnx, which a run over LFS pointers never needs.
            from hubtools.inspect.facts import inspect_archive, inspect_file

            if job.archive is not None:
                facts = inspect_archive(full, job.archive, hash=True)
            else:
                facts = inspect_file(full, hash=True)
            if facts.model_sha is None or facts.model_bytes is None:
                raise InvalidModelError(f"{job.path}: no sha256 computed")
            return _Facts(
                facts.model_sha,
                facts.model_bytes,
                from_pointer=False,
                io_ports=facts.io_ports,
                opset=facts.opset_version,
                hashed=facts.model_bytes,
                notes=tuple(facts.problems),
            )
        digest = hashing.digest(full)
        return _Facts(digest.sha256, digest.size, from_pointer=False, hashed=digest.size)
    except InvalidModelError as err:
        return _warning(
            "invalid-model",
            f"not a valid ONNX model ({err}); the entry was skipped",
            job.path,
            None,
            "replace the file with a valid model, or fix the README link",
        )
    except OSError as err:
        reason = str(err) if isinstance(err, FileReadError) else f"cannot read: {err.strerror}"
        return _warning(
            "unreadable-file",
            f"{reason}; the entry was skipped",
            job.path,
            None,
            "check the file's permissions, or run `git lfs pull` if it is missing",
        )


# ---- results -----------------------------------------------------------------


@dataclass(frozen=True)
class GenerateStats:
    """Figures of one run, for the summary.

    ``io_ports_missing`` lists the model files whose content is absent (LFS
    pointers) and whose io_ports no previous entry had; ``new_entries`` the
    model paths that the previous manifest did not have (all of them when
    there was none).
    """

    entries: int = 0
    from_pointers: int = 0
    files_hashed: int = 0
    bytes_hashed: int = 0
    io_ports_reused: int = 0
    facts_reused: int = 0
    io_ports_missing: tuple[str, ...] = ()
    new_entries: tuple[str, ...] = ()
    is_git: bool = True
    sources: int = 0
    notes: tuple[str, ...] = ()  # what collectors left out on purpose, for the summary

    @property
    def lfs_pull_command(self) -> str | None:
        """The ``git lfs pull`` command that fetches the models lacking io_ports."""
        if not self.io_ports_missing:
            return None
        return f"git lfs pull --include={','.join(self.io_ports_missing)}"


@dataclass(frozen=True)
class GenerateResult:
    """A generated manifest, the problems met on the way, and the run's figures."""

    manifest: Manifest
    report: Report
    stats: GenerateStats


# ---- the pipeline ----------------------------------------------------------------


def _dedupe(candidates: Iterable[Candidate], report: Report) -> list[Candidate]:
    seen: dict[str, Candidate] = {}
    for candidate in candidates:
        first = seen.get(candidate.model_path)
        if first is None:
            seen[candidate.model_path] = candidate
            continue
        report.add(
            _warning(
                "duplicate-model-path",
                f"{candidate.model_path} is already listed at {first.location}; "
                "this row was skipped",
                candidate.location.file,
                candidate.location.line,
                "list each model file once",
            )
        )
    by_name: dict[tuple[str, int], Candidate] = {}
    for candidate in seen.values():
        key = (candidate.model.casefold(), candidate.opset_version)
        first = by_name.setdefault(key, candidate)
        if first is not candidate:
            # Kept (the file is real), but clients look names up case-insensitively
            # with the opset: only the first of the two can ever be loaded by name.
            report.add(
                _warning(
                    "duplicate-model",
                    f"model {candidate.model!r} with opset {candidate.opset_version} is "
                    f"already declared at {first.location}; a client asking for it by name "
                    "gets only one of them",
                    candidate.location.file,
                    candidate.location.line,
                    "give one of them another name",
                )
            )
    return list(seen.values())


def _reusable(
    path: str,
    by_path: Mapping[str, ModelEntry],
    by_data_path: Mapping[str, ModelEntry],
    touched: frozenset[str],
) -> _Facts | None:
    """Facts of an unchanged content file, taken from the previous manifest."""
    if path in touched:
        return None
    entry = by_path.get(path)
    if entry is not None:
        meta = entry.metadata
        if meta.model_sha is None or meta.model_bytes is None or meta.io_ports is None:
            return None  # a full run would read the content now: do the same
        return _Facts(meta.model_sha, meta.model_bytes, False, meta.io_ports)
    entry = by_data_path.get(path)
    if entry is not None:
        meta = entry.metadata
        if meta.model_with_data_sha is not None and meta.model_with_data_bytes is not None:
            return _Facts(meta.model_with_data_sha, meta.model_with_data_bytes, False)
    return None


def default_collectors(
    *, include_unlinked: bool = False, include_skipped: bool = False
) -> list[Collector]:
    """The collectors of the real zoo's two layouts: README tables, then
    ``turnkey_stats.yaml`` model folders."""
    from hubtools.generate.collectors.turnkey import TurnkeyCollector

    return [
        LegacyZooCollector(include_unlinked=include_unlinked),
        TurnkeyCollector(include_skipped=include_skipped),
    ]


def generate_manifest(
    repo_root: Path,
    *,
    previous: Manifest | None = None,
    changed_since: str | None = None,
    jobs: int = 1,
    include_unlinked: bool = False,
    include_skipped: bool = False,
    collectors: Sequence[Collector] | None = None,
    progress: Callable[[str, int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> GenerateResult:
    """Generate the manifest of the model repository at ``repo_root``.

    ``previous`` supplies io_ports (for models whose content is absent) and
    extra_ports, matched by ``model_sha``. ``changed_since`` (a git ref) reuses
    the previous facts of content files unchanged since that ref; it needs
    ``previous``. ``jobs`` files are read in parallel. ``collectors`` replaces
    the defaults (:func:`default_collectors`: the README tables of
    :class:`LegacyZooCollector`, with ``include_unlinked``, and the
    ``turnkey_stats.yaml`` folders of :class:`TurnkeyCollector`, with
    ``include_skipped``). ``on_total(n_bytes)`` is called
    once with the bytes about to be read, ``progress(path, n_bytes)`` after
    each file.

    Bad input is reported in the result's Report as warnings. Raises
    :class:`~hubtools.errors.UsageError` when ``repo_root`` is not a folder,
    ``jobs`` < 1, ``changed_since`` is given without ``previous`` or is not a
    known revision; :class:`~hubtools.errors.HubtoolsError` when git fails.
    """
    if jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {jobs}")
    root = Path(repo_root)
    repo = list_files(root)
    report = Report()
    touched: frozenset[str] | None = None
    if changed_since is not None:
        if previous is None:
            raise UsageError(
                "--changed-since needs the previous manifest (--previous FILE) to keep "
                "the unchanged entries from"
            )
        touched = _changed_since(root, changed_since).touched
    if collectors is None:
        collectors = default_collectors(
            include_unlinked=include_unlinked, include_skipped=include_skipped
        )

    found: list[Candidate] = []
    sources = 0
    notes: list[str] = []
    for collector in collectors:
        result = collector.collect(repo)
        report.extend(result.problems)
        found.extend(result.candidates)
        sources += len(result.sources)
        notes.extend(result.notes)
    candidates = _dedupe(found, report)

    previous_entries = list(previous or ())
    by_path = {e.model_path: e for e in previous_entries}
    by_data_path = {
        e.metadata.model_with_data_path: e
        for e in previous_entries
        if e.metadata.model_with_data_path is not None
    }
    by_sha: dict[str, ModelEntry] = {}
    for entry in previous_entries:
        if entry.metadata.model_sha is not None:
            by_sha.setdefault(entry.metadata.model_sha, entry)

    # Facts: one job per distinct file; unchanged content files reuse previous facts.
    facts: dict[str, _Facts | Problem] = {}
    jobs_todo: list[_FactsJob] = []
    queued: set[str] = set()
    facts_reused = 0
    for candidate in candidates:
        wanted = [(candidate.model_path, True, candidate.archive)]
        if candidate.model_with_data_path is not None:
            wanted.append((candidate.model_with_data_path, False, None))
        for path, is_model, archive in wanted:
            if path in facts or path in queued:
                continue
            if touched is not None and not _is_pointer(root / path):
                reused = _reusable(path, by_path, by_data_path, touched)
                if reused is not None:
                    facts[path] = reused
                    facts_reused += 1
                    continue
            queued.add(path)
            jobs_todo.append(_FactsJob(path, is_model, archive))
    # onnx (for io_ports) takes a while to import; when some model has content,
    # import it on the side while the bundles are hashed first.
    importer: threading.Thread | None = None
    if any(j.is_model and not _is_pointer(root / j.path) for j in jobs_todo):
        importer = threading.Thread(target=_import_onnx_info, name="hubtools-import-onnx")
        importer.start()
        jobs_todo.sort(key=lambda j: j.is_model)
    if on_total is not None:
        on_total(sum(_size(root / j.path) for j in jobs_todo))

    def run(job: _FactsJob) -> tuple[str, _Facts | Problem]:
        outcome = _file_facts(root, job)
        if progress is not None:
            progress(job.path, outcome.hashed if isinstance(outcome, _Facts) else 0)
        return job.path, outcome

    if jobs == 1 or len(jobs_todo) < 2:
        facts.update(run(j) for j in jobs_todo)
    else:
        # Threads: hashlib and file reads release the GIL, so they overlap well.
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            facts.update(pool.map(run, jobs_todo))

    if importer is not None:
        importer.join()
    entries: list[ModelEntry] = []
    from_pointers = files_hashed = bytes_hashed = io_reused = 0
    missing_io: list[str] = []
    for job in jobs_todo:
        outcome = facts[job.path]
        if isinstance(outcome, _Facts):
            if outcome.from_pointer:
                from_pointers += 1
            else:
                files_hashed += 1
                bytes_hashed += outcome.hashed
    reported: set[str] = set()
    for candidate in candidates:
        model = facts[candidate.model_path]
        if isinstance(model, Problem):
            if candidate.model_path not in reported:
                reported.add(candidate.model_path)
                report.add(_at_row(model, candidate))
            continue
        data: _Facts | None = None
        if candidate.model_with_data_path is not None:
            bundle = facts[candidate.model_with_data_path]
            if isinstance(bundle, Problem):
                if candidate.model_with_data_path not in reported:
                    reported.add(candidate.model_with_data_path)
                    report.add(_at_row(bundle, candidate))
            else:
                data = bundle
        for note in model.notes:
            report.add(
                _warning(
                    "model-facts",
                    f"{candidate.model_path}: {note}",
                    candidate.location.file,
                    candidate.location.line,
                    "check the model with `hubtools inspect`",
                )
            )
        if model.opset is not None and model.opset != candidate.opset_version:
            report.add(
                _warning(
                    "opset-mismatch",
                    f"says opset {candidate.opset_version}, but {candidate.model_path} imports "
                    f"opset {model.opset}; the declared value was kept",
                    candidate.location.file,
                    candidate.location.line,
                    "fix the declared opset (or the file)",
                )
            )
        same_path = by_path.get(candidate.model_path)
        source = (
            same_path
            if same_path is not None and same_path.metadata.model_sha == model.sha
            else by_sha.get(model.sha)
        )
        io_ports = model.io_ports
        if io_ports is None and source is not None and source.metadata.io_ports is not None:
            io_ports = source.metadata.io_ports
            io_reused += 1
        if io_ports is None:
            missing_io.append(candidate.model_path)
        extra_ports: JSONValue = source.metadata.extra_ports if source is not None else None
        entries.append(
            ModelEntry(
                model=candidate.model,
                model_path=candidate.model_path,
                onnx_version=candidate.onnx_version,
                opset_version=candidate.opset_version,
                metadata=Metadata(
                    model_sha=model.sha,
                    model_bytes=model.size,
                    tags=candidate.tags,
                    io_ports=io_ports,
                    extra_ports=extra_ports,
                    model_with_data_path=(
                        candidate.model_with_data_path if data is not None else None
                    ),
                    model_with_data_sha=data.sha if data is not None else None,
                    model_with_data_bytes=data.size if data is not None else None,
                    extra=candidate.metadata,
                ),
            )
        )
    manifest = Manifest.from_entries(entries).sorted()
    stats = GenerateStats(
        entries=len(manifest),
        from_pointers=from_pointers,
        files_hashed=files_hashed,
        bytes_hashed=bytes_hashed,
        io_ports_reused=io_reused,
        facts_reused=facts_reused,
        io_ports_missing=tuple(sorted(missing_io)),
        new_entries=tuple(e.model_path for e in manifest if e.model_path not in by_path),
        is_git=repo.is_git,
        sources=sources,
        notes=tuple(notes),
    )
    report.count("entries", len(manifest))
    return GenerateResult(manifest=manifest, report=report, stats=stats)


def _at_row(problem: Problem, candidate: Candidate) -> Problem:
    """A file problem, located at the README row that links the file."""
    return Problem(
        problem.code,
        f"{problem.location.file}: {problem.message}",
        candidate.location,
        problem.severity,
        problem.hint,
    )


def _import_onnx_info() -> None:
    try:
        import hubtools.inspect.facts  # noqa: F401  (loaded once, for _file_facts)
    except Exception:  # the import in _file_facts raises it where it is handled
        return


def _is_pointer(path: Path) -> bool:
    try:
        return hashing.read_lfs_pointer(path) is not None
    except OSError:
        return False


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def write_manifest(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically: a temporary file beside it, then a rename.

    Readers see the old file or the new one, never a partial write; the file
    keeps the mode of the one it replaces (else the umask's). Raises
    :class:`~hubtools.errors.FileWriteError` when the folder cannot be
    written; nothing is left behind then.
    """
    path = Path(path)
    try:
        hashing.write_atomic(path, text)
    except OSError as err:
        raise FileWriteError(f"{path}: cannot write: {err.strerror or err}") from err
