"""Semantic checks on a manifest, beyond what its JSON Schema can say, and the
``--repo`` cross-check of every entry against the repository's files.

:func:`validate_manifest` is the whole validator: read the file strictly
(:mod:`hubtools.core.jsonfile`), run the schema (:mod:`hubtools.validate.schema`), build the
typed entries, run the checks here, and give every problem its line and column.
"""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from hubtools.core.archives import archive_format
from hubtools.core.jsonfile import JSONDocument, parse_json, read_json_file
from hubtools.core.manifest import Manifest, ModelEntry
from hubtools.core.paths import resolve_inside
from hubtools.errors import HubtoolsError, InvalidModelError, Location, Problem, Report, Severity
from hubtools.validate.schema import schema_problems

if TYPE_CHECKING:  # onnx_info imports onnx (~0.3 s): only --repo on content needs it
    from hubtools.inspect.facts import FileFacts


_REGENERATE = "run `hubtools generate` to recompute it"


@dataclass(frozen=True)
class ValidationResult:
    """What :func:`validate_manifest` found.

    ``manifest`` holds the entries that passed the schema (None when the top
    level is not an array); ``report`` every problem, ordered by position.
    """

    source: str
    manifest: Manifest | None
    report: Report
    entries: int


def _problem(
    source: str,
    pointer: str,
    code: str,
    message: str,
    hint: str | None = None,
    severity: Severity = Severity.ERROR,
) -> Problem:
    return Problem(code, message, Location(source, pointer=pointer), severity, hint)


def _typed_entries(
    doc: JSONDocument, schema_failures: set[int], report: Report
) -> list[tuple[int, ModelEntry]]:
    assert isinstance(doc.data, list)
    entries = []
    for index, item in enumerate(doc.data):
        if index in schema_failures:
            continue
        entries.append((index, ModelEntry.from_json(item, f"/{index}")))
    report.count("entries", len(doc.data))
    return entries


def semantic_problems(entries: Iterable[tuple[int, ModelEntry]], source: str) -> Iterator[Problem]:
    """Problems the schema cannot see: duplicates, sort order, empty tags.

    ``entries`` pairs each entry with its index in the file (for JSON pointers).
    """
    by_name: dict[tuple[str, int], int] = {}
    by_path: dict[str, int] = {}
    previous: tuple[int, str] | None = None
    unsorted_reported = False
    for index, entry in entries:
        key = (entry.model.casefold(), entry.opset_version)
        if key in by_name:
            yield _problem(
                source,
                f"/{index}/model",
                "duplicate-model",
                f"model {entry.model!r} with opset {entry.opset_version} is already listed "
                f"at /{by_name[key]} (names match case-insensitively)",
                "rename one of them or remove the duplicate entry",
            )
        else:
            by_name[key] = index
        if entry.model_path in by_path:
            yield _problem(
                source,
                f"/{index}/model_path",
                "duplicate-path",
                f"model_path {entry.model_path!r} is already listed "
                f"at /{by_path[entry.model_path]}",
                "each file must appear in one entry; remove the duplicate",
            )
        else:
            by_path[entry.model_path] = index
        if previous is not None and entry.model_path < previous[1] and not unsorted_reported:
            unsorted_reported = True
            yield _problem(
                source,
                f"/{index}/model_path",
                "unsorted",
                f"entries are not sorted by model_path: {entry.model_path!r} comes after "
                f"{previous[1]!r} (/{previous[0]})",
                "run `hubtools generate`, or sort the entries by model_path",
                Severity.WARNING,
            )
        previous = (index, entry.model_path)
        archive = entry.metadata.get("model_archive")
        fmt = archive_format(entry.model_path, model_archive=True)
        if fmt is not None and archive is None:
            yield _problem(
                source,
                f"/{index}/model_path",
                "archive-without-format",
                f"model_path {entry.model_path!r} is an archive, but metadata.model_archive is "
                "not set, so clients will try to load the archive as an ONNX model",
                f'add "model_archive": "{fmt.name}" to the metadata',
            )
        elif isinstance(archive, str) and not entry.model_path.endswith(f".{archive}"):
            yield _problem(
                source,
                f"/{index}/metadata/model_archive",
                "archive-format-mismatch",
                f"model_archive says {archive!r}, but model_path {entry.model_path!r} does not "
                f"end in .{archive}",
                "make model_archive name the archive's real format",
                Severity.WARNING,
            )
        if not entry.metadata.tags:
            yield _problem(
                source,
                f"/{index}/metadata/tags",
                "empty-tags",
                f"model {entry.model!r} has no tags, so no tag filter will find it",
                'add the tags of its README folder, e.g. ["vision", "classification"]',
                Severity.WARNING,
            )


def _oddity_problems(doc: JSONDocument) -> Iterator[Problem]:
    for odd in doc.oddities:
        if odd.kind == "duplicate-key":
            yield _problem(
                doc.source,
                odd.pointer,
                "duplicate-key",
                f"key {odd.detail!r} appears more than once in this object; "
                "JSON readers silently keep only the last value",
                "remove the duplicate key",
            )
        else:
            yield _problem(
                doc.source,
                odd.pointer,
                "non-finite",
                f"{odd.detail} is not valid JSON (many readers reject it)",
                "use a number or null",
            )


def _positioned(doc: JSONDocument, problems: Iterable[Problem]) -> list[Problem]:
    placed = []
    for p in problems:
        if p.location.pointer is not None and p.location.line is None:
            line, col = doc.locate(p.location.pointer)
            p = replace(p, location=replace(p.location, line=line, column=col))
        placed.append(p)
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
    doc: JSONDocument, *, repo: Path | None = None, jobs: int | None = None
) -> ValidationResult:
    """Run the schema, the semantic checks and (with ``repo``) the file checks on a
    parsed document. Never raises for bad content: everything is a Problem.

    Raises:
        HubtoolsError: ``repo`` is not a readable directory.
    """
    with _gc_paused():
        return _check_document(doc, repo, jobs)


def _check_document(doc: JSONDocument, repo: Path | None, jobs: int | None) -> ValidationResult:
    report = Report()
    problems: list[Problem] = list(_oddity_problems(doc))
    schema_found = list(schema_problems(doc.data, doc.source))
    problems.extend(schema_found)
    manifest: Manifest | None = None
    count = 0
    if isinstance(doc.data, list):
        count = len(doc.data)
        failed = {entry_index(p.location.pointer) for p in schema_found}
        entries = _typed_entries(doc, {i for i in failed if i is not None}, report)
        problems.extend(semantic_problems(entries, doc.source))
        if repo is not None:
            problems.extend(repo_problems(entries, repo, doc.source, report, jobs=jobs))
        manifest = Manifest(tuple(e for _, e in entries))
    report.extend(_positioned(doc, problems))
    return ValidationResult(doc.source, manifest, report, count)


def entry_index(pointer: str | None) -> int | None:
    """The index of the top-level entry a JSON pointer leads into (None for the root)."""
    if not pointer:
        return None
    head = pointer.split("/")[1]
    return int(head) if head.isdigit() else None


def check_manifest_text(text: str, source: str) -> tuple[Manifest | None, Report]:
    """Validate manifest text without touching any file.

    Returns the manifest of the entries that passed the schema (None when the
    text is not a JSON array) and the report of every problem.

    Raises:
        ManifestError: the text is not JSON (with line and column).
    """
    result = check_document(parse_json(text, source))
    return result.manifest, result.report


def validate_manifest(
    path: Path, *, repo: Path | None = None, source: str | None = None, jobs: int | None = None
) -> ValidationResult:
    """Validate a manifest file, optionally against the repository it describes.

    Raises:
        ManifestError: the file is missing, unreadable, not UTF-8 or not JSON.
        HubtoolsError: ``repo`` is not a directory.
    """
    doc = read_json_file(Path(path), source)
    return check_document(doc, repo=repo, jobs=jobs)


# ---- --repo: entries against files ---------------------------------------------


@dataclass(frozen=True)
class _FileCheck:
    index: int
    entry: ModelEntry
    field: str  # "model" or "model_with_data"
    rel: str
    sha: str | None
    size: int | None


def _check_one(check: _FileCheck, root: Path, source: str) -> tuple[list[Problem], dict[str, int]]:
    from hubtools.core.files import digest, read_lfs_pointer
    from hubtools.inspect.facts import inspect_archive, inspect_file

    i, field = check.index, check.field
    path_ptr = f"/{i}/{'model_path' if field == 'model' else 'model_with_data_path'}"
    sha_ptr = f"/{i}/metadata/{field}_sha"
    size_ptr = f"/{i}/metadata/{field}_bytes"
    problems: list[Problem] = []
    counts = {"files": 1}
    path = resolve_inside(root, check.rel)
    if path is None:
        problems.append(
            _problem(
                source,
                path_ptr,
                "path-escapes",
                f"{check.rel!r} resolves outside the repository {root} (through a symlink)",
                "point the entry at a file inside the repository",
            )
        )
        return problems, counts
    if not path.is_file():
        problems.append(
            _problem(
                source,
                path_ptr,
                "missing-file",
                f"{check.rel!r} does not exist in {root}"
                + (" (it is a directory)" if path.is_dir() else ""),
                "fix the path, or add the file to the repository",
            )
        )
        return problems, counts
    facts: FileFacts | None = None
    try:
        pointer = read_lfs_pointer(path)
        if pointer is not None:
            sha, size, kind = pointer.oid, pointer.size, "Git LFS pointer"
            counts["from LFS pointers"] = 1
        else:
            if field == "model":
                archive = check.entry.metadata.get("model_archive")
                try:
                    if isinstance(archive, str):
                        facts = inspect_archive(path, archive)
                    else:
                        facts = inspect_file(path)
                except InvalidModelError as err:
                    problems.append(
                        _problem(
                            source,
                            path_ptr,
                            "invalid-model",
                            str(err).replace(str(path), check.rel),
                            "replace the file with the ONNX model, or fix the path",
                        )
                    )
            if facts is not None and facts.model_sha is not None:
                sha, size = facts.model_sha, facts.model_bytes
            else:
                found = digest(path)
                sha, size = found.sha256, found.size
            kind = "file"
            counts["hashed"], counts["bytes hashed"] = 1, size
    except OSError as err:  # FileReadError included
        problems.append(
            _problem(source, path_ptr, "unreadable-file", f"{check.rel}: cannot read: {err}")
        )
        return problems, counts
    if check.sha is not None and sha != check.sha:
        problems.append(
            _problem(
                source,
                sha_ptr,
                "sha-mismatch",
                f"manifest says {check.sha}, the {kind} {check.rel!r} has {sha}",
                _REGENERATE,
            )
        )
    if check.size is not None and size != check.size:
        problems.append(
            _problem(
                source,
                size_ptr,
                "size-mismatch",
                f"manifest says {check.size} bytes, the {kind} {check.rel!r} has {size}",
                _REGENERATE,
            )
        )
    if facts is not None:
        problems.extend(_content_problems(check, facts, source))
    return problems, counts


def _content_problems(check: _FileCheck, facts: FileFacts, source: str) -> Iterator[Problem]:
    entry, i = check.entry, check.index
    if facts.opset_version != entry.opset_version:
        yield _problem(
            source,
            f"/{i}/opset_version",
            "opset-mismatch",
            f"manifest says opset {entry.opset_version}, {check.rel!r} imports "
            f"{'no default-domain opset' if facts.opset_version is None else facts.opset_version}",
            "fix opset_version (and the README table it came from)",
        )
    declared = entry.metadata.io_ports
    if declared is not None and facts.io_ports is not None:
        for side in ("inputs", "outputs"):
            want = [p.to_json() for p in getattr(declared, side)]
            got = [p.to_json() for p in getattr(facts.io_ports, side)]
            if want != got:
                yield _problem(
                    source,
                    f"/{i}/metadata/io_ports/{side}",
                    "io-ports-mismatch",
                    f"{side} differ from {check.rel!r}: {_first_difference(want, got)}",
                    _REGENERATE,
                )


def _first_difference(want: list[object], got: list[object]) -> str:
    if len(want) != len(got):
        return f"manifest lists {len(want)}, the model has {len(got)}"
    for n, (a, b) in enumerate(zip(want, got, strict=True)):
        if a != b:
            return f"#{n}: manifest {a}, model {b}"
    return "order differs"


def repo_problems(
    entries: Iterable[tuple[int, ModelEntry]],
    repo: Path,
    source: str,
    report: Report,
    *,
    jobs: int | None = None,
) -> list[Problem]:
    """Check every entry's files in ``repo``: existence, sha256 and size (from the
    Git LFS pointer when the content is not pulled, else by streaming hash), and
    for model content also opset and io_ports.

    Raises:
        HubtoolsError: ``repo`` is not a directory.
    """
    root = Path(repo).resolve()
    if not root.is_dir():
        raise HubtoolsError(f"{repo}: --repo must be the repository's directory")
    checks = []
    for index, entry in entries:
        md = entry.metadata
        checks.append(
            _FileCheck(index, entry, "model", entry.model_path, md.model_sha, md.model_bytes)
        )
        if md.model_with_data_path is not None:
            checks.append(
                _FileCheck(
                    index,
                    entry,
                    "model_with_data",
                    md.model_with_data_path,
                    md.model_with_data_sha,
                    md.model_with_data_bytes,
                )
            )
    workers = jobs or min(4, os.cpu_count() or 1)
    problems: list[Problem] = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for found, counts in pool.map(lambda c: _check_one(c, root, source), checks):
            problems.extend(found)
            for what, n in counts.items():
                report.count(what, n)
    return problems
