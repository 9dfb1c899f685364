"""Which layouts a run collects, and what they leave out: the collectors of
the layouts named (``--layout``, ``layouts`` in ``hubtools.toml``), or in
auto mode the README tables and turnkey folders when the repository follows
either, the files layout when it follows neither; the candidates without
the ``exclude`` globs; and every ``.onnx`` that no layout took nor reported,
as an ``unlisted-model`` warning. It runs collectors and lists paths; it
must not read file contents.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hubtools.core.paths import resolve_inside
from hubtools.errors import Location, Problem, Severity
from hubtools.generate.collectors.base import Candidate, Collector, CollectResult
from hubtools.generate.config import LAYOUTS, GenerateConfig
from hubtools.generate.modelfiles import MODEL_SUFFIX, glob_matches, is_left_out
from hubtools.generate.repo import RepoFiles, repo_file
from hubtools.generate.rules import unmatched_glob

__all__ = ["Collected", "collect", "layout_collectors", "unlisted_models"]

# In auto mode a hub without a top README is no README-table hub: not a warning.
_AUTO_QUIET = frozenset({"top-readme-missing"})


@dataclass(frozen=True)
class Collected:
    """What the collectors of a run found, in their order.

    ``left_out`` holds the model files collectors left out and reported;
    ``layouts`` names the layouts that ran.
    """

    candidates: list[Candidate]
    problems: list[Problem]
    sources: int
    notes: tuple[str, ...]
    left_out: frozenset[str]
    layouts: tuple[str, ...]


def layout_collectors(
    layouts: Sequence[str],
    config: GenerateConfig,
    *,
    include_unlinked: bool = False,
    include_skipped: bool = False,
) -> list[Collector]:
    """The collectors of ``layouts`` (names of :data:`~hubtools.generate.config.LAYOUTS`)."""
    from hubtools.generate.collectors.files import FilesCollector
    from hubtools.generate.collectors.readme_tables import LegacyZooCollector
    from hubtools.generate.collectors.turnkey import TurnkeyCollector

    made: dict[str, Collector] = {
        "readme-tables": LegacyZooCollector(include_unlinked=include_unlinked),
        "turnkey": TurnkeyCollector(include_skipped=include_skipped),
        "files": FilesCollector(exclude=[g.pattern for g in config.exclude], rules=config.rules),
    }
    return [made[name] for name in dict.fromkeys(layouts)]


def collect(
    repo: RepoFiles,
    config: GenerateConfig,
    *,
    layouts: Sequence[str] | None = None,
    collectors: Sequence[Collector] | None = None,
    include_unlinked: bool = False,
    include_skipped: bool = False,
) -> Collected:
    """Run the collectors: ``collectors`` when given, else those of ``layouts``
    (default: the config's, else auto). Candidates whose ``model_path``
    matches an ``exclude`` glob are dropped; a glob matching no file is a warning."""
    options = {"include_unlinked": include_unlinked, "include_skipped": include_skipped}
    chosen = layouts if layouts else config.layouts
    if collectors is not None:
        found = _run(repo, collectors)
    elif chosen:
        found = _run(repo, layout_collectors(chosen, config, **options))
    else:
        zoo = layout_collectors(LAYOUTS[:2], config, **options)
        found = _run(repo, zoo)
        if not found.matched:
            files = _run(repo, layout_collectors(LAYOUTS[2:], config, **options))
            quiet = [p for p in found.problems if p.code not in _AUTO_QUIET]
            found = _Run(found.results + files.results, quiet + files.problems, True, LAYOUTS)
    patterns = [g.pattern for g in config.exclude]
    candidates = [
        c
        for r in found.results
        for c in r.candidates
        if not any(glob_matches(c.model_path, p) for p in patterns)
    ]
    problems = list(found.problems)
    problems.extend(
        unmatched_glob(glob, "file")
        for glob in config.exclude
        if not any(glob_matches(path, glob.pattern) for path in repo.files)
    )
    return Collected(
        candidates,
        problems,
        sum(len(r.sources) for r in found.results),
        tuple(n for r in found.results for n in r.notes),
        frozenset(p for r in found.results for p in r.left_out),
        found.names,
    )


@dataclass(frozen=True)
class _Run:
    results: list[CollectResult]
    problems: list[Problem]
    matched: bool
    names: tuple[str, ...]


def _run(repo: RepoFiles, collectors: Sequence[Collector]) -> _Run:
    results = [c.collect(repo) for c in collectors]
    return _Run(
        results,
        [p for r in results for p in r.problems],
        any(r.matched for r in results),
        tuple(c.name for c in collectors),
    )


def unlisted_models(repo: RepoFiles, collected: Collected, exclude: Sequence[str]) -> list[Problem]:
    """An ``unlisted-model`` warning for every ``.onnx`` that no candidate names
    (as its model or bundle) and no collector left out with a word: outside
    hidden and ``test_data_set_*`` folders and ``exclude``, and a regular file
    inside the repository (a link out is no model of the hub)."""
    named = set(collected.left_out)
    for candidate in collected.candidates:
        named.add(candidate.model_path)
        if candidate.model_with_data_path is not None:
            named.add(candidate.model_with_data_path)
    hint = (
        "link it from a README model table, list it in `exclude` of [generate] in "
        'hubtools.toml, or add "files" to its `layouts` there'
    )
    if "files" in collected.layouts:
        hint = "list it in `exclude` of [generate] in hubtools.toml if it is no model of the hub"
    remaining = [
        path
        for path in sorted(repo.files)
        if path.endswith(MODEL_SUFFIX) and path not in named and not is_left_out(path, exclude)
    ]
    if remaining:
        # A file an entry reaches through a symlink inside the repository is listed.
        reached = {resolve_inside(repo.root, path) for path in named}
        remaining = [p for p in remaining if resolve_inside(repo.root, p) not in reached]
    problems = []
    for path in remaining:
        if isinstance(repo_file(repo.root, path), Problem):
            continue
        problems.append(
            Problem(
                "unlisted-model",
                "no entry lists this model: no layout of the run takes it "
                f"({', '.join(collected.layouts)})",
                Location(path),
                Severity.WARNING,
                hint,
            )
        )
    return problems
