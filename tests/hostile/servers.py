"""Misbehaving servers and the processes that meet them, for the hostile client
tests and ``benchmarks/stress_cache.py``: a zoo served over loopback (with a
model large enough to be killed half-way and an archive of many members),
``hubtools`` run as child processes, and the audit of a cache after faults,
kills and prunes, which checks what a user must be able to rely on whatever
happened: every file under a final name (``<sha256>_<name>``) hashes to its
name, every extracted folder matches the record of its extraction, nothing
is left over once ``cache prune`` ran, and nothing was written outside the
cache."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from hubtools.client import cache, extracted, housekeeping
from hubtools.core.files import sha256_file
from tests.client_support import (
    REPO_ROOT,
    FixtureModel,
    Zoo,
    build_repo,
    default_models,
    make_tar,
    running_server,
    tiny_model_bytes,
)

#: A model that takes a while to arrive through a slow fault, and an archive
#: whose extraction takes a while (many members): kills land half-way.
BIG = "BigNet"
ARCHIVE = "ArchNet"


def hostile_models(big_kib: int = 256, members: int = 2000) -> list[FixtureModel]:
    """The default zoo, plus ``BigNet`` (``big_kib`` KiB of bytes no hub would
    parse: downloads do not look inside) and ``ArchNet`` (a ``.tar.gz`` of one
    model and ``members`` small files)."""
    # Deterministic bytes: a kill test's figures do not depend on os.urandom.
    block = hashlib.sha256(b"hubtools").digest() * 32  # 1 KiB
    big = b"".join(block[i % 32 :] + block[: i % 32] for i in range(big_kib))
    files = {f"archnet/data/f{i:05d}.bin": block[i % 64 :][:256] for i in range(members)}
    files["archnet/model.onnx"] = tiny_model_bytes(13, "archnet")
    return [
        *default_models(),
        FixtureModel(BIG, 13, "validated/big/bignet-13.onnx", big, ["big"]),
        FixtureModel(
            ARCHIVE,
            13,
            "validated/archive/archnet.tar.gz",
            make_tar(files, dirs=["archnet", "archnet/data"]),
            ["archive"],
            archive="tar.gz",
        ),
    ]


@contextmanager
def serve_hostile_zoo(work: Path, **sizes: int) -> Iterator[Zoo]:
    """:func:`hostile_models` served as ``acme/zoo:main``, with its cache in ``work``."""
    root = work / "zoo"
    models = build_repo(root, hostile_models(**sizes))
    with running_server() as server:
        server.add_repo("acme", "zoo", "main", root)
        yield Zoo(server, root, models, work / "onnx_home" / "hub")


def child_env(zoo: Zoo, **extra: str) -> dict[str, str]:
    """The environment of a child ``hubtools`` that sees ``zoo`` and its cache."""
    return {**os.environ, **zoo.env(), "PYTHONPATH": str(REPO_ROOT), **extra}


def spawn(zoo: Zoo, *args: str, **env: str) -> subprocess.Popen[str]:
    """``hubtools ARGS...`` as a child process (stdout and stderr piped, as text)."""
    return subprocess.Popen(
        [sys.executable, "-m", "hubtools", *args, "--repo", zoo.repo],
        env=child_env(zoo, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def partials(cache_dir: Path) -> list[Path]:
    """The partial downloads in the cache."""
    return sorted(cache_dir.rglob(f"*{cache.PARTIAL_SUFFIX}"))


def snapshot(root: Path, skip: tuple[Path, ...] = ()) -> dict[Path, tuple[int, int]]:
    """Every file under ``root`` but those under ``skip``, with its size and mtime."""
    out = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if Path(folder, d) not in skip]
        for name in files:
            path = Path(folder, name)
            info = path.lstat()
            out[path] = (info.st_size, info.st_mtime_ns)
    return out


def _leftover(path: Path, cache_dir: Path) -> Path:
    """``path``, or the temporary folder of a killed extraction that holds it."""
    for folder in reversed(path.relative_to(cache_dir).parents):
        if folder.name.startswith(".") and folder.name.endswith((".tmp", ".old")):
            return cache_dir / folder
    return path


@dataclass
class Audit:
    """What a cache holds after faults and kills (see the module docstring)."""

    finals: int = 0
    corrupt: list[str] = field(default_factory=list)
    leftovers: list[Path] = field(default_factory=list)
    outside: list[Path] = field(default_factory=list)


def audit_cache(
    cache_dir: Path,
    before: dict[Path, tuple[int, int]] | None = None,
    watched: Path | None = None,
) -> Audit:
    """Check every final name and extracted folder of ``cache_dir``, list what
    interrupted processes left (partials, locks, temporary files and folders),
    and, given a :func:`snapshot` of ``watched`` taken before, the files that
    changed there outside the cache."""
    audit = Audit()
    for item in housekeeping.list_cache(cache_dir):
        if item.kind == "model" and item.sha256 is not None:
            audit.finals += 1
            actual, _ = sha256_file(item.path)
            if actual != item.sha256:
                audit.corrupt.append(f"{item.path}: sha256 {actual}")
        elif item.kind in ("partial", "lock"):
            audit.leftovers.append(_leftover(item.path, cache_dir))
    audit.leftovers = sorted(set(audit.leftovers))
    for folder in sorted(housekeeping.extracted_roots(cache_dir)):
        audit.finals += 1
        problem = extracted.check_extracted(folder, full=True)
        # Killed after the rename and before the record: complete, but unrecorded;
        # the next load extracts it again. Anything else differing is corrupt.
        if problem is not None and not problem.startswith("no record"):
            audit.corrupt.append(f"{folder}: {problem}")
    if watched is not None and before is not None:
        after = snapshot(watched, skip=(cache_dir.parent,))
        audit.outside = sorted(p for p, v in after.items() if before.get(p) != v)
    return audit
