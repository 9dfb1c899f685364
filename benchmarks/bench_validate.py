"""Benchmark `hubtools validate`: the real zoo manifest and synthetic ones of 1k,
10k and 100k entries, as whole processes, against two baselines measured in the
same run on the same files:

* ``json.load``: a process that only parses the file (the floor);
* ``jsonschema``: a process that runs plain jsonschema with the published schema
  (what a generic schema CLI does, with no positions or semantic checks).

Run: ``python benchmarks/bench_validate.py [--sizes 1000,10000,100000] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import json
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


def wall(cmd: list[str], repeat: int) -> float:
    """Median wall time of a whole process, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
        if done.returncode not in (0,):
            raise SystemExit(f"{cmd} exited {done.returncode}: {done.stderr.decode()[-500:]}")
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    cases: list[tuple[str, Path, int]] = []
    with tempfile.TemporaryDirectory() as tmp:
        if REAL.is_file():
            cases.append(("real zoo", REAL, len(json.loads(REAL.read_text()))))
        else:
            print(f"(real zoo manifest not found at {REAL}; skipped)")
        for n in (int(s) for s in args.sizes.split(",")):
            path = Path(tmp) / f"m{n}.json"
            synthetic(n, path)
            cases.append((f"synthetic {n}", path, n))
        print(
            f"{'manifest':<18}{'entries':>9}{'MB':>8}{'validate s':>12}{'entries/s':>11}"
            f"{'json.load s':>13}{'jsonschema s':>14}{'vs jsonschema':>15}"
        )
        for name, path, n in cases:
            repeat = args.repeat if n <= 10_000 else 1
            ours = wall([sys.executable, "-m", "hubtools", "validate", str(path)], repeat)
            parse = wall([sys.executable, "-c", PARSE_ONLY, str(path)], repeat)
            plain = wall([sys.executable, "-c", JSONSCHEMA_ONLY, str(path), str(SCHEMA)], repeat)
            mb = path.stat().st_size / 1e6
            print(
                f"{name:<18}{n:>9}{mb:>8.1f}{ours:>12.3f}{n / ours:>11.0f}"
                f"{parse:>13.3f}{plain:>14.3f}{ours / plain:>14.2f}x"
            )
        if REAL.is_file():
            real = wall([sys.executable, "-m", "hubtools", "validate", str(REAL)], 5)
            print(
                f"\nreal manifest, whole process: {real:.3f} s "
                f"(target < 0.5 s: {'met' if real < 0.5 else 'NOT met'})"
            )


if __name__ == "__main__":
    main()
