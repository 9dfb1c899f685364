"""Benchmark the manifest diff engine (:func:`hubtools.core.diff.diff_manifests`)
on synthetic manifests whose entries are all different, the case where every
entry is removed, added and looked up as a move and every name's default
resolution changes: 10k vs 10k and 20k vs 20k, in process, best of
``--repeat`` runs; linear work takes about twice as long for twice the
entries, and the script says whether it did (quadratic work takes four
times). Run: ``python benchmarks/bench_diff.py [--sizes 10000,20000] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import gc
import time

from hubtools.core.diff import diff_manifests
from hubtools.core.manifest import Manifest, Metadata, ModelEntry


def synthetic(n: int, prefix: str) -> Manifest:
    """``n`` entries, all named and placed after ``prefix`` (so two prefixes never meet)."""
    return Manifest.from_entries(
        ModelEntry(
            f"{prefix}-model-{i}",
            f"{prefix}/m{i // 100:05d}/m-{i:07d}.onnx",
            "1.9",
            7 + i % 12,
            Metadata(model_sha=f"{i:064x}", model_bytes=1000 + i, tags=("vision",)),
        )
        for i in range(n)
    )


def best_time(n: int, repeat: int) -> float:
    old, new = synthetic(n, "old"), synthetic(n, "new")
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        result = diff_manifests(old, new)
        times.append(time.perf_counter() - start)
        assert (len(result.added), len(result.removed)) == (n, n)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description="Time diff_manifests on disjoint manifests.")
    parser.add_argument("--sizes", default="10000,20000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{'entries (each side)':>20}  {'diff s':>8}")
    results = {}
    for n in sizes:
        results[n] = best_time(n, args.repeat)
        print(f"{n:>20}  {results[n]:8.3f}")
    if len(sizes) >= 2:
        small, large = sizes[0], sizes[-1]
        growth = results[large] / max(results[small], 1e-9)
        scale = large / small
        verdict = "linear" if growth < scale * 1.5 else "worse than linear"
        print(
            f"\n{small} -> {large} entries ({scale:g}x): time {growth:.2f}x, {verdict} "
            f"(linear is about {scale:g}x, quadratic {scale * scale:g}x)"
        )


if __name__ == "__main__":
    main()
