"""The hubtools error tree, and the Problem/Report types that collect bad input.

Every exception hubtools raises on purpose is defined here and exported from
``hubtools``; callers tell failures apart by type, never by message text.
Two kinds of failure:

* bad input that a run can report and go on from is a :class:`Problem` in a
  :class:`Report`, so one run lists them all;
* a failure that stops the work raises a :class:`HubtoolsError` subclass, which
  also inherits the standard exception a caller would naturally catch.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field


class HubtoolsError(Exception):
    """Base class of every error hubtools raises on purpose."""


class UsageError(HubtoolsError, ValueError):
    """An argument or option cannot be used as given."""


class ManifestError(HubtoolsError, ValueError):
    """A manifest cannot be read or parsed at all (I/O, encoding, JSON syntax),
    or a value in it has the wrong shape; ``pointer`` is then the value's JSON
    pointer, when known."""

    def __init__(self, message: str, *, pointer: str | None = None) -> None:
        super().__init__(message)
        self.pointer = pointer


class InvalidModelError(HubtoolsError, ValueError):
    """A file is not a valid ONNX model (its content is wrong, not its reading)."""


class FileReadError(HubtoolsError, OSError):
    """A local file cannot be opened or read (missing, a directory, no permission, I/O error)."""


class FileWriteError(HubtoolsError, OSError):
    """A file cannot be written (folder missing or read-only, disk full); nothing was left."""


class UnsafePathError(ManifestError):
    """A path from a manifest could leave the folder it is joined to (``..``, absolute, ...)."""


class LinkError(HubtoolsError, ValueError):
    """A README link cannot be turned into a file of the repository."""


class LinkIsURLError(LinkError):
    """The link is a URL (a paper, a demo), not a file of the repository."""


class LinkEscapesError(LinkError):
    """The link leaves the repository (``..`` past the root, or through a symlink)."""


class ModelNotFoundError(HubtoolsError, LookupError, AssertionError):
    """No manifest entry matches the name/opset asked for.

    Also an ``AssertionError`` because ``onnx.hub`` raised one here.
    """


class NoTestDataError(ModelNotFoundError, KeyError):
    """The entry has no ``model_with_data_path``, so there is no test data to fetch.

    Also a ``KeyError`` because ``onnx.hub`` raised one here (a missing metadata key).
    """

    def __str__(self) -> str:
        # KeyError's own __str__ shows the repr of its argument; a message reads better.
        return str(self.args[0]) if self.args else ""


class ArchiveLayoutError(ModelNotFoundError):
    """A model archive holds no ``.onnx`` file, or several, so there is no one model to load."""


class NotCachedError(HubtoolsError, FileNotFoundError):
    """Offline mode is on and the file asked for is not in the cache."""


class ChecksumMismatchError(HubtoolsError, AssertionError):
    """Downloaded or cached bytes do not have the sha256 the manifest gives.

    Also an ``AssertionError`` because ``onnx.hub`` raised one here.
    """


class DownloadError(HubtoolsError, OSError):
    """A file could not be fetched (HTTP error, wrong content type, timeout)."""


class WrongContentError(DownloadError):
    """A source answered, but not with the file: a 404, a Git LFS pointer, an HTML
    page, an over-quota notice, or a body whose size differs from the manifest's.

    Nothing it sent is worth keeping for a resume; another source may serve the file.
    """


class UntrustedRepositoryError(HubtoolsError, PermissionError):
    """The repository is not trusted and trust was not granted."""


class UnsafeArchiveError(HubtoolsError, ValueError):
    """An archive holds a member that would escape its folder or is not a plain file."""


class Severity(str, enum.Enum):
    """How bad a problem is: errors fail a run, warnings fail only with --strict."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Location:
    """Where a problem is: a file, optionally a 1-based line/column, and a JSON pointer."""

    file: str
    line: int | None = None
    column: int | None = None
    pointer: str | None = None

    def __str__(self) -> str:
        text = self.file
        if self.line is not None:
            text += f":{self.line}"
            if self.column is not None:
                text += f":{self.column}"
        return text


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input: a stable code, a message, where, and how to fix it."""

    code: str
    message: str
    location: Location
    severity: Severity = Severity.ERROR
    hint: str | None = None

    def __str__(self) -> str:
        """``file:line:col: severity CODE pointer: message (fix: hint)`` on one line."""
        pointer = self.location.pointer
        at = f" {pointer or '/'}:" if pointer is not None else ""
        text = f"{self.location}: {self.severity.value} {self.code}{at} {self.message}"
        if self.hint:
            text += f" (fix: {self.hint})"
        return text


@dataclass
class Report:
    """Problems found by one run, in the order they were found."""

    problems: list[Problem] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)
    #: Problems left out by :meth:`ignoring`, still counted for the summary.
    ignored: int = 0

    def add(self, problem: Problem) -> None:
        """Record one problem."""
        self.problems.append(problem)

    def extend(self, problems: Iterable[Problem]) -> None:
        """Record several problems."""
        self.problems.extend(problems)

    def count(self, what: str, n: int = 1) -> None:
        """Add ``n`` to the counter ``what`` (things checked, for the summary)."""
        self.checked[what] = self.checked.get(what, 0) + n

    def __iter__(self) -> Iterator[Problem]:
        return iter(self.problems)

    @property
    def errors(self) -> list[Problem]:
        """The problems of severity error."""
        return [p for p in self.problems if p.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Problem]:
        """The problems of severity warning."""
        return [p for p in self.problems if p.severity is Severity.WARNING]

    def ignoring(self, codes: Collection[str]) -> Report:
        """A report without the problems whose code matches one of ``codes``
        (exact, or a ``*`` glob such as ``schema-*``); they are counted in
        :attr:`ignored`."""
        if not codes:
            return self
        from fnmatch import fnmatchcase

        kept = [p for p in self.problems if not any(fnmatchcase(p.code, c) for c in codes)]
        dropped = len(self.problems) - len(kept)
        return Report(kept, dict(self.checked), self.ignored + dropped)

    def failed(self, *, strict: bool = False) -> bool:
        """True when the run found errors (or any problem at all, with ``strict``)."""
        return bool(self.problems) if strict else bool(self.errors)
