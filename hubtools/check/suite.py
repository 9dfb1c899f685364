"""Which models of a hub to check, and the whole run: the manifest's entries,
narrowed by name, path or what changed since a git ref, turned into jobs for
the worker processes, with tolerances from the command line or the hub's
``hubtools.toml``.

An entry whose paths leave the repository gets an ``error`` verdict and is
never opened. This module never prints; it returns a :class:`CheckResult`.
"""

from __future__ import annotations

import fnmatch
import posixpath
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hubtools.check.model import ERROR, FAIL, Job, Verdict
from hubtools.check.runner import run_checks
from hubtools.check.testdata import Tolerance
from hubtools.core.hubconfig import CONFIG_NAME, read_table
from hubtools.core.manifest import MANIFEST_NAME, Manifest, ModelEntry
from hubtools.core.paths import resolve_inside, unsafe_reason
from hubtools.errors import UsageError

__all__ = ["CheckResult", "check_models", "select_entries"]

#: Files whose change can change what an entry is, besides its model and bundle.
_SOURCES = ("README.md", "turnkey_stats.yaml")


@dataclass(frozen=True)
class CheckResult:
    """Verdicts in manifest order, and counts per status."""

    verdicts: tuple[Verdict, ...] = ()
    selected: int = 0
    manifest_entries: int = 0

    def count(self, status: str) -> int:
        """How many verdicts have ``status``."""
        return sum(1 for v in self.verdicts if v.status == status)

    @property
    def failed(self) -> bool:
        """True when a model failed or could not be checked (error)."""
        return any(v.status in (FAIL, ERROR) for v in self.verdicts)


@dataclass(frozen=True)
class _Rule:
    glob: str
    tolerance: Tolerance


@dataclass(frozen=True)
class _Tolerances:
    default: Tolerance = field(default_factory=Tolerance)
    rules: tuple[_Rule, ...] = ()

    def of(self, model_path: str) -> Tolerance:
        found = self.default
        for rule in self.rules:  # later rules win, as in the config file's order
            if fnmatch.fnmatchcase(model_path, rule.glob):
                found = rule.tolerance
        return found


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise UsageError(f"{where}: expected a number >= 0, got {value!r}")
    return float(value)


def _read_tolerances(root: Path, rtol: float | None, atol: float | None) -> _Tolerances:
    """``[check-models]`` of ``hubtools.toml``: ``rtol``/``atol`` defaults and
    ``[[check-models.tolerance]]`` rules (``path`` glob, ``rtol``, ``atol``);
    the command line's values win over the defaults."""
    path = root / CONFIG_NAME
    table = read_table(root, "check-models", known=("rtol", "atol", "tolerance"))
    where = f"{path}: [check-models]"
    base = Tolerance()
    default = Tolerance(
        rtol if rtol is not None else _number(table.get("rtol", base.rtol), f"{where} rtol"),
        atol if atol is not None else _number(table.get("atol", base.atol), f"{where} atol"),
    )
    rules = []
    for i, item in enumerate(table.get("tolerance", [])):
        at = f"{where} tolerance #{i + 1}"
        if not isinstance(item, dict) or not isinstance(item.get("path"), str):
            raise UsageError(f'{at}: needs a path glob, like path = "vision/**"')
        unknown = set(item) - {"path", "rtol", "atol"}
        if unknown:
            raise UsageError(f"{at}: unknown key(s) {', '.join(sorted(unknown))}")
        rules.append(
            _Rule(
                item["path"],
                Tolerance(
                    _number(item.get("rtol", default.rtol), f"{at} rtol"),
                    _number(item.get("atol", default.atol), f"{at} atol"),
                ),
            )
        )
    return _Tolerances(default, tuple(rules))


def _relative(root: Path, given: str) -> str:
    """A PATH argument as a POSIX path relative to the repository."""
    full = Path(given).resolve()
    try:
        rel = full.relative_to(root.resolve()).as_posix()
    except ValueError:
        raise UsageError(f"{given} is not inside the repository {root}") from None
    return "" if rel == "." else rel


def _under(path: str | None, prefix: str) -> bool:
    return path is not None and (not prefix or path == prefix or path.startswith(prefix + "/"))


def _changed(root: Path, ref: str, entries: Sequence[ModelEntry]) -> set[int]:
    """Indices of entries that a change since ``ref`` touches: their model or
    bundle, a README.md or turnkey_stats.yaml in a folder above the model, or
    the hub's hubtools.toml (which can change any entry)."""
    from hubtools.generate.repo import changed_since

    touched = changed_since(root, ref).touched
    if CONFIG_NAME in touched:
        return set(range(len(entries)))
    sources = {p for p in touched if posixpath.basename(p) in _SOURCES}
    chosen = set()
    for index, entry in enumerate(entries):
        files = {entry.model_path, entry.metadata.model_with_data_path}
        folder = posixpath.dirname(entry.model_path)
        folders = {""}
        while folder:
            folders.add(folder)
            folder = posixpath.dirname(folder)
        if files & touched or any(posixpath.dirname(s) in folders for s in sources):
            chosen.add(index)
    return chosen


def select_entries(
    root: Path,
    manifest: Manifest,
    *,
    models: Sequence[str] = (),
    paths: Sequence[str] = (),
    changed_since: str | None = None,
) -> list[ModelEntry]:
    """The entries to check: those named by ``models`` (any case) or lying under
    one of ``paths`` (all when neither is given), and, with ``changed_since``,
    only those a change since that git ref touches.

    Raises UsageError for a name or path that selects nothing, a path outside
    the repository, or a ref git does not know.
    """
    entries = list(manifest)
    chosen = set(range(len(entries)))
    if models or paths:
        chosen = set()
        for name in models:
            found = {i for i, e in enumerate(entries) if e.model.casefold() == name.casefold()}
            if not found:
                raise UsageError(f"--model {name}: no entry of the manifest has that name")
            chosen |= found
        for given in paths:
            prefix = _relative(root, given)
            found = {
                i
                for i, e in enumerate(entries)
                if _under(e.model_path, prefix) or _under(e.metadata.model_with_data_path, prefix)
            }
            if not found:
                raise UsageError(f"{given}: no entry of the manifest has its files there")
            chosen |= found
    if changed_since is not None:
        chosen &= _changed(root, changed_since, entries)
    return [e for i, e in enumerate(entries) if i in chosen]


def _job(
    root: Path, entry: ModelEntry, tolerances: _Tolerances, compare_quantized: bool, threads: int
) -> Job | Verdict:
    """The job of one entry, or an error verdict when a path leaves the repository."""
    md = entry.metadata
    files: list[str] = []
    for rel in (entry.model_path, md.model_with_data_path):
        if rel is None:
            continue
        reason = unsafe_reason(rel)
        inside = resolve_inside(root, rel) if reason is None else None
        if inside is None:
            why = reason or "leaves the repository through a symlink"
            return Verdict(
                entry.model, entry.model_path, entry.opset_version, ERROR, f"{rel!r} {why}"
            )
        files.append(str(inside))
    archive = md.get("model_archive")
    return Job(
        model=entry.model,
        model_path=entry.model_path,
        opset=entry.opset_version,
        file=files[0],
        archive=archive if isinstance(archive, str) else None,
        bundle=files[1] if len(files) > 1 else None,
        io_ports=md.io_ports.to_json() if md.io_ports is not None else None,
        tolerance=tolerances.of(entry.model_path),
        compare_quantized=compare_quantized,
        threads=threads,
    )


def check_models(
    root: Path,
    *,
    manifest_path: Path | None = None,
    models: Sequence[str] = (),
    paths: Sequence[str] = (),
    changed_since: str | None = None,
    jobs: int = 1,
    timeout: float | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    compare_quantized: bool = False,
    on_start: Callable[[int], None] | None = None,
    on_done: Callable[[Verdict], None] | None = None,
) -> CheckResult:
    """Check the selected models of the hub at ``root`` (see :func:`select_entries`).

    ``jobs`` models are checked at once, each in its own worker process;
    ``timeout`` bounds each model. ``on_start(n)`` is called once with the
    number of models selected, ``on_done(verdict)`` after each. Raises
    UsageError for a bad selection, option or ``hubtools.toml``, ManifestError
    when the manifest cannot be read.
    """
    if jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {jobs}")
    if timeout is not None and timeout <= 0:
        raise UsageError(f"--timeout must be more than 0 seconds, got {timeout:g}")
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"{root}: not a folder; give the hub's root folder")
    manifest = Manifest.load(manifest_path or root / MANIFEST_NAME)
    tolerances = _read_tolerances(root, rtol, atol)
    chosen = select_entries(root, manifest, models=models, paths=paths, changed_since=changed_since)
    if on_start is not None:
        on_start(len(chosen))
    threads = 1 if jobs > 1 else 0
    planned = [_job(root, e, tolerances, compare_quantized, threads) for e in chosen]
    # Keyed by entry, not by path: two entries may name one file (validate calls
    # it duplicate-path), and each gets its verdict.
    verdicts: dict[tuple[str, str, int], Verdict] = {}
    for item in planned:
        if isinstance(item, Verdict):
            verdicts[_key(item)] = item
            if on_done is not None:
                on_done(item)
    work = [j for j in planned if isinstance(j, Job)]
    for verdict in run_checks(work, workers=jobs, timeout=timeout, on_done=on_done):
        verdicts[_key(verdict)] = verdict
    keys = [(e.model, e.model_path, e.opset_version) for e in chosen]
    ordered = tuple(verdicts[k] for k in keys if k in verdicts)
    return CheckResult(ordered, len(chosen), len(manifest))


def _key(verdict: Verdict) -> tuple[str, str, int]:
    return verdict.model, verdict.model_path, verdict.opset
