"""Benchmark `hubtools validate`: the real zoo manifest and synthetic ones of 1k,
10k and 100k entries, as whole processes, against two baselines measured in the
same run on the same files:

* ``json.load``: a process that only parses the file (the floor);
* ``jsonschema``: a process that runs plain jsonschema with the published schema
  (what a generic schema CLI does, with no positions or semantic checks).

Targets: the largest manifest within 2x the ``json.load`` floor, the real
manifest under 0.25 s. Peak memory (max RSS) of each process is printed too.

Run: ``python benchmarks/bench_validate.py [--sizes 1000,10000,100000] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "data" / "onnx-models-b1eeaa1a" / "ONNX_HUB_MANIFEST.json"
SCHEMA = ROOT / "schema" / "onnx-hub-manifest.schema.json"

PARSE_ONLY = "import json,sys; json.load(open(sys.argv[1]))"
JSONSCHEMA_ONLY = (
    "import json,sys,jsonschema; s=json.load(open(sys.argv[2])); "
    "list(jsonschema.Draft202012Validator(s).iter_errors(json.load(open(sys.argv[1]))))"
)


#: ONNX release of each default-domain opset from 7 to 18 (onnx's own table).
RELEASES = {
    7: "1.2", 8: "1.3", 9: "1.4", 10: "1.5", 11: "1.6", 12: "1.7",
    13: "1.8", 14: "1.9", 15: "1.10", 16: "1.11", 17: "1.12", 18: "1.13",
}  # fmt: skip


def synthetic(n: int, path: Path) -> None:
    """A manifest of ``n`` distinct, valid entries shaped like the real zoo's."""
    entries = []
    for i in range(n):
        sha = f"{i:064x}"
        entries.append(
            {
                "model": f"model-{i}",
                "model_path": f"vision/classification/m{i // 100:05d}/model/m-{i:07d}.onnx",
                # The release that brought the opset, as real manifests say (a wrong one
                # is an onnx-version-mismatch warning, which a real zoo does not raise).
                "onnx_version": RELEASES[7 + i % 12],
                "opset_version": 7 + i % 12,
                "metadata": {
                    "model_sha": sha,
                    "model_bytes": 1000 + i,
                    "tags": ["vision", "classification", f"m{i // 100}"],
                    "io_ports": {
                        "inputs": [
                            {"name": "data", "shape": ["N", 3, 224, 224], "type": "tensor(float)"}
                        ],
                        "outputs": [
                            {"name": "prob", "shape": ["N", 1000], "type": "tensor(float)"}
                        ],
                    },
                    "model_with_data_path": f"vision/classification/m{i // 100:05d}/model/"
                    f"m-{i:07d}.tar.gz",
                    "model_with_data_sha": sha[::-1],
                    "model_with_data_bytes": 2000 + i,
                },
            }
        )
    path.write_text(json.dumps(entries, indent=4))


def wall(cmd: list[str], repeat: int) -> tuple[float, float]:
    """Median wall time of a whole process, in seconds, and its largest peak RSS in MB."""
    times, peaks = [], []
    for _ in range(repeat):
        with tempfile.TemporaryFile() as err:
            start = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
            _, status, usage = os.wait4(proc.pid, 0)
            times.append(time.perf_counter() - start)
            proc.returncode = os.waitstatus_to_exitcode(status)
            if proc.returncode != 0:
                err.seek(0)
                raise SystemExit(f"{cmd} exited {proc.returncode}: {err.read()[-500:]!r}")
        peaks.append(usage.ru_maxrss / 1024)  # KiB on Linux
    return statistics.median(times), max(peaks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write", nargs=2, metavar=("N", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write:  # in a child process: the peak RSS of a process forked later
        synthetic(int(args.write[0]), Path(args.write[1]))  # starts from its parent's RSS
        return
    cases: list[tuple[str, Path, int]] = []
    with tempfile.TemporaryDirectory() as tmp:
        if REAL.is_file():
            cases.append(("real zoo", REAL, len(json.loads(REAL.read_text()))))
        else:
            print(f"(real zoo manifest not found at {REAL}; skipped)")
        for n in (int(s) for s in args.sizes.split(",")):
            path = Path(tmp) / f"m{n}.json"
            subprocess.run([sys.executable, __file__, "--write", str(n), str(path)], check=True)
            cases.append((f"synthetic {n}", path, n))
        print(
            f"{'manifest':<18}{'entries':>9}{'MB':>8}{'validate s':>12}{'entries/s':>11}"
            f"{'json.load s':>13}{'vs json.load':>14}{'jsonschema s':>14}{'vs jsonschema':>15}"
            f"{'peak MB':>9}{'json.load MB':>14}"
        )
        ratios = []
        for name, path, n in cases:
            repeat = args.repeat if n <= 10_000 else 1
            hubtools = [sys.executable, "-m", "hubtools", "validate", str(path)]
            ours, ours_peak = wall(hubtools, repeat)
            parse, parse_peak = wall([sys.executable, "-c", PARSE_ONLY, str(path)], repeat)
            plain, _ = wall([sys.executable, "-c", JSONSCHEMA_ONLY, str(path), str(SCHEMA)], repeat)
            mb = path.stat().st_size / 1e6
            ratios.append((n, ours / parse))
            print(
                f"{name:<18}{n:>9}{mb:>8.1f}{ours:>12.3f}{n / ours:>11.0f}"
                f"{parse:>13.3f}{ours / parse:>13.2f}x{plain:>14.3f}{ours / plain:>14.2f}x"
                f"{ours_peak:>9.0f}{parse_peak:>14.0f}"
            )
        n, ratio = max(ratios)
        print(
            f"\n{n} entries: {ratio:.2f}x the json.load floor "
            f"(target <= 2x: {'met' if ratio <= 2 else 'NOT met'})"
        )
        if REAL.is_file():
            real, _ = wall([sys.executable, "-m", "hubtools", "validate", str(REAL)], 5)
            print(
                f"real manifest, whole process, median of 5: {real:.3f} s "
                f"(target < 0.25 s: {'met' if real < 0.25 else 'NOT met'})"
            )


if __name__ == "__main__":
    main()
