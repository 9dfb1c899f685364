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
import tarfile
import urllib.error
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

_E = TypeVar("_E", bound="HubtoolsError")


class HubtoolsError(Exception):
    """Base class of every error hubtools raises on purpose."""

    def with_message(self: _E, message: str) -> _E:
        """An error of the same class (and, for HTTP errors, the same status and
        URL) that says ``message``. Raises nothing."""
        return type(self)(message)


class UsageError(HubtoolsError, ValueError):
    """An argument or option cannot be used as given."""


class ManifestError(HubtoolsError, ValueError):
    """A manifest cannot be read or parsed at all (I/O, encoding, JSON syntax),
    or a value in it has the wrong shape; ``pointer`` is then the value's JSON
    pointer, and ``line``/``column`` where the text goes wrong, when known
    (``detail`` is the message without its ``file:line:col:`` prefix)."""

    def __init__(
        self,
        message: str,
        *,
        pointer: str | None = None,
        line: int | None = None,
        column: int | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.pointer = pointer
        self.line = line
        self.column = column
        self.detail = detail if detail is not None else message


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


class DownloadError(HubtoolsError, urllib.error.URLError):
    """A file could not be fetched (HTTP error, wrong content type, timeout).

    Also a ``urllib.error.URLError`` (an ``OSError``), which ``onnx.hub``'s
    ``urlopen`` raised when a file could not be fetched; ``reason`` is the message.
    """

    def __init__(self, message: str) -> None:
        urllib.error.URLError.__init__(self, message)

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class UnreachableError(DownloadError):
    """No answer at all: the host name has no address, or every connection
    failed or timed out through the retries (no network, a firewall, a server down)."""


class HTTPStatusError(DownloadError, urllib.error.HTTPError):
    """A server answered with an HTTP error status (after the retries, for 429 and 5xx).

    Also a ``urllib.error.HTTPError``, as ``onnx.hub`` raised for a model file:
    ``code`` is the status, ``url`` (and ``filename``) the URL, ``msg`` and
    ``reason`` the status phrase, ``headers`` the answer's headers; ``str()``
    is hubtools' whole message. It pickles and copies with all of these.
    """

    def __init__(
        self,
        message: str,
        url: str = "",
        code: int = 0,
        reason: str = "",
        headers: Sequence[tuple[str, str]] = (),
    ) -> None:
        import email.message
        import http.client

        hdrs = email.message.Message()
        for name, value in headers:
            hdrs[name] = value
        phrase = reason or http.client.responses.get(code, "")
        urllib.error.HTTPError.__init__(self, url, code, phrase, hdrs, None)
        self.args = (message,)

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r}, code={self.code})"

    def __reduce__(self) -> tuple[object, ...]:
        headers = tuple(self.hdrs.items()) if self.hdrs is not None else ()
        return (type(self), (str(self), self.url, self.code, self.msg, headers))

    def with_message(self, message: str) -> HTTPStatusError:
        """The same status and URL, saying ``message``. Raises nothing."""
        headers = tuple(self.hdrs.items()) if self.hdrs is not None else ()
        return type(self)(message, self.url, self.code, self.msg, headers)


class WrongContentError(DownloadError):
    """A source answered, but not with the file: a 404, a Git LFS pointer, an HTML
    page, an over-quota notice, or a body whose size differs from the manifest's.

    Nothing it sent is worth keeping for a resume; another source may serve the file.
    """


class NotServedError(WrongContentError, HTTPStatusError):
    """A source answered with an HTTP error status and no file: a 404, or an error
    page or notice (an over-quota 403). An ``urllib.error.HTTPError`` with its code."""


class WrongFileError(WrongContentError, ChecksumMismatchError):
    """A source answered with success but sent something else than the file: a Git
    LFS pointer, an HTML page, an over-quota notice, or another size than the
    manifest's.

    Also a :class:`ChecksumMismatchError` (an ``AssertionError``): ``onnx.hub``
    hashed such a body and raised an ``AssertionError`` for its sha256.
    """


class WrongSizeError(WrongFileError):
    """A source offered or sent another number of bytes than the manifest's
    ``model_bytes``; the sha256 may still show that the manifest's size is the
    one that is wrong."""


class ManifestUnavailableError(DownloadError, AssertionError):
    """A repository's manifest could not be fetched (an HTTP error, no answer, not
    a manifest), and no copy kept from an earlier fetch could stand in.

    Also an ``AssertionError`` ("Could not find manifest"), as ``onnx.hub``
    raised, and a ``urllib.error.URLError``, as its ``urlopen`` raised when
    the host could not be reached.
    """


class UntrustedRepositoryError(HubtoolsError, PermissionError, EOFError):
    """The repository is not trusted and trust was not granted.

    Also an ``EOFError``: ``onnx.hub`` asked on standard input, and where
    there is nobody to answer (a job, a pipe at its end) its ``input()`` raised one.
    """


class UnsafeArchiveError(HubtoolsError, ValueError):
    """An archive holds a member that would escape its folder or is not a plain file."""


class ExtractionRefusedError(UnsafeArchiveError, tarfile.TarError):
    """The client refused to extract a downloaded archive (test data, or a model
    with its external data): unsafe members, or not readable as an archive.

    Also a ``tarfile.TarError``: ``onnx.hub`` extracted test data with tarfile,
    whose filter and reader raised one.
    """


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
