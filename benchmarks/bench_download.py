"""Benchmark: `hubtools download` against `curl -s URL | tee FILE | openssl dgst -sha256`.

Both do the same work: fetch over HTTP, store, hash. A loopback server serves
a 1 GiB file (and a 256 MiB one, to show that peak RSS does not grow with the
file), first as fast as it can, then throttled to 100 MB/s as a real network
would be. Run: ``python benchmarks/bench_download.py [--size-mib N]``.
Targets: >= 0.8x the pipeline's throughput unthrottled, >= 0.95x throttled.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

MIB = 1 << 20


def make_file(path: Path, size_mib: int) -> str:
    """Write ``size_mib`` MiB of incompressible bytes; return their sha256."""
    block = os.urandom(MIB)
    h = hashlib.sha256()
    with path.open("wb") as f:
        for i in range(size_mib):
            chunk = block[i % 251 :] + block[: i % 251]
            f.write(chunk)
            h.update(chunk)
    return h.hexdigest()


class Server:
    """Serves the manifest under ``/raw/bench/zoo/main/`` and files under ``/media/...``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.rate: float | None = None  # bytes per second, None for unthrottled
        bench = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                name = self.path.rsplit("/", 1)[-1]
                path = bench.root / name
                if not path.is_file():
                    self.send_error(404)
                    return
                size = path.stat().st_size
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(size))
                self.end_headers()
                self.wfile.flush()
                with path.open("rb") as f:
                    if bench.rate is None:
                        self.connection.sendfile(f)
                        return
                    start = time.monotonic()
                    sent = 0
                    while sent < size:
                        n = self.connection.sendfile(f, sent, min(MIB, size - sent))
                        if not n:
                            break
                        sent += n
                        ahead = sent / bench.rate - (time.monotonic() - start)
                        if ahead > 0:
                            time.sleep(ahead)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


def run_measured(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int, str]:
    """Run ``cmd``; return wall seconds, the peak RSS (KiB) of its process, and stdout."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stderr is not None
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        sys.exit(f"{cmd[:3]} failed ({proc.returncode}): {err.decode()[-2000:]}")
    return elapsed, usage.ru_maxrss, out.decode()


def bench(
    server: Server, work: Path, name: str, size: int, sha: str, rate: float | None, rounds: int
) -> dict[str, float]:
    server.rate = rate
    cache = work / "cache"
    env = {
        **os.environ,
        "HUBTOOLS_GITHUB_RAW": f"{server.url}/raw",
        "HUBTOOLS_GITHUB_MEDIA": f"{server.url}/media",
        "HUBTOOLS_TRUSTED_REPOS": "bench/zoo",
        "HUBTOOLS_NO_PROGRESS": "1",
    }
    ours: list[float] = []
    theirs: list[float] = []
    rss = 0
    hubtools = [sys.executable, "-m", "hubtools", "download", name, "--repo", "bench/zoo:main"]
    for _ in range(rounds):
        shutil.rmtree(cache, ignore_errors=True)
        seconds, peak, out = run_measured([*hubtools, "--cache-dir", str(cache)], env)
        assert Path(out.strip()).name == f"{sha}_{name}.onnx", out
        ours.append(seconds)
        rss = max(rss, peak)
        shutil.rmtree(cache, ignore_errors=True)
        target = work / "curl.out"
        url = f"{server.url}/media/bench/zoo/main/{name}.onnx"
        pipeline = f"curl -s {url} | tee {target} | openssl dgst -sha256"
        seconds, _, out = run_measured(["bash", "-o", "pipefail", "-c", pipeline])
        assert sha in out, out
        theirs.append(seconds)
        target.unlink()
    best_ours, best_theirs = min(ours), min(theirs)
    return {
        "hubtools_MBps": size / best_ours / 1e6,
        "pipeline_MBps": size / best_theirs / 1e6,
        "ratio": best_theirs / best_ours,
        "peak_rss_MiB": rss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--small-mib", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hubtools-bench-", dir=os.environ.get("TMPDIR")))
    free = shutil.disk_usage(work).free
    if free < (args.size_mib + args.small_mib) * MIB * 3:
        sys.exit(f"not enough free space in {work.parent}: {free // MIB} MiB")
    try:
        files = work / "files"
        files.mkdir()
        entries = []
        shas = {}
        for name, mib in (("big", args.size_mib), ("small", args.small_mib)):
            shas[name] = make_file(files / f"{name}.onnx", mib)
            entries.append(
                {
                    "model": name,
                    "model_path": f"{name}.onnx",
                    "onnx_version": "1.14",
                    "opset_version": 13,
                    "metadata": {"model_sha": shas[name], "model_bytes": mib * MIB, "tags": []},
                }
            )
        (files / "ONNX_HUB_MANIFEST.json").write_text(json.dumps(entries, indent=4))
        server = Server(files)
        results = {}
        for label, name, mib, rate, rounds in (
            ("unthrottled", "big", args.size_mib, None, args.rounds),
            ("unthrottled", "small", args.small_mib, None, args.rounds),
            ("100 MB/s", "big", args.size_mib, 100e6, 1),
        ):
            r = bench(server, work, name, mib * MIB, shas[name], rate, rounds)
            results[(label, name)] = r
            print(
                f"{label:12} {mib:5d} MiB  hubtools {r['hubtools_MBps']:7.0f} MB/s  "
                f"curl|tee|openssl {r['pipeline_MBps']:7.0f} MB/s  "
                f"ratio {r['ratio']:.2f}x  hubtools peak RSS {r['peak_rss_MiB']:.0f} MiB",
                flush=True,
            )
        big, small = results[("unthrottled", "big")], results[("unthrottled", "small")]
        throttled = results[("100 MB/s", "big")]
        print(f"unthrottled ratio {big['ratio']:.2f}x (target >= 0.80x)")
        print(f"throttled ratio   {throttled['ratio']:.2f}x (target >= 0.95x)")
        print(
            f"peak RSS {small['peak_rss_MiB']:.0f} MiB for {args.small_mib} MiB, "
            f"{big['peak_rss_MiB']:.0f} MiB for {args.size_mib} MiB"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
