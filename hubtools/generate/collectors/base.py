"""What a collector is, the plug-in point of the generator: a collector knows
one layout of model zoo (README tables, per-model sidecar files, ...) and turns
a repository's files into :class:`Candidate` entries, everything an entry needs
but the file facts (sha256, size, io_ports), which the generator adds for all
collectors alike. This module holds only these shared types and the one way a
collector reads a source file (:func:`read_source`); it must not know any
particular layout.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from hubtools.core.files import read_bounded
from hubtools.core.manifest import JSONValue
from hubtools.errors import Location, Problem, Severity
from hubtools.generate.repo import RepoFiles, repo_file

__all__ = [
    "MAX_OPSET",
    "Candidate",
    "CollectResult",
    "Collector",
    "error",
    "read_source",
    "warning",
]

#: The largest opset a collector accepts. ONNX adds one or two a year (the
#: real zoo goes up to 18): a larger number is a typo or an attack, not a model.
MAX_OPSET = 1000


def warning(code: str, message: str, file: str, line: int | None, hint: str | None) -> Problem:
    """A warning located at ``file:line``."""
    return Problem(code, message, Location(file, line), Severity.WARNING, hint)


def error(code: str, message: str, file: str, line: int | None, hint: str | None) -> Problem:
    """An error located at ``file:line``: the run fails and nothing is written."""
    return Problem(code, message, Location(file, line), Severity.ERROR, hint)


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

    ``location`` is where it was declared (README and line, sidecar file, or
    the model file itself), for messages; ``rename`` says how to give the
    model another name there. ``metadata`` holds extra metadata fields, in
    order, that the collector knows (they follow the standard ones in the
    entry). ``archive`` is the archive format (``"tar.gz"``, ``"zip"``) when
    ``model_path`` is an archive holding the model and its external data
    rather than an ``.onnx``.

    ``origins`` locates the fields a ``[[models]]`` rule of hubtools.toml
    set (``"model"``, ``"tags"``, ``"metadata/<key>"``). A ``weak``
    candidate yields, without a word, to another collector's candidate for
    the same file. ``finish``, for a candidate whose opset comes from its
    file, is called once the file's facts are known, with the default-domain
    opset the content imports (None when it imports none or was not read)
    and whether the content was read; it returns the finished candidate, or
    the problem that leaves the file out.
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
    rename: str = "rename one of them where they are declared"
    origins: tuple[tuple[str, Location], ...] = ()
    weak: bool = False
    finish: Callable[[int | None, bool], Candidate | Problem] | None = field(
        default=None, compare=False, repr=False
    )

    def origin(self, key: str) -> Location:
        """Where the field ``key`` was set (a hubtools.toml rule, else ``location``)."""
        return dict(self.origins).get(key, self.location)


@dataclass(frozen=True)
class CollectResult:
    """What one collector found: candidates, problems, the files it read, and
    notes for the run's summary (what it left out on purpose, say).

    ``left_out`` lists the model files the collector left out and said so
    (in a note or a problem): they are not reported again as unlisted.
    ``matched`` says whether the repository follows the collector's layout at
    all (a model table, a sidecar file), even when nothing in it could be used.
    """

    candidates: tuple[Candidate, ...] = ()
    problems: tuple[Problem, ...] = ()
    sources: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    left_out: tuple[str, ...] = ()
    matched: bool = False


class Collector(Protocol):
    """Finds candidate entries in a repository (one layout of model zoo).

    ``collect`` must not raise on bad input: it reports Problems instead.
    """

    name: str

    def collect(self, repo: RepoFiles) -> CollectResult:
        """Candidates found in ``repo`` (paths relative to ``repo.root``)."""
        ...
