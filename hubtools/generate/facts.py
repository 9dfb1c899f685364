"""The generator's file-facts step: sha256, size and (for models) io_ports and
opset of each file the candidates name, from its Git LFS pointer or from one
pass over its content, or kept from the previous manifest for files unchanged
since a ref. A file that cannot be read or is not a valid model becomes a
warning Problem; this module must not raise on bad input, and it knows
nothing of README tables or of how entries are assembled.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from hubtools.core import files as hashing
from hubtools.core.archives import REPACK_HINT, check_archive, judged_digest
from hubtools.core.manifest import IOPorts, ModelEntry
from hubtools.errors import FileReadError, InvalidModelError, Problem, UnsafeArchiveError
from hubtools.generate.collectors.base import Candidate
from hubtools.generate.collectors.base import warning as _warning
from hubtools.generate.repo import repo_file

__all__ = ["Facts", "FactsJob", "FactsPlan", "file_facts", "plan_facts", "run_facts"]


@dataclass(frozen=True)
class Facts:
    """What one file contributes to an entry."""

    sha: str
    size: int
    from_pointer: bool
    io_ports: IOPorts | None = None
    opset: int | None = None  # the default-domain opset the content imports
    hashed: int = 0  # bytes read to get these facts
    notes: tuple[str, ...] = ()  # what the file-facts engine found odd


@dataclass(frozen=True)
class FactsJob:
    """One file to read: a model (facts with io_ports) or a bundle (sha256 and size)."""

    path: str
    is_model: bool
    archive: str | None = None  # a model inside a .tar.gz/.zip (new-layout archives)


@dataclass(frozen=True)
class FactsPlan:
    """The facts kept from the previous manifest, and the jobs that read the rest."""

    kept: dict[str, Facts]
    jobs: list[FactsJob]


def _checked(root: Path, job: FactsJob) -> Path | Problem:
    """The file of a job, or why it is not opened (:func:`~hubtools.generate.repo.repo_file`)."""
    outcome = "the entry was skipped" if job.is_model else "the entry was written without it"
    return repo_file(root, job.path, outcome)


def file_facts(root: Path, job: FactsJob) -> Facts | Problem:
    """Facts of one file: from its LFS pointer, or from one pass over its content.

    Nothing is read from a file :func:`~hubtools.generate.repo.repo_file`
    refuses (a link out of the repository, a FIFO, a device).
    """
    return _facts_of(job, _checked(root, job), alone=True)


def _facts_of(job: FactsJob, full: Path | Problem, *, alone: bool) -> Facts | Problem:
    """:func:`file_facts` of a job whose file was checked already; ``alone``: no
    other file is being read meanwhile (see :func:`_bundle_digest`)."""
    if isinstance(full, Problem):
        return full
    try:
        pointer = hashing.read_lfs_pointer(full)
        if pointer is not None:
            return Facts(pointer.oid, pointer.size, from_pointer=True)
        if job.is_model:
            # Imported here: it loads onnx, which a run over LFS pointers never needs.
            from hubtools.inspect.facts import inspect_archive, inspect_file

            if job.archive is not None:
                facts = inspect_archive(full, job.archive, hash=True)
            else:
                facts = inspect_file(full, hash=True)
            if facts.model_sha is None or facts.model_bytes is None:
                raise InvalidModelError(f"{job.path}: no sha256 computed")
            return Facts(
                facts.model_sha,
                facts.model_bytes,
                from_pointer=False,
                io_ports=facts.io_ports,
                opset=facts.opset_version,
                hashed=facts.model_bytes,
                notes=tuple(facts.problems),
            )
        digest = _bundle_digest(full, job.path, alone=alone)
        return Facts(digest.sha256, digest.size, from_pointer=False, hashed=digest.size)
    except UnsafeArchiveError as err:
        return _warning(
            "unsafe-archive",
            f"{str(err).removeprefix(f'{job.path}: ')}; the entry was written without it",
            job.path,
            None,
            REPACK_HINT,
        )
    except InvalidModelError as err:
        return _warning(
            "invalid-model",
            f"not a valid ONNX model ({err}); the entry was skipped",
            job.path,
            None,
            "replace the file with a valid model, or fix the README link",
        )
    except OSError as err:
        reason = str(err) if isinstance(err, FileReadError) else f"cannot read: {err.strerror}"
        return _warning(
            "unreadable-file",
            f"{reason}; the entry was skipped",
            job.path,
            None,
            "check the file's permissions, or run `git lfs pull` if it is missing",
        )


def _bundle_digest(path: Path, name: str, *, alone: bool) -> hashing.Digest:
    """The sha256 and size of a test-data bundle the client would extract. One it
    would refuse is one ``validate --repo`` rejects, so generate leaves it out
    rather than write it.

    Judging inflates the whole bundle. With other files being read meanwhile
    (``--jobs``), one read judges and hashes it; ``alone``, judging and hashing
    run side by side as two reads, on two cores (zlib and hashlib release the
    GIL). Measured on 2 cores: 1.13x the hashing floor with one job (one read:
    1.33x), 0.75x with two (two reads: 0.84x).

    Raises:
        UnsafeArchiveError: the archive policy refuses the bundle.
        FileReadError: it cannot be read.
    """
    if not alone:
        return judged_digest(path, source=name)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="hubtools-judge") as side:
        judged = side.submit(check_archive, path, source=name)
        digest = hashing.digest(path)
        judged.result()
    return digest


def plan_facts(
    root: Path,
    candidates: Iterable[Candidate],
    *,
    touched: frozenset[str] | None,
    by_path: Mapping[str, ModelEntry],
    by_data_path: Mapping[str, ModelEntry],
) -> FactsPlan:
    """One job per distinct file the candidates name, in their order.

    With ``touched`` (the files changed since a ref), a content file outside
    it keeps the facts of the previous entry that names it (``by_path`` for
    models, ``by_data_path`` for bundles) instead of being read again.
    """
    kept: dict[str, Facts] = {}
    jobs: list[FactsJob] = []
    queued: set[str] = set()
    for candidate in candidates:
        wanted = [(candidate.model_path, True, candidate.archive)]
        if candidate.model_with_data_path is not None:
            wanted.append((candidate.model_with_data_path, False, None))
        for path, is_model, archive in wanted:
            if path in kept or path in queued:
                continue
            if touched is not None and not _is_pointer(repo_file(root, path)):
                reused = _reusable(path, by_path, by_data_path, touched)
                if reused is not None:
                    kept[path] = reused
                    continue
            queued.add(path)
            jobs.append(FactsJob(path, is_model, archive))
    return FactsPlan(kept, jobs)


def _reusable(
    path: str,
    by_path: Mapping[str, ModelEntry],
    by_data_path: Mapping[str, ModelEntry],
    touched: frozenset[str],
) -> Facts | None:
    """Facts of an unchanged content file, taken from the previous manifest."""
    if path in touched:
        return None
    entry = by_path.get(path)
    if entry is not None:
        meta = entry.metadata
        if meta.model_sha is None or meta.model_bytes is None or meta.io_ports is None:
            return None  # a full run would read the content now: do the same
        # generate writes no entry whose opset is not its content's: it is the file's.
        return Facts(meta.model_sha, meta.model_bytes, False, meta.io_ports, entry.opset_version)
    entry = by_data_path.get(path)
    if entry is not None:
        meta = entry.metadata
        if meta.model_with_data_sha is not None and meta.model_with_data_bytes is not None:
            return Facts(meta.model_with_data_sha, meta.model_with_data_bytes, False)
    return None


def run_facts(
    root: Path,
    jobs: Sequence[FactsJob],
    *,
    workers: int,
    progress: Callable[[str, int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> dict[str, Facts | Problem]:
    """The outcome of every job, by path; ``workers`` files are read at a time.

    ``on_total(n_bytes)`` is called once with the bytes about to be read,
    ``progress(path, n_bytes)`` after each file.
    """
    todo = list(jobs)
    checked = {j.path: _checked(root, j) for j in todo}  # once per file: it walks every link
    # onnx (for io_ports) takes a while to import; when some model has content,
    # import it on the side while the bundles are hashed first.
    importer: threading.Thread | None = None
    if any(j.is_model and not _is_pointer(checked[j.path]) for j in todo):
        importer = threading.Thread(target=_import_inspector, name="hubtools-import-onnx")
        importer.start()
        todo.sort(key=lambda j: j.is_model)
    if on_total is not None:
        on_total(sum(_size(checked[j.path]) for j in todo))

    alone = workers == 1 or len(todo) < 2  # one file read at a time

    def run(job: FactsJob) -> tuple[str, Facts | Problem]:
        outcome = _facts_of(job, checked[job.path], alone=alone)
        if progress is not None:
            progress(job.path, outcome.hashed if isinstance(outcome, Facts) else 0)
        return job.path, outcome

    outcomes: dict[str, Facts | Problem] = {}
    if alone:
        outcomes.update(run(j) for j in todo)
    else:
        # Threads: hashlib and file reads release the GIL, so they overlap well.
        with ThreadPoolExecutor(max_workers=workers) as pool:
            outcomes.update(pool.map(run, todo))
    if importer is not None:
        importer.join()
    return outcomes


def _import_inspector() -> None:
    try:
        import hubtools.inspect.facts  # noqa: F401  (loaded once, for file_facts)
    except Exception:  # the import in file_facts raises it where it is handled
        return


def _is_pointer(path: Path | Problem) -> bool:
    if isinstance(path, Problem):
        return False  # file_facts reports it
    try:
        return hashing.read_lfs_pointer(path) is not None
    except OSError:
        return False


def _size(path: Path | Problem) -> int:
    """The bytes a job will read, for the progress bar (0 for a file that is refused)."""
    if isinstance(path, Problem):
        return 0
    try:
        return path.stat().st_size
    except OSError:
        return 0
