"""Stress: faulted downloads, kills and concurrent processes against one cache, then an audit.

A loopback server (the test suite's, with every fault it knows) serves a
fixture zoo with a 256 KiB model and an archive of 2,000 members. The run
makes N downloads in this process, each through one fault (404, 500, 429,
cut, reset, drip, stall, dripped headers, wrong bytes, pointer, HTML, ...,
half of them transient), with links planted where the cache writes
(``.partial``, ``.lock``, old temporary files) pointing outside it; M child
``hubtools download`` processes killed at seeded random points (SIGKILL, one
in four SIGTERM) mid-download or mid-extraction; rounds of concurrent
processes fetching the same file with ``cache prune`` racing them. Then it
audits the cache and prints: faulted downloads tried, corrupt or partial
files under a final name, orphans left after prune, writes outside the
cache. Loopback only; bounded by ``--time-limit``.
Run: ``python benchmarks/stress_cache.py [--downloads 120] [--kills 30] [--seed N]``.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hubtools.client import cache, housekeeping
from hubtools.client.config import Settings
from hubtools.client.hub import Hub
from hubtools.errors import HubtoolsError
from tests.client_support import FAULT_KINDS, Fault, Zoo
from tests.hostile.servers import (
    ARCHIVE,
    BIG,
    audit_cache,
    child_env,
    serve_hostile_zoo,
    snapshot,
)

#: Settings for the in-process downloads: quick rules, so a drip ends in a second.
FAST = {"HUBTOOLS_MIN_SPEED_TIME": "0.3", "HUBTOOLS_BACKOFF": "0.01", "HUBTOOLS_RETRIES": "2"}


def _fault(kind: str, rng: random.Random) -> Fault:
    times = rng.choice([1, -1])  # transient (then served) or for good
    return Fault(kind, times=times, retry_after="0", delay=0.02, after=rng.randrange(1, 4000))


def _plant_links(zoo: Zoo, outside: Path, rng: random.Random) -> None:
    """Links where the cache writes, pointing outside it: a download must not follow them."""
    model = rng.choice(zoo.models)
    target = cache.cached_path(zoo.cache, model.model_path, model.sha)
    target.parent.mkdir(parents=True, exist_ok=True)
    victim = outside / f"victim{rng.randrange(10**6)}"
    victim.write_bytes(b"do not touch")
    for name in (
        f"{target.name}.partial",
        f"{target.name}.lock",
        f".{target.name}.ab12cd34.tmp",
    ):
        link = target.with_name(name)
        if not link.exists() and not link.is_symlink():
            link.symlink_to(victim)


def faulted_downloads(
    zoo: Zoo, n: int, rng: random.Random, outside: Path, end: float
) -> tuple[int, int, list[str]]:
    """``n`` downloads in this process, each through one fault: (tried, served,
    errors other than hubtools' own)."""
    for key, value in FAST.items():
        os.environ[key] = value
    tried, served, unexpected = 0, 0, []
    for i in range(n):
        if time.monotonic() > end:
            break
        model = rng.choice(zoo.models)
        kind = FAULT_KINDS[i % len(FAULT_KINDS)]
        zoo.server.faults.clear()
        zoo.server.fault(model.model_path, _fault(kind, rng))
        if i % 10 == 0:
            _plant_links(zoo, outside, rng)
        client = Hub(Settings.resolve(cache_dir=zoo.cache))
        force = rng.random() < 0.3
        tried += 1
        try:
            client.download_model(model.name, zoo.repo, model.opset, force_reload=force)
            served += 1
        except HubtoolsError:
            pass  # a fault for good ends in a clean error: that is what is asked for
        except Exception as err:  # a traceback for the user: counted and shown
            unexpected.append(f"{kind}: {type(err).__name__}: {err}")
    zoo.server.faults.clear()
    return tried, served, unexpected


def _spawn(zoo: Zoo, *args: str) -> subprocess.Popen[bytes]:
    repo = [] if args[0] == "cache" else ["--repo", zoo.repo]
    return subprocess.Popen(
        [sys.executable, "-m", "hubtools", *args, *repo],
        env=child_env(zoo, HUBTOOLS_MIN_SPEED_TIME="2"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _started(zoo: Zoo) -> bool:
    """True once a download wrote bytes or an extraction made its folder."""
    return any(
        p.name.endswith(".partial") or (p.is_dir() and p.name.endswith(".tmp"))
        for p in zoo.cache.rglob("*")
    )


def kills(zoo: Zoo, m: int, rng: random.Random, end: float) -> tuple[int, int, list[str]]:
    """``m`` child downloads or extractions killed at seeded random points:
    (kills made, of them mid-way, SIGTERMs that ended in a traceback or without
    their message). Half the kills are blind (any time from start-up on), half
    aimed (once bytes are on disk or an extraction began)."""
    big = zoo.model(BIG, 13)
    zoo.server.fault(big.model_path, Fault("slow", times=-1, delay=0.004))
    made, midway, bad_terms = 0, 0, []
    for i in range(m):
        if time.monotonic() > end:
            break
        name = ARCHIVE if i % 3 == 2 else BIG
        proc = _spawn(zoo, "download", name, "--force-reload")
        if i % 2:
            give_up = time.monotonic() + 20
            while not _started(zoo) and proc.poll() is None and time.monotonic() < give_up:
                time.sleep(0.002)
            time.sleep(rng.uniform(0, 0.5))
        else:
            time.sleep(rng.uniform(0, 1.6))
        term = i % 4 == 3
        proc.send_signal(signal.SIGTERM if term else signal.SIGKILL)
        _, err = proc.communicate(timeout=60)
        made += 1
        midway += proc.returncode != 0
        # Before its handler is set (start-up) or after the download (exit), SIGTERM
        # just ends the process: nothing was being written then.
        if term and (b"Traceback" in err or (proc.returncode == 143) != (b"(SIGTERM)" in err)):
            bad_terms.append(f"exit {proc.returncode}: {err.decode()[-400:]}")
    zoo.server.faults.clear()
    return made, midway, bad_terms


def concurrent_rounds(zoo: Zoo, k: int, rounds: int, end: float) -> tuple[int, int, list[str]]:
    """Rounds of ``k`` processes fetching one file with ``cache prune`` racing them;
    returns (processes, body requests, failures)."""
    big = zoo.model(BIG, 13)
    processes, failures = 0, []
    before = zoo.server.media_hits(big.model_path)
    zoo.server.fault(big.model_path, Fault("slow", times=-1, delay=0.002))
    for _ in range(rounds):
        if time.monotonic() > end:
            break
        target = cache.cached_path(zoo.cache, big.model_path, big.sha)
        target.unlink(missing_ok=True)
        procs = [_spawn(zoo, "download", BIG) for _ in range(k)]
        time.sleep(0.8)
        pruner = _spawn(zoo, "cache", "prune")
        for proc in [*procs, pruner]:
            _, err = proc.communicate(timeout=120)
            processes += 1
            if proc.returncode != 0:
                failures.append(err.decode()[-400:])
    zoo.server.faults.clear()
    return processes, zoo.server.media_hits(big.model_path) - before, failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--downloads", type=int, default=120)
    parser.add_argument("--kills", type=int, default=30)
    parser.add_argument("--processes", type=int, default=8, help="per concurrent round")
    parser.add_argument("--rounds", type=int, default=3, help="concurrent rounds")
    parser.add_argument("--seed", type=int, default=20261130)
    parser.add_argument("--time-limit", type=float, default=600, help="seconds, at most")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    start = time.monotonic()
    end = start + args.time_limit
    work = Path(tempfile.mkdtemp(prefix="hubtools-stress-"))
    outside = work / "outside"
    outside.mkdir()
    try:
        with serve_hostile_zoo(work) as zoo:
            os.environ.update({k: v for k, v in zoo.env().items() if k != "ONNX_HOME"})
            tried, served, unexpected = faulted_downloads(zoo, args.downloads, rng, outside, end)
            faulted = audit_cache(zoo.cache)
            before = snapshot(work, skip=(zoo.cache.parent,))  # the links' victims included
            made, midway, bad_terms = kills(zoo, args.kills, rng, end)
            killed = audit_cache(zoo.cache)
            pruned = housekeeping.prune_cache(zoo.cache)
            after_prune = audit_cache(zoo.cache)
            processes, bodies, failures = concurrent_rounds(zoo, args.processes, args.rounds, end)
            final = audit_cache(zoo.cache, before, work)
            victims = [p for p in outside.iterdir() if p.read_bytes() != b"do not touch"]
        audits = (faulted, killed, after_prune, final)
        corrupt = sorted({problem for audit in audits for problem in audit.corrupt})
        rows = [
            ("faulted downloads tried", f"{tried} ({served} served, the rest clean errors)"),
            ("errors other than hubtools' own", len(unexpected)),
            ("kills (SIGKILL; one in four SIGTERM)", f"{made} ({midway} mid-way)"),
            ("SIGTERM without its message or exit 143", len(bad_terms)),
            ("concurrent processes, prune racing them", f"{processes} in {args.rounds} rounds"),
            ("  body requests for them", bodies),
            ("  failed", len(failures)),
            ("final names checked, over the 4 audits", sum(audit.finals for audit in audits)),
            ("corrupt or partial under a final name", len(corrupt)),
            (
                "left over by the kills / removed by prune",
                f"{len(killed.leftovers)} / {len(pruned.removed)} ({len(pruned.in_use)} in use)",
            ),
            ("orphans left after prune", len(after_prune.leftovers)),
            ("orphans at the end", len(final.leftovers)),
            ("writes outside the cache", len(final.outside) + len(victims)),
            ("seconds", f"{time.monotonic() - start:.0f}"),
        ]
        for label, value in rows:
            print(f"{label + ':':44} {value}")
        problems = [*unexpected, *bad_terms, *failures, *corrupt, *after_prune.leftovers]
        for problem in [*problems, *final.leftovers, *final.outside, *victims]:
            print(f"  {problem}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
