"""The validator: :func:`validate_manifest` reads a manifest strictly
(:mod:`hubtools.core.jsonfile`), runs the JSON Schema
(:mod:`hubtools.validate.schema`), builds the typed entries, runs the semantic
checks the schema cannot express (duplicates, sort order, archives, tags) and,
with a repository, the file checks of :mod:`hubtools.validate.repo_checks`;
then it gives every problem its line and column. Bad content is always a
:class:`~hubtools.errors.Problem`: this module must not raise for it, nor
write anything.
"""

from __future__ import annotations

import contextlib
import gc
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import TypedDict, cast

from hubtools.core.archives import archive_format
from hubtools.core.jsonfile import JSONDocument, JSONObject, JSONValue, printable, read_json_file
from hubtools.core.manifest import Manifest, ModelEntry
from hubtools.core.paths import MAX_PART_BYTES, MAX_PATH_BYTES, quote_path, unsafe_reason
from hubtools.errors import Problem, Report, Severity
from hubtools.inspect.releases import highest_opset_of_release, onnx_release_for_opset
from hubtools.validate.problems import problem_at
from hubtools.validate.repo_checks import repo_problems
from hubtools.validate.schema import schema_problems

__all__ = [
    "ValidationResult",
    "check_document",
    "entry_index",
    "semantic_problems",
    "validate_manifest",
]


class _Metadata(TypedDict, total=False):
    """The metadata fields the semantic checks read, as the schema has checked them."""

    model_sha: str | None
    model_bytes: int | None
    tags: list[str]
    model_with_data_path: str
    model_archive: JSONValue


class _Entry(TypedDict):
    """A top-level entry the schema has passed, read as the plain JSON it is:
    typing 100,000 entries into :class:`ModelEntry` took longer than parsing them."""

    model: str
    model_path: str
    onnx_version: str
    opset_version: int
    metadata: _Metadata


@dataclass(frozen=True)
class ValidationResult:
    """What :func:`validate_manifest` found.

    ``report`` holds every problem, ordered by position; ``valid`` the entries
    that passed the schema, as parsed JSON with their index (None when the top
    level is not an array).
    """

    source: str
    report: Report
    entries: int
    valid: tuple[tuple[int, JSONObject], ...] | None = None

    @cached_property
    def manifest(self) -> Manifest | None:
        """The entries that passed the schema, typed (built on first use); None when
        the top level is not an array.

        Raises:
            ManifestError: an entry passed the schema but cannot be typed (the
                schema and the typed reader disagree: a bug, which a test guards).
        """
        if self.valid is None:
            return None
        return Manifest(tuple(ModelEntry.from_json(item, f"/{i}") for i, item in self.valid))


_PATH_HINT = (
    "use a path relative to the repository root that clients can store: no first folder "
    f"starting with '.', no part over {MAX_PART_BYTES} bytes, at most {MAX_PATH_BYTES} bytes"
)


def _path_problems(index: int, entry: _Entry, source: str) -> Iterator[Problem]:
    """The paths the client would refuse (the one policy of hubtools.core.paths)."""
    for key, pointer, path in (
        ("model_path", f"/{index}/model_path", entry["model_path"]),
        (
            "model_with_data_path",
            f"/{index}/metadata/model_with_data_path",
            entry["metadata"].get("model_with_data_path"),
        ),
    ):
        reason = None if path is None else unsafe_reason(path)
        if reason is not None and path is not None:
            yield problem_at(
                source,
                pointer,
                "unsafe-path",
                f"{key} {quote_path(path)} {reason}, so clients refuse the entry",
                _PATH_HINT,
            )


def _pointer_name(index: int) -> str:
    return f"/{index}"


def semantic_problems(
    entries: Iterable[tuple[int, JSONObject]],
    source: str,
    entry_name: Callable[[int], str] = _pointer_name,
) -> Iterator[Problem]:
    """Problems the schema cannot see: duplicates, paths the client refuses,
    sort order, archives, empty tags, an ONNX release too old for the opset.

    ``entries`` pairs each entry with its index in the file (for JSON pointers);
    each must have passed the schema. ``entry_name`` names another entry in a
    message (default: its JSON pointer).
    """
    by_name: dict[tuple[str, int], int] = {}
    by_path: dict[str, int] = {}
    previous: tuple[int, str] | None = None
    unsorted_reported = False
    for index, item in entries:
        entry = cast("_Entry", item)
        model, model_path, metadata = entry["model"], entry["model_path"], entry["metadata"]
        key = (model.casefold(), entry["opset_version"])
        if key in by_name:
            yield problem_at(
                source,
                f"/{index}/model",
                "duplicate-model",
                f"model {model!r} with opset {entry['opset_version']} is already listed "
                f"at {entry_name(by_name[key])} (names match case-insensitively)",
                "rename one of them or remove the duplicate entry",
            )
        else:
            by_name[key] = index
        yield from _path_problems(index, entry, source)
        if model_path in by_path:
            yield problem_at(
                source,
                f"/{index}/model_path",
                "duplicate-path",
                f"model_path {model_path!r} is already listed at {entry_name(by_path[model_path])}",
                "each file must appear in one entry; remove the duplicate",
            )
        else:
            by_path[model_path] = index
        if previous is not None and model_path < previous[1] and not unsorted_reported:
            unsorted_reported = True
            yield problem_at(
                source,
                f"/{index}/model_path",
                "unsorted",
                f"entries are not sorted by model_path: {model_path!r} comes after "
                f"{previous[1]!r} ({entry_name(previous[0])})",
                "run `hubtools generate`, or sort the entries by model_path",
                Severity.WARNING,
            )
        previous = (index, model_path)
        archive = metadata.get("model_archive")
        fmt = archive_format(model_path, model_archive=True)
        if fmt is not None and archive is None:
            yield problem_at(
                source,
                f"/{index}/model_path",
                "archive-without-format",
                f"model_path {model_path!r} is an archive, but metadata.model_archive is "
                "not set, so clients will try to load the archive as an ONNX model",
                f'add "model_archive": "{fmt.name}" to the metadata',
            )
        elif isinstance(archive, str) and (fmt is None or fmt.name != archive):
            yield problem_at(
                source,
                f"/{index}/metadata/model_archive",
                "archive-format-mismatch",
                f"model_archive says {archive!r}, but model_path {model_path!r} is "
                + (f"a {fmt.name} archive" if fmt is not None else "not an archive"),
                "make model_archive name the archive's real format",
                Severity.WARNING,
            )
        mismatch = _release_problem(index, entry, source)
        if mismatch is not None:
            yield mismatch
        if not metadata.get("tags"):
            yield problem_at(
                source,
                f"/{index}/metadata/tags",
                "empty-tags",
                f"model {model!r} has no tags, so no tag filter will find it",
                'add the tags of its README folder, e.g. ["vision", "classification"]',
                Severity.WARNING,
            )
        yield from _digest_problems(index, entry, source)


def _digest_problems(index: int, entry: _Entry, source: str) -> Iterator[Problem]:
    """Warnings for a missing ``model_sha`` or ``model_bytes``: optional in the
    format (``onnx.hub`` read entries without them), but a client cannot verify
    a download without them."""
    for key, code, what in (
        ("model_sha", "missing-sha", "its sha256, so clients cannot verify a download"),
        ("model_bytes", "missing-size", "its size in bytes, so clients cannot check a download"),
    ):
        if entry["metadata"].get(key) is None:
            yield problem_at(
                source,
                f"/{index}/metadata",
                code,
                f"model {entry['model']!r} has no metadata.{key}: "
                f"the manifest does not give {what}",
                f"run `hubtools generate`, or add {key} (`sha256sum FILE`, `stat -c %s FILE`)",
                Severity.WARNING,
            )


def _release_problem(index: int, entry: _Entry, source: str) -> Problem | None:
    """A warning when the ONNX release ``onnx_version`` names cannot write ``opset_version``."""
    release, opset = entry["onnx_version"], entry["opset_version"]
    highest = highest_opset_of_release(release)
    if highest is None or opset <= highest:
        return None
    needed = onnx_release_for_opset(opset)
    return problem_at(
        source,
        f"/{index}/onnx_version",
        "onnx-version-mismatch",
        f"ONNX {release} writes opsets up to {highest}, not opset {opset}",
        f"write the ONNX release the model was exported with (opset {opset} "
        + (f"needs {needed} or later" if needed else "is newer than the installed onnx knows")
        + "), or fix opset_version",
        Severity.WARNING,
    )


#: Oddities that make any other problem at their pointer a repetition.
_SHADOWING = ("number-too-long", "lone-surrogate")


def _oddity_problems(doc: JSONDocument) -> Iterator[Problem]:
    for odd in doc.oddities:
        if odd.kind == "duplicate-key":
            yield problem_at(
                doc.source,
                odd.pointer,
                "duplicate-key",
                f"key {odd.detail!r} appears more than once in this object; "
                "JSON readers silently keep only the last value",
                "remove the duplicate key",
            )
        elif odd.kind == "lone-surrogate":
            yield problem_at(
                doc.source,
                odd.pointer,
                "lone-surrogate",
                f"{odd.detail} is half of a UTF-16 surrogate pair, not a character: no UTF-8 "
                "text, file name or terminal can hold it",
                "write the character itself, or both halves of its pair",
            )
        elif odd.kind == "non-finite":
            yield problem_at(
                doc.source,
                odd.pointer,
                "non-finite",
                f"{odd.detail} is not valid JSON (many readers reject it)",
                "use a number or null",
            )
        elif odd.kind == "float-overflow":
            yield problem_at(
                doc.source,
                odd.pointer,
                "non-finite",
                f"{odd.detail} is too large for a 64-bit float: readers get infinity, and "
                "writing the manifest back would give Infinity, which is not JSON",
                "use a number within ±1.8e308, or null",
            )
        else:
            yield problem_at(
                doc.source,
                odd.pointer,
                "number-too-long",
                f"an integer of {odd.detail} digits; Python, and so hubtools and onnx.hub, "
                f"read at most {sys.get_int_max_str_digits()}",
                "write the real value: no size, count or version has that many digits",
            )


def _positioned(doc: JSONDocument, problems: Iterable[Problem]) -> list[Problem]:
    """The problems with their line and column, ordered by them, and printable
    (a lone surrogate in a key or value is shown escaped)."""
    placed = []
    for p in problems:
        location = p.location
        if location.pointer is not None and location.line is None:
            line, col = doc.locate(location.pointer)
            location = replace(location, line=line, column=col, pointer=printable(location.pointer))
        hint = None if p.hint is None else printable(p.hint)
        placed.append(replace(p, location=location, message=printable(p.message), hint=hint))
    placed.sort(key=lambda p: (p.location.line or 0, p.location.column or 0, p.code))
    return placed


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: a parsed manifest is millions of
    acyclic objects, and every collection walks them all, which made 100k
    entries take 2x the time of 10 x 10k. Reference counting still frees
    everything that jsonschema creates and drops."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def check_document(
    doc: JSONDocument,
    *,
    repo: Path | None = None,
    jobs: int | None = None,
    entry_name: Callable[[int], str] = _pointer_name,
) -> ValidationResult:
    """Run the schema, the semantic checks and (with ``repo``) the file checks on a
    parsed document. Never raises for bad content: everything is a Problem.
    ``entry_name`` names another entry in a message (see :func:`semantic_problems`).

    Raises:
        UsageError: ``repo`` is not a directory.
    """
    with _gc_paused():
        return _check_document(doc, repo, jobs, entry_name)


def _check_document(
    doc: JSONDocument, repo: Path | None, jobs: int | None, entry_name: Callable[[int], str]
) -> ValidationResult:
    report = Report()
    problems: list[Problem] = list(_oddity_problems(doc))
    schema_found = list(schema_problems(doc.data, doc.source, screen=not doc.has_floats))
    problems.extend(schema_found)
    valid: tuple[tuple[int, JSONObject], ...] | None = None
    count = 0
    if isinstance(doc.data, list):
        count = len(doc.data)
        report.count("entries", count)
        failed = {entry_index(p.location.pointer) for p in schema_found}
        valid = tuple(
            (i, cast("JSONObject", item)) for i, item in enumerate(doc.data) if i not in failed
        )
        problems.extend(semantic_problems(valid, doc.source, entry_name))
    result = ValidationResult(doc.source, report, count, valid)
    if repo is not None and result.manifest is not None:
        typed = zip((i for i, _ in result.valid or ()), result.manifest, strict=True)
        problems.extend(repo_problems(typed, repo, doc.source, report, jobs=jobs))
    # A number too long to read is kept as infinity, which the schema calls no
    # integer, and a path with a lone surrogate is one no file system holds: the
    # oddity already says what is wrong at that pointer.
    shadowed = {o.pointer for o in doc.oddities if o.kind in _SHADOWING}
    if shadowed:
        problems = [
            p for p in problems if p.code in _SHADOWING or p.location.pointer not in shadowed
        ]
    report.extend(_positioned(doc, problems))
    return result


def entry_index(pointer: str | None) -> int | None:
    """The index of the top-level entry a JSON pointer leads into (None for the root)."""
    if not pointer:
        return None
    head = pointer.split("/")[1]
    return int(head) if head.isdigit() else None


def validate_manifest(
    path: Path, *, repo: Path | None = None, source: str | None = None, jobs: int | None = None
) -> ValidationResult:
    """Validate a manifest file, optionally against the repository it describes.

    Raises:
        ManifestError: the file is missing, unreadable, not UTF-8 or not JSON.
        UsageError: ``repo`` is not a directory.
    """
    doc = read_json_file(Path(path), source)
    return check_document(doc, repo=repo, jobs=jobs)
