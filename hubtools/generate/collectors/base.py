"""What a collector is, the plug-in point of the generator: a collector knows
one layout of model zoo (README tables, per-model sidecar files, ...) and turns
a repository's files into :class:`Candidate` entries, everything an entry needs
but the file facts (sha256, size, io_ports), which the generator adds for all
collectors alike. This module holds only these shared types and the one way a
collector reads a source file (:func:`read_source`); it must not know any
particular layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from hubtools.core.files import read_bounded
from hubtools.core.manifest import JSONValue
from hubtools.errors import Location, Problem, Severity
from hubtools.generate.repo import RepoFiles, repo_file

__all__ = ["MAX_OPSET", "Candidate", "CollectResult", "Collector", "read_source", "warning"]

#: The largest opset a collector accepts. ONNX adds one or two a year (the
#: real zoo goes up to 18): a larger number is a typo or an attack, not a model.
MAX_OPSET = 1000


def warning(code: str, message: str, file: str, line: int | None, hint: str | None) -> Problem:
    """A warning located at ``file:line``."""
    return Problem(code, message, Location(file, line), Severity.WARNING, hint)


def read_source(
    repo: RepoFiles, path: str, *, limit: int, code: str, kind: str, outcome: str, hint: str
) -> str | Problem:
    """The text of a source file (a README, a sidecar) or the warning at ``path``
    that it was not read.

    Nothing is opened that :func:`~hubtools.generate.repo.repo_file` refuses
    (a link out of the repository, a FIFO, a device), and nothing is read from
    a file over ``limit`` bytes (``<code>-too-large``, with ``hint``); a file
    that cannot be read is ``<code>-unreadable``, one that is not UTF-8
    ``<code>-not-utf8`` at the line of the first bad byte. ``kind`` names the
    file in messages (``"a README"``), ``outcome`` says what the caller skipped.
    """
    full = repo_file(repo.root, path, outcome)
    if isinstance(full, Problem):
        return full
    try:
        data = read_bounded(full, limit)
    except OSError as err:
        reason = str(err).removeprefix(f"{full}: ")
        return warning(
            f"{code}-unreadable", f"{reason}; {outcome}", path, None, "check the file's permissions"
        )
    if data is None:
        return warning(
            f"{code}-too-large",
            f"is larger than {limit // 1024} KiB, the most hubtools reads of {kind}; "
            f"it was not read and {outcome}",
            path,
            None,
            hint,
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        return warning(
            f"{code}-not-utf8",
            f"byte 0x{data[err.start]:02x} is not UTF-8; {outcome}",
            path,
            data.count(b"\n", 0, err.start) + 1,
            "save the file as UTF-8",
        )


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
