"""The client against what kills, cuts and locks it out: real child processes
killed with SIGKILL (at seeded random points) or SIGTERM mid-download and
mid-extraction, ``cache prune`` racing a download, and a cache it may not
write (a user without write permission, and a read-only mount). After each,
the cache is audited: every final name hashes to its name, nothing is left
over once pruned, nothing was written outside the cache.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.client_support import REPO_ROOT, Fault, Zoo
from tests.conftest import RunCli
from tests.hostile.servers import (
    ARCHIVE,
    BIG,
    audit_cache,
    child_env,
    partials,
    serve_hostile_zoo,
    snapshot,
    spawn,
)

SEED = 20261130
#: The pace's watchdog wakes every tenth of this, and a slow body is written at
#: each wake-up: a kill then finds the bytes of the last 0.2 s on disk.
TICKS = {"HUBTOOLS_MIN_SPEED_TIME": "2"}


def _wait_for(what: Callable[[], bool], proc: subprocess.Popen[str], timeout: float = 20) -> None:
    """Wait until ``what()`` holds while ``proc`` runs; fail saying why when it never does."""
    end = time.monotonic() + timeout
    while not what():
        if proc.poll() is not None:
            _, err = proc.communicate()
            pytest.fail(f"the child ended ({proc.returncode}) before it was caught: {err}")
        if time.monotonic() > end:
            proc.kill()
            pytest.fail("the child was never caught half-way")
        time.sleep(0.002)


def _has_partial(zoo: Zoo) -> Callable[[], bool]:
    return lambda: any(p.stat().st_size for p in partials(zoo.cache) if p.exists())


@pytest.fixture
def zoo(tmp_path: Path) -> Iterator[Zoo]:
    with serve_hostile_zoo(tmp_path) as z:
        z.server.fault(z.model(BIG, 13).model_path, Fault("slow", times=-1, delay=0.004))
        yield z


def test_sigkill_mid_download_leaves_one_partial_that_the_next_run_resumes(
    zoo: Zoo, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    big = zoo.model(BIG, 13)
    outside = snapshot(tmp_path, skip=(zoo.cache.parent,))
    for _ in range(2):
        proc = spawn(zoo, "download", BIG, **TICKS)
        _wait_for(_has_partial(zoo), proc)
        time.sleep(rng.uniform(0, 0.2))
        proc.kill()
        proc.communicate()
        audit = audit_cache(zoo.cache)
        assert audit.corrupt == []
        # One partial, under its one name: no temporary file per kill.
        assert [p.name for p in partials(zoo.cache)] == [f"{big.sha}_bignet-13.onnx.partial"]
        assert not list(zoo.cache.rglob("*.tmp"))
    kept = partials(zoo.cache)[0].stat().st_size
    zoo.server.faults.clear()
    zoo.server.ranges.clear()
    proc = spawn(zoo, "download", BIG, **TICKS)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert Path(out.strip()).read_bytes() == big.data
    assert zoo.server.ranges == [f"bytes={kept}-"]  # resumed where the kills left it
    assert partials(zoo.cache) == []
    audit = audit_cache(zoo.cache, outside, tmp_path)
    assert (audit.corrupt, audit.leftovers, audit.outside) == ([], [], [])


def test_sigterm_stops_a_download_as_ctrl_c_does(zoo: Zoo) -> None:
    proc = spawn(zoo, "download", BIG, **TICKS)
    _wait_for(_has_partial(zoo), proc)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 143
    assert err.endswith(
        "hubtools: terminated (SIGTERM); what was downloaded is kept, and the next "
        "`hubtools download` resumes from it\n"
    )
    assert "Traceback" not in err
    assert out == ""
    (partial,) = partials(zoo.cache)
    kept = partial.stat().st_size
    assert kept > 0
    assert not list(zoo.cache.rglob("*.lock"))  # released as it stopped
    zoo.server.faults.clear()
    proc = spawn(zoo, "download", BIG, **TICKS)
    assert proc.communicate(timeout=60)[0].strip().endswith("_bignet-13.onnx")
    assert zoo.server.ranges == [f"bytes={kept}-"]


def _extraction_leftovers(zoo: Zoo) -> list[Path]:
    """The temporary folders of extractions of ArchNet (``.<sha>_archnet.<random>.tmp``)."""
    folder = zoo.cache / "validated" / "archive"
    found = folder.glob(".*_archnet.*.tmp") if folder.is_dir() else []
    return sorted(p for p in found if p.is_dir() and ".tar.gz." not in p.name)


def test_sigkill_during_extraction_leaves_nothing_that_lasts(zoo: Zoo, run_cli: RunCli) -> None:
    proc = spawn(zoo, "download", ARCHIVE, **TICKS)
    _wait_for(lambda: bool(_extraction_leftovers(zoo)), proc)
    proc.kill()
    proc.communicate()
    assert _extraction_leftovers(zoo)
    # A new extraction is not disturbed by the leftover, and removes it.
    proc = spawn(zoo, "download", ARCHIVE, **TICKS)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.strip().endswith("archnet/model.onnx")
    assert _extraction_leftovers(zoo) == []
    # Killed again, and this time pruned.
    proc = spawn(zoo, "download", ARCHIVE, "--force-reload", **TICKS)
    _wait_for(lambda: bool(_extraction_leftovers(zoo)), proc)
    proc.kill()
    proc.communicate()
    leftover = _extraction_leftovers(zoo)
    run = run_cli("cache", "prune", "--cache-dir", zoo.cache)
    assert run.exit_code == 0
    assert f"removed partial {leftover[0].relative_to(zoo.cache)} " in run.stdout
    audit = audit_cache(zoo.cache)
    assert (audit.corrupt, audit.leftovers) == ([], [])


def test_prune_during_a_download_keeps_what_it_writes(zoo: Zoo, run_cli: RunCli) -> None:
    big = zoo.model(BIG, 13)
    proc = spawn(zoo, "download", BIG, **TICKS)
    _wait_for(_has_partial(zoo), proc)
    run = run_cli("cache", "prune", "--cache-dir", zoo.cache)
    assert run.exit_code == 0
    partial = f"validated/big/{big.sha}_bignet-13.onnx.partial"
    assert f"kept partial {partial} (" in run.stdout
    assert "in use by a running download" in run.stdout
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert Path(out.strip()).read_bytes() == big.data
    run = run_cli("cache", "prune", "--cache-dir", zoo.cache)
    audit = audit_cache(zoo.cache)
    assert (audit.corrupt, audit.leftovers) == ([], [])


# ---- a cache that cannot be written ---------------------------------------------------

# Run in a child: the same commands once in a writable home (so that every
# module the commands import lazily is imported while all files can still
# be read), then, with privileges dropped or the cache mounted read-only,
# against the read-only cache; prints what each gave as JSON.
_READ_ONLY_CHILD = """
import json, os, sys
from click.testing import CliRunner
from hubtools import hub
from hubtools.cli import cli

mode, warm, cache_home, repo = sys.argv[1:5]

def run(*args):
    result = CliRunner().invoke(cli, [*args, "--repo", repo] if args[0] != "cache" else args)
    crash = result.exception is not None and not isinstance(result.exception, SystemExit)
    return [result.exit_code, result.stdout, result.stderr, repr(result.exception) if crash else ""]

def load(name):
    try:
        return "loaded" if hub.load(name, repo) is not None else "declined"
    except Exception as err:
        return f"{type(err).__name__}: {err}"

def everything():
    return {
        "load mnist": load("mnist"),
        "load archive": load("ArchNet"),
        "load resnet18": load("resnet18"),
        "list": run("list"),
        "list offline": run("list", "--offline"),
        "download mnist": run("download", "mnist"),
        "download resnet18": run("download", "resnet18"),
        "cache ls": run("cache", "ls"),
        "cache verify": run("cache", "verify"),
        "cache prune": run("cache", "prune"),
    }

os.environ["ONNX_HOME"] = warm
everything()
if mode == "setuid":
    os.setgid(65534)
    os.setuid(65534)
os.environ["ONNX_HOME"] = cache_home
print(json.dumps(everything()))
"""


def _can_mount_read_only(probe: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    probe.mkdir()
    script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && ! touch "$0/x"'
    try:
        done = subprocess.run(
            ["unshare", "-m", "sh", "-c", script, str(probe)], capture_output=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A folder under /tmp that another user can enter (pytest's are private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="hubtools-ro-", dir="/tmp"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("mode", ["setuid", "mount"])
def test_a_read_only_cache_loads_what_it_holds_and_says_what_it_cannot_do(
    mode: str, shared_tmp: Path, tmp_path: Path
) -> None:
    if mode == "setuid" and (not hasattr(os, "setuid") or os.geteuid() != 0):
        pytest.skip("dropping privileges needs root")
    if mode == "mount" and not _can_mount_read_only(tmp_path / "probe"):
        pytest.skip("no read-only bind mount here (unshare -m and mount need CAP_SYS_ADMIN)")
    with serve_hostile_zoo(shared_tmp, members=20) as zoo:
        env = child_env(zoo)
        prepare = (
            "from hubtools import hub; import sys; r = sys.argv[1]; "
            "hub.load('mnist', r); hub.load('ArchNet', r)"
        )
        home = str(zoo.cache.parent)
        subprocess.run(
            [sys.executable, "-c", prepare, zoo.repo],
            env={**env, "ONNX_HOME": home},
            check=True,
            cwd=REPO_ROOT,
        )
        stale = zoo.cache / "validated" / f"{'ab' * 32}_old.onnx.partial"
        stale.write_bytes(b"half")  # something prune would have to remove
        before = snapshot(zoo.cache)
        child = [sys.executable, "-c", _READ_ONLY_CHILD, mode, str(tmp_path / "warm"), home]
        if mode == "mount":
            script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
            child = ["unshare", "-m", "sh", "-c", script, home, *child]
        done = subprocess.run(
            [*child, zoo.repo], env=env, capture_output=True, text=True, timeout=120
        )
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert snapshot(zoo.cache) == before  # nothing written
    # What needs no write works.
    assert (got["load mnist"], got["load archive"]) == ("loaded", "loaded")
    for name in ("list", "list offline", "download mnist", "cache ls", "cache verify"):
        code, out, err, crash = got[name]
        assert (code, crash) == (0, ""), (name, err)
    assert got["list"][1].splitlines()[1].split()[:2] == ["MNIST", "8"]
    assert got["download mnist"][1].strip().endswith("_mnist-12.onnx")
    # What needs one fails with one clear message.
    read_only = f"the cache at {zoo.cache} is read-only ("
    fix = "make it writable, or point ONNX_HOME (--cache-dir) at a writable folder"
    assert got["load resnet18"].startswith("FileWriteError: cannot download ResNet18 (")
    for name in ("download resnet18", "cache prune"):
        code, out, err, crash = got[name]
        assert (code, crash, out) == (2, "", ""), (name, err)
        assert err.startswith("hubtools: error: cannot ")
        assert read_only in err
        assert fix in err
        assert err.count("\n") == 1
