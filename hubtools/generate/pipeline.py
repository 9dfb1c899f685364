"""The generator: turn a model repository into an ``ONNX_HUB_MANIFEST.json``.
It runs the collectors of the run's layouts (:mod:`hubtools.generate.layouts`),
drops duplicate candidates, gets the file facts
(:mod:`hubtools.generate.facts`), finishes the candidates whose opset comes
from their file, applies the ``[[models]]`` rules of ``hubtools.toml``,
carries io_ports and extra_ports over from a previous manifest, sorts the
entries by ``model_path``, and checks the result as ``validate`` would
(:mod:`hubtools.generate.selfcheck`). Bad input becomes a
:class:`~hubtools.errors.Problem` located at its source: an error when the
manifest would be wrong or would leave out a model a README lists (the run
fails), a warning when the input is refused or left out on purpose. This
module raises only when it cannot work at all, and it must not parse READMEs
or read file content itself (collectors and the facts step do).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hubtools.core import files as hashing
from hubtools.core.manifest import IOPorts, JSONValue, Manifest, Metadata, ModelEntry
from hubtools.errors import FileWriteError, Problem, Report, UsageError
from hubtools.generate.collectors.base import Candidate, Collector, CollectResult
from hubtools.generate.collectors.base import error as _error
from hubtools.generate.collectors.base import warning as _warning
from hubtools.generate.collectors.readme_tables import LegacyZooCollector
from hubtools.generate.config import LAYOUTS, GenerateConfig, read_generate_config
from hubtools.generate.facts import Facts, plan_facts, run_facts
from hubtools.generate.layouts import Collected, collect, layout_collectors, unlisted_models
from hubtools.generate.repo import changed_since as _changed_since
from hubtools.generate.repo import list_files
from hubtools.generate.rules import apply_rules
from hubtools.generate.selfcheck import problems_at_source

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


@dataclass(frozen=True)
class GenerateStats:
    """Figures of one run, for the summary.

    ``io_ports_missing`` lists the model files whose content is absent (LFS
    pointers) and whose io_ports no previous entry had; ``new_entries`` the
    model paths that the previous manifest did not have (all of them when
    there was none). ``unlisted`` lists the ``.onnx`` files no entry lists and
    no layout reported (each an ``unlisted-model`` warning), ``left_out`` how
    many others are in no entry, each reported by a note or a problem.
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
    unlisted: tuple[str, ...] = ()
    left_out: int = 0
    layouts: tuple[str, ...] = ()


@dataclass(frozen=True)
class GenerateResult:
    """A generated manifest, the problems met on the way, and the run's figures;
    ``text`` is the manifest as it is written (``manifest.dumps()``, made once)."""

    manifest: Manifest
    report: Report
    stats: GenerateStats
    text: str = ""

    def dumps(self) -> str:
        """The manifest's text, as written."""
        return self.text or self.manifest.dumps()


def default_collectors(
    *, include_unlinked: bool = False, include_skipped: bool = False
) -> list[Collector]:
    """The collectors of the real zoo's two layouts: README tables, then
    ``turnkey_stats.yaml`` model folders."""
    return layout_collectors(
        LAYOUTS[:2],
        GenerateConfig(),
        include_unlinked=include_unlinked,
        include_skipped=include_skipped,
    )


def generate_manifest(
    repo_root: Path,
    *,
    previous: Manifest | None = None,
    changed_since: str | None = None,
    jobs: int = 1,
    include_unlinked: bool = False,
    include_skipped: bool = False,
    collectors: Sequence[Collector] | None = None,
    layouts: Sequence[str] | None = None,
    config: GenerateConfig | None = None,
    progress: Callable[[str, int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> GenerateResult:
    """Generate the manifest of the model repository at ``repo_root``.

    The steps: the collectors find candidates in the tracked files; duplicates
    are dropped; the facts of each distinct file are planned and read; the
    candidates of the files layout get their opset from them; the
    ``[[models]]`` rules apply; the entries are assembled, sorted by
    ``model_path`` and checked as ``validate`` checks a manifest.

    ``previous`` supplies io_ports (for models whose content is absent) and
    extra_ports, matched by ``model_sha``. ``changed_since`` (a git ref) reuses
    the previous facts of content files unchanged since that ref; it needs
    ``previous``. ``jobs`` files are read in parallel. ``config`` holds the
    settings of ``hubtools.toml`` (read from ``repo_root`` when not given).
    ``layouts`` (names of :data:`~hubtools.generate.config.LAYOUTS`) replaces
    the config's; without either, the README tables of
    :class:`LegacyZooCollector` (with ``include_unlinked``) and the
    ``turnkey_stats.yaml`` folders (with ``include_skipped``) run, and the
    files layout when neither finds its layout. ``collectors`` replaces them
    all. ``on_total(n_bytes)`` is called once with the bytes about to be
    read, ``progress(path, n_bytes)`` after each file.

    Bad input is reported in the result's Report, as errors (the manifest
    must not be written) or warnings. Raises
    :class:`~hubtools.errors.UsageError` when ``repo_root`` is not a folder,
    ``jobs`` < 1, ``changed_since`` is given without ``previous`` or is not a
    known revision, or ``hubtools.toml`` is wrong;
    :class:`~hubtools.errors.HubtoolsError` when git fails.
    """
    if jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {jobs}")
    root = Path(repo_root)
    repo = list_files(root)
    if config is None:
        config = read_generate_config(root)
    touched = _touched(root, previous, changed_since)
    report = Report()
    collected = collect(
        repo,
        config,
        layouts=layouts,
        collectors=collectors,
        include_unlinked=include_unlinked,
        include_skipped=include_skipped,
    )
    report.extend(collected.problems)
    candidates = _dedupe(collected.candidates, report)
    known = _Previous.of(previous)
    plan = plan_facts(
        root, candidates, touched=touched, by_path=known.by_path, by_data_path=known.by_data_path
    )
    read = run_facts(root, plan.jobs, workers=jobs, progress=progress, on_total=on_total)
    facts: dict[str, Facts | Problem] = {**plan.kept, **read}
    candidates, unmatched = apply_rules(_finished(candidates, facts, report), config.rules)
    report.extend(unmatched)
    assembled = _assemble(candidates, facts, known, report)
    manifest = Manifest.from_entries(assembled.entries).sorted()
    text = manifest.dumps()
    report.extend(problems_at_source(manifest, text, {c.model_path: c for c in candidates}))
    unlisted = unlisted_models(repo, collected, [g.pattern for g in config.exclude])
    report.extend(unlisted)
    stats = _stats(
        manifest, read.values(), len(plan.kept), assembled, known, collected, repo.is_git
    )
    stats = dataclasses.replace(
        stats,
        unlisted=tuple(p.location.file for p in unlisted),
        left_out=_left_out_count(collected, candidates),
    )
    report.count("entries", len(manifest))
    return GenerateResult(manifest=manifest, report=report, stats=stats, text=text)


# ---- the steps ---------------------------------------------------------------


def _touched(root: Path, previous: Manifest | None, ref: str | None) -> frozenset[str] | None:
    """The files changed since ``ref`` (None without a ref: every file is read)."""
    if ref is None:
        return None
    if previous is None:
        raise UsageError(
            "--changed-since needs the previous manifest (--previous FILE) to keep "
            "the unchanged entries from"
        )
    return _changed_since(root, ref).touched


def _dedupe(candidates: Iterable[Candidate], report: Report) -> list[Candidate]:
    """The candidates, each model path once: a weak candidate (the files
    layout's) yields to another's for the same file without a word, and
    drops a bundle another lists; another repeat is an error. A repeated
    name and opset is left to the validator's check of the result."""
    candidates = list(candidates)
    strong = {c.model_path for c in candidates if not c.weak}
    strong.update(
        c.model_with_data_path for c in candidates if not c.weak and c.model_with_data_path
    )
    seen: dict[str, Candidate] = {}
    for candidate in candidates:
        if candidate.weak:
            if candidate.model_path in strong:
                continue
            if candidate.model_with_data_path in strong:
                candidate = dataclasses.replace(candidate, model_with_data_path=None)
        first = seen.get(candidate.model_path)
        if first is None:
            seen[candidate.model_path] = candidate
            continue
        report.add(
            _error(
                "duplicate-model-path",
                f"{candidate.model_path} is already listed at {first.location}; a file "
                "is one entry, so this one cannot be used",
                candidate.location.file,
                candidate.location.line,
                "list each model file once",
            )
        )
    return list(seen.values())


def _finished(
    candidates: Iterable[Candidate], facts: Mapping[str, Facts | Problem], report: Report
) -> list[Candidate]:
    """The candidates, those whose opset comes from their file finished with its
    facts (one whose file has no facts is left to :func:`_assemble` to report)."""
    out = []
    for candidate in candidates:
        model = facts[candidate.model_path]
        if candidate.finish is None or not isinstance(model, Facts):
            out.append(candidate)
            continue
        done = candidate.finish(model.opset, not model.from_pointer)
        if isinstance(done, Problem):
            report.add(done)
        else:
            out.append(done)
    return out


def _left_out_count(collected: Collected, candidates: Iterable[Candidate]) -> int:
    """How many ``.onnx`` files collectors left out (and said so) that no entry names."""
    named = {c.model_path for c in candidates}
    return sum(1 for p in collected.left_out if p.endswith(".onnx") and p not in named)


@dataclass(frozen=True)
class _Previous:
    """The previous manifest's entries, by model path, bundle path and model sha."""

    by_path: dict[str, ModelEntry]
    by_data_path: dict[str, ModelEntry]
    by_sha: dict[str, ModelEntry]

    @classmethod
    def of(cls, previous: Manifest | None) -> _Previous:
        entries = list(previous or ())
        by_sha: dict[str, ModelEntry] = {}
        for entry in entries:
            if entry.metadata.model_sha is not None:
                by_sha.setdefault(entry.metadata.model_sha, entry)
        return cls(
            by_path={e.model_path: e for e in entries},
            by_data_path={
                e.metadata.model_with_data_path: e
                for e in entries
                if e.metadata.model_with_data_path is not None
            },
            by_sha=by_sha,
        )

    def source(self, model_path: str, sha: str) -> ModelEntry | None:
        """The entry whose io_ports and extra_ports carry over to a model: the
        one at the same path when its sha is the same, else the first with that sha."""
        same_path = self.by_path.get(model_path)
        if same_path is not None and same_path.metadata.model_sha == sha:
            return same_path
        return self.by_sha.get(sha)


@dataclass
class _Assembled:
    """The entries of a run, and what their io_ports came from."""

    entries: list[ModelEntry] = field(default_factory=list)
    io_ports_reused: int = 0
    io_ports_missing: list[str] = field(default_factory=list)


def _assemble(
    candidates: Iterable[Candidate],
    facts: Mapping[str, Facts | Problem],
    previous: _Previous,
    report: Report,
) -> _Assembled:
    """One entry per candidate whose model file has facts, in candidate order."""
    out = _Assembled()
    reported: set[str] = set()
    for candidate in candidates:
        found = _facts_of(candidate, facts, reported, report)
        if found is None:
            continue
        model, data = found
        report.extend(_fact_warnings(candidate, model))
        source = previous.source(candidate.model_path, model.sha)
        io_ports = model.io_ports
        if io_ports is None and source is not None and source.metadata.io_ports is not None:
            io_ports = source.metadata.io_ports
            out.io_ports_reused += 1
        if io_ports is None:
            out.io_ports_missing.append(candidate.model_path)
        extra_ports: JSONValue = source.metadata.extra_ports if source is not None else None
        out.entries.append(_entry(candidate, model, data, io_ports, extra_ports))
    return out


def _facts_of(
    candidate: Candidate,
    facts: Mapping[str, Facts | Problem],
    reported: set[str],
    report: Report,
) -> tuple[Facts, Facts | None] | None:
    """The facts of a candidate's model and bundle; None when the model has none.

    A file's problem is reported once, at the first candidate naming it; an
    entry whose bundle has a problem is kept without its bundle.
    """

    def report_once(path: str, problem: Problem) -> None:
        if path not in reported:
            reported.add(path)
            report.add(_at_row(problem, candidate))

    model = facts[candidate.model_path]
    if isinstance(model, Problem):
        report_once(candidate.model_path, model)
        return None
    if candidate.model_with_data_path is None:
        return model, None
    bundle = facts[candidate.model_with_data_path]
    if isinstance(bundle, Problem):
        report_once(candidate.model_with_data_path, bundle)
        return model, None
    return model, bundle


def _at_row(problem: Problem, candidate: Candidate) -> Problem:
    """A file problem, located at the README row that links the file."""
    if problem.location.file == candidate.location.file:
        return problem  # the files layout: the file is its own source
    return Problem(
        problem.code,
        f"{problem.location.file}: {problem.message}",
        candidate.location,
        problem.severity,
        problem.hint,
    )


def _fact_warnings(candidate: Candidate, model: Facts) -> list[Problem]:
    """What the model's content says against its row: odd facts, another opset."""
    where = candidate.location
    problems = [
        _warning(
            "model-facts",
            f"{candidate.model_path}: {note}",
            where.file,
            where.line,
            "check the model with `hubtools inspect`",
        )
        for note in model.notes
    ]
    if model.opset is not None and model.opset != candidate.opset_version:
        problems.append(
            _error(
                "opset-mismatch",
                f"says opset {candidate.opset_version}, but {candidate.model_path} imports "
                f"opset {model.opset}, so `validate --repo` would reject the entry",
                where.file,
                where.line,
                "fix the declared opset (or the file)",
            )
        )
    return problems


def _entry(
    candidate: Candidate,
    model: Facts,
    data: Facts | None,
    io_ports: IOPorts | None,
    extra_ports: JSONValue,
) -> ModelEntry:
    return ModelEntry(
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
            model_with_data_path=candidate.model_with_data_path if data is not None else None,
            model_with_data_sha=data.sha if data is not None else None,
            model_with_data_bytes=data.size if data is not None else None,
            extra=candidate.metadata,
        ),
    )


def _stats(
    manifest: Manifest,
    read: Iterable[Facts | Problem],
    facts_reused: int,
    assembled: _Assembled,
    previous: _Previous,
    collected: Collected,
    is_git: bool,
) -> GenerateStats:
    """The run's figures; ``read`` holds the outcome of every file read this run."""
    from_pointers = files_hashed = bytes_hashed = 0
    for outcome in read:
        if isinstance(outcome, Facts):
            if outcome.from_pointer:
                from_pointers += 1
            else:
                files_hashed += 1
                bytes_hashed += outcome.hashed
    return GenerateStats(
        entries=len(manifest),
        from_pointers=from_pointers,
        files_hashed=files_hashed,
        bytes_hashed=bytes_hashed,
        io_ports_reused=assembled.io_ports_reused,
        facts_reused=facts_reused,
        io_ports_missing=tuple(sorted(assembled.io_ports_missing)),
        new_entries=tuple(e.model_path for e in manifest if e.model_path not in previous.by_path),
        is_git=is_git,
        sources=collected.sources,
        notes=collected.notes,
        layouts=collected.layouts,
    )


def write_manifest(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically: a temporary file beside it, then a rename.

    Readers see the old file or the new one, never a partial write; the file
    keeps the mode of the one it replaces (else the umask's). A symlink stays
    and its target is written; a FIFO or device (``/dev/stdout``) is written
    through, never replaced. Raises :class:`~hubtools.errors.FileWriteError`
    when the folder cannot be written; nothing is left behind then.
    """
    path = Path(path)
    try:
        hashing.write_atomic(path, text, follow=True)
    except OSError as err:
        raise FileWriteError(f"{path}: cannot write: {err.strerror or err}") from err
