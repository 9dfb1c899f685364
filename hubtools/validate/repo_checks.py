"""The ``--repo`` cross-check: every entry's files against the repository they
describe (existence, sha256 and size from the Git LFS pointer or the content,
for model content also opset and io_ports, and for archives the client's
extraction policy). Every mismatch is a :class:`~hubtools.errors.Problem`;
this module raises only when the repository itself cannot be used, and it
must not check the manifest's own shape (the schema and semantic checks do).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hubtools.core.archives import REPACK_HINT
from hubtools.core.files import Digest
from hubtools.core.manifest import ModelEntry
from hubtools.core.paths import resolve_inside, unsafe_reason
from hubtools.errors import InvalidModelError, Problem, Report, UnsafeArchiveError, UsageError
from hubtools.validate.problems import problem_at

log = logging.getLogger(__name__)

if TYPE_CHECKING:  # onnx_info imports onnx (~0.3 s): only --repo on content needs it
    from hubtools.inspect.facts import FileFacts

__all__ = ["repo_problems"]

_REGENERATE = "run `hubtools generate` to recompute it"


@dataclass(frozen=True)
class _FileCheck:
    index: int
    entry: ModelEntry
    field: str  # "model" or "model_with_data"
    rel: str
    sha: str | None
    size: int | None

    @property
    def path_pointer(self) -> str:
        name = "model_path" if self.field == "model" else "metadata/model_with_data_path"
        return f"/{self.index}/{name}"


@dataclass(frozen=True)
class _Found:
    """What a file has: its sha256 and size, where they came from, and (for
    model content) the facts of the model."""

    sha: str
    size: int | None
    kind: str  # "Git LFS pointer" or "file", for messages
    facts: FileFacts | None


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
        UsageError: ``repo`` is not a directory.
    """
    root = Path(repo).resolve()
    if not root.is_dir():
        raise UsageError(f"{repo}: --repo must be the repository's directory")
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
        results = pool.map(lambda c: _check_one(c, root, source), checks)
        for check, (found, counts) in zip(checks, results, strict=True):
            problems.extend(found)
            for what, n in counts.items():
                report.count(what, n)
            log.info("%s", _checked(check, found, counts))
    return problems


def _checked(check: _FileCheck, found: list[Problem], counts: dict[str, int]) -> str:
    """One line for -v: the file, how its sha256 and size were read, its problems."""
    if counts.get("from_lfs_pointers"):
        how = "sha256 and size from its Git LFS pointer"
    elif counts.get("hashed"):
        how = "content hashed" + (" and read as a model" if check.field == "model" else "")
    else:
        how = "not read"
    return f"checked {check.rel}: {how}" + (f"; {len(found)} problem(s)" if found else "")


def _check_one(check: _FileCheck, root: Path, source: str) -> tuple[list[Problem], dict[str, int]]:
    """The problems of one file, and what was checked (for the report's counters)."""
    if unsafe_reason(check.rel) is not None:
        return [], {}  # the semantic checks report the path (unsafe-path); it is not opened
    counts = {"files": 1}
    problems: list[Problem] = []
    try:
        path = _existing_file(check, root, source)
        if isinstance(path, Problem):
            return [path], counts
        found = _read(check, path, source, problems, counts)
    except OSError as err:  # FileReadError included
        problems.append(
            problem_at(
                source, check.path_pointer, "unreadable-file", f"{check.rel}: cannot read: {err}"
            )
        )
        return problems, counts
    problems.extend(_digest_problems(check, found, source))
    if found.facts is not None:
        problems.extend(_content_problems(check, found.facts, source))
    return problems, counts


def _existing_file(check: _FileCheck, root: Path, source: str) -> Path | Problem:
    """The file an entry names, or the problem that it escapes or is missing."""
    path = resolve_inside(root, check.rel)
    if path is None:
        return problem_at(
            source,
            check.path_pointer,
            "path-escapes",
            f"{check.rel!r} resolves outside the repository {root} (through a symlink)",
            "point the entry at a file inside the repository",
        )
    if not path.is_file():
        return problem_at(
            source,
            check.path_pointer,
            "missing-file",
            f"{check.rel!r} does not exist in {root}"
            + (" (it is a directory)" if path.is_dir() else ""),
            "fix the path, or add the file to the repository",
        )
    return path


def _read(
    check: _FileCheck, path: Path, source: str, problems: list[Problem], counts: dict[str, int]
) -> _Found:
    """sha256 and size from the LFS pointer, else from the content (with the
    model's facts when it is a model; an invalid model is a problem, and its
    bytes are still hashed). Raises OSError when the file cannot be read."""
    from hubtools.core.files import digest, read_lfs_pointer
    from hubtools.inspect.facts import inspect_archive, inspect_file

    pointer = read_lfs_pointer(path)
    if pointer is not None:
        counts["from_lfs_pointers"] = 1
        return _Found(pointer.oid, pointer.size, "Git LFS pointer", None)
    facts: FileFacts | None = None
    if check.field == "model":
        archive = check.entry.metadata.get("model_archive")
        try:
            if isinstance(archive, str):
                facts = inspect_archive(path, archive)
            else:
                facts = inspect_file(path)
        except InvalidModelError as err:
            unsafe = isinstance(err.__cause__, UnsafeArchiveError)
            problems.append(
                problem_at(
                    source,
                    check.path_pointer,
                    "unsafe-archive" if unsafe else "invalid-model",
                    str(err).replace(str(path), check.rel),
                    REPACK_HINT
                    if unsafe
                    else "replace the file with the ONNX model, or fix the path",
                )
            )
    else:
        bundle = _judged_bundle(check, path, source)
        if isinstance(bundle, Problem):
            problems.append(bundle)
        else:
            counts["hashed"], counts["bytes_hashed"] = 1, bundle.size
            return _Found(bundle.sha256, bundle.size, "file", None)
    if facts is not None and facts.model_sha is not None:
        sha, size = facts.model_sha, facts.model_bytes
    else:
        found = digest(path)
        sha, size = found.sha256, found.size
    counts["hashed"], counts["bytes_hashed"] = 1, size
    return _Found(sha, size, "file", facts)


def _judged_bundle(check: _FileCheck, path: Path, source: str) -> Digest | Problem:
    """The test-data bundle judged by the client's extraction policy and hashed in
    the same read, or the problem that the policy refuses it."""
    from hubtools.core.archives import judged_digest

    try:
        return judged_digest(path, source=check.rel)
    except UnsafeArchiveError as err:
        return problem_at(source, check.path_pointer, "unsafe-archive", str(err), REPACK_HINT)


def _digest_problems(check: _FileCheck, found: _Found, source: str) -> Iterator[Problem]:
    """The declared sha256 and size against the file's (each only when declared)."""
    for suffix, code, declared, actual, unit in (
        ("sha", "sha-mismatch", check.sha, found.sha, ""),
        ("bytes", "size-mismatch", check.size, found.size, " bytes"),
    ):
        if declared is not None and actual != declared:
            yield problem_at(
                source,
                f"/{check.index}/metadata/{check.field}_{suffix}",
                code,
                f"manifest says {declared}{unit}, the {found.kind} {check.rel!r} has {actual}",
                _REGENERATE,
            )


def _content_problems(check: _FileCheck, facts: FileFacts, source: str) -> Iterator[Problem]:
    entry, i = check.entry, check.index
    if facts.opset_version != entry.opset_version:
        yield problem_at(
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
                yield problem_at(
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
