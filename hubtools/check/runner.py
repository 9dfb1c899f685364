"""Runs model checks in worker processes, so a model that crashes onnxruntime,
or runs away, costs its own verdict and not the run.

Each worker takes one job at a time over a pipe; a job that outlives its
timeout gets its worker killed (and replaced) and an ``error`` verdict, and a
worker that dies mid-job (a segfault, the OOM killer) gives ``error`` naming
the signal. Peak memory is that of the models being checked at once (one per
worker), never their sum. This module never prints.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from hubtools.check.model import ERROR, Job, Verdict, check_model

__all__ = ["run_checks"]


def _serve(conn: multiprocessing.connection.Connection, check: Callable[[Job], Verdict]) -> None:
    """A worker: check jobs until the pipe closes."""
    # Checks are CPU work: one BLAS thread per worker keeps workers from fighting.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        conn.send(check(job))


@dataclass
class _Worker:
    process: Any
    conn: multiprocessing.connection.Connection
    job: Job | None = None
    started: float = 0.0


def _context() -> Any:
    # fork is quick and the parent holds no threads or onnxruntime state; where
    # there is no fork, spawn works the same, only slower to start.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def _start(ctx: Any, check: Callable[[Job], Verdict]) -> _Worker:
    parent, child = ctx.Pipe()
    process = ctx.Process(target=_serve, args=(child, check), daemon=True, name="hubtools-check")
    process.start()
    child.close()
    return _Worker(process, parent)


def _stop(worker: _Worker) -> None:
    worker.conn.close()
    if worker.process.is_alive():
        worker.process.kill()
    worker.process.join()


def _lost(job: Job, why: str, started: float) -> Verdict:
    return Verdict(
        job.model,
        job.model_path,
        job.opset,
        ERROR,
        why,
        seconds=round(time.monotonic() - started, 3),
    )


def _died(worker: _Worker) -> str:
    worker.process.join(timeout=5)
    code = worker.process.exitcode
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the check crashed ({name}); onnxruntime or onnx died on this model"
    return f"the check's process ended unexpectedly (exit status {code})"


def run_checks(
    jobs: Sequence[Job],
    *,
    workers: int = 1,
    timeout: float | None = None,
    on_done: Callable[[Verdict], None] | None = None,
    check: Callable[[Job], Verdict] = check_model,
) -> Iterator[Verdict]:
    """Check every job in worker processes; yield verdicts as they finish.

    ``workers`` processes run at once; a job running longer than ``timeout``
    seconds is stopped (its worker killed) with an ``error`` verdict.
    ``on_done`` is called with each verdict too (for progress); ``check`` is
    what a worker runs on a job (a seam for tests). Raises nothing for a bad
    model.
    """
    if not jobs:
        return
    ctx = _context()
    pending = list(reversed(jobs))
    pool = [_start(ctx, check) for _ in range(max(1, min(workers, len(jobs))))]
    try:
        while pending or any(w.job is not None for w in pool):
            for worker in pool:
                if worker.job is None and pending:
                    worker.job = pending.pop()
                    worker.started = time.monotonic()
                    worker.conn.send(worker.job)
            busy = [w for w in pool if w.job is not None]
            wait = None
            if timeout is not None:
                wait = max(0.0, min(w.started + timeout for w in busy) - time.monotonic())
            ready = multiprocessing.connection.wait([w.conn for w in busy], timeout=wait)
            for index, worker in enumerate(pool):
                job = worker.job
                if job is None:
                    continue
                verdict: Verdict | None = None
                if worker.conn in ready:
                    try:
                        verdict = worker.conn.recv()
                    except (EOFError, OSError):
                        verdict = _lost(job, _died(worker), worker.started)
                        _stop(worker)
                        pool[index] = worker = _start(ctx, check)
                elif timeout is not None and time.monotonic() - worker.started >= timeout:
                    _stop(worker)
                    verdict = _lost(
                        job, f"timed out after {timeout:g} s (--timeout)", worker.started
                    )
                    pool[index] = worker = _start(ctx, check)
                if verdict is not None:
                    worker.job = None
                    if on_done is not None:
                        on_done(verdict)
                    yield verdict
    finally:
        for worker in pool:
            _stop(worker)
