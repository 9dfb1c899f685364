"""What a collector is, the plug-in point of the generator: a collector knows
one layout of model zoo (README tables, per-model sidecar files, ...) and turns
a repository's files into :class:`Candidate` entries, everything an entry needs
but the file facts (sha256, size, io_ports), which the generator adds for all
collectors alike. This module holds only these shared types; it must not know
any particular layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from hubtools.core.manifest import JSONValue
from hubtools.errors import Location, Problem, Severity
from hubtools.generate.repo import RepoFiles

__all__ = ["Candidate", "CollectResult", "Collector", "warning"]


def warning(code: str, message: str, file: str, line: int | None, hint: str | None) -> Problem:
    """A warning located at ``file:line``."""
    return Problem(code, message, Location(file, line), Severity.WARNING, hint)


@dataclass(frozen=True)
class Candidate:
    """A model a collector found: everything but the file facts.

    ``location`` is where it was declared (README and line, or sidecar file),
    for messages. ``metadata`` holds extra metadata fields, in order, that the
    collector knows (they follow the standard ones in the entry). ``archive``
    is the archive format (``"tar.gz"``, ``"zip"``) when ``model_path`` is an
    archive holding the model and its external data rather than an ``.onnx``.
    """

    model: str
    model_path: str
    onnx_version: str
    opset_version: int
    tags: tuple[str, ...]
    model_with_data_path: str | None
    location: Location
    metadata: tuple[tuple[str, JSONValue], ...] = ()
    archive: str | None = None


@dataclass(frozen=True)
class CollectResult:
    """What one collector found: candidates, problems, the files it read, and
    notes for the run's summary (what it left out on purpose, say)."""

    candidates: tuple[Candidate, ...] = ()
    problems: tuple[Problem, ...] = ()
    sources: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


class Collector(Protocol):
    """Finds candidate entries in a repository (one layout of model zoo).

    ``collect`` must not raise on bad input: it reports Problems instead.
    """

    name: str

    def collect(self, repo: RepoFiles) -> CollectResult:
        """Candidates found in ``repo`` (paths relative to ``repo.root``)."""
        ...
