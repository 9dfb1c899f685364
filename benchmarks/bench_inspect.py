"""Benchmark of the file-facts engine: inspect vs hashlib, onnx.load, onnxruntime.

Run: ``python benchmarks/bench_inspect.py [--sizes 10,100,500,1500] [--repeat 3]``

Builds synthetic models (MatMul/Relu layers of 1024x1024 float32 weights and a
Reshape reading a small shape initializer) of about 10 MB, 100 MB, 500 MB and
1.5 GB in a temporary folder, deleted afterwards, and measures, each in a
fresh subprocess, the in-process wall time and the peak RSS of:

* ``inspect_file(path, hash=False)`` (header only),
* ``inspect_file(path)`` (with sha256),
* a plain ``hashlib.sha256`` pass in 1 MiB chunks,
* ``onnx.load(path)``,
* ``onnxruntime.InferenceSession(path)``.

Peak RSS is the child's ``VmHWM`` (``ru_maxrss`` where /proc is missing) and
includes the interpreter and its imports (the ``baseline`` row: imports only). Times are the best of
``--repeat`` runs for the three fast measurements, one run for the others.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

MB = 1000 * 1000
_DIM = 1024
_LAYER_BYTES = _DIM * _DIM * 4


def _field(number: int, payload_len: int) -> bytes:
    """Tag and length of a length-delimited protobuf field."""
    # The reader's own encoder; imported here so the measuring parent stays small.
    from hubtools.inspect.wire import encode_varint

    return encode_varint(number << 3 | 2) + encode_varint(payload_len)


def write_model(path: Path, target_bytes: int) -> int:
    """Write a model of about ``target_bytes`` without holding its weights in memory.

    Returns the number of layers. The graph is ``X[N,1024] -> (MatMul, Relu) x
    layers -> Reshape([-1, 32, 32]) -> Y``; weights are streamed as raw_data.
    """
    import numpy as np
    import onnx
    from onnx import TensorProto, helper

    layers = max(1, target_bytes // _LAYER_BYTES)
    nodes = []
    previous = "X"
    for i in range(layers):
        nodes.append(helper.make_node("MatMul", [previous, f"W{i}"], [f"M{i}"]))
        nodes.append(helper.make_node("Relu", [f"M{i}"], [f"R{i}"]))
        previous = f"R{i}"
    nodes.append(helper.make_node("Reshape", [previous, "shape"], ["Y"]))
    head = onnx.GraphProto(node=nodes, name="bench")
    tail = onnx.GraphProto(
        initializer=[helper.make_tensor("shape", TensorProto.INT64, [3], [-1, 32, 32])],
        input=[helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", _DIM])],
        output=[helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
    )
    head_bytes, tail_bytes = head.SerializeToString(), tail.SerializeToString()
    initializers = []
    for i in range(layers):
        meta = onnx.TensorProto(name=f"W{i}", dims=[_DIM, _DIM], data_type=TensorProto.FLOAT)
        tensor_head = meta.SerializeToString() + _field(9, _LAYER_BYTES)  # raw_data
        initializers.append(_field(5, len(tensor_head) + _LAYER_BYTES) + tensor_head)
    graph_len = len(head_bytes) + len(tail_bytes)
    graph_len += sum(len(h) + _LAYER_BYTES for h in initializers)
    model = helper.make_model(onnx.GraphProto(), opset_imports=[helper.make_opsetid("", 17)])
    model.ClearField("graph")
    rng = np.random.default_rng(0)
    # Small random weights keep onnxruntime's float checks quiet; one block is reused.
    block = (rng.standard_normal(_DIM * _DIM // 4, dtype=np.float32) * 0.01).tobytes()
    with open(path, "wb") as out:
        out.write(model.SerializeToString())
        out.write(_field(7, graph_len))
        out.write(head_bytes)
        for tensor_head in initializers:
            out.write(tensor_head)
            for _ in range(4):
                out.write(block)
        out.write(tail_bytes)
    return layers


_CHILD = r"""
import hashlib, json, resource, sys, time
from pathlib import Path
mode, path = sys.argv[1], Path(sys.argv[2])
if mode in ("inspect", "inspect-no-hash", "baseline"):
    from hubtools.inspect.facts import inspect_file
elif mode == "onnx.load":
    import onnx
elif mode == "onnxruntime":
    import onnxruntime
start = time.perf_counter()
if mode == "inspect":
    inspect_file(path)
elif mode == "inspect-no-hash":
    inspect_file(path, hash=False)
elif mode == "hashlib":
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    h.hexdigest()
elif mode == "onnx.load":
    onnx.load(str(path))
elif mode == "onnxruntime":
    onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
seconds = time.perf_counter() - start
# VmHWM starts afresh at exec; ru_maxrss may keep the forking parent's peak.
try:
    status = Path("/proc/self/status").read_text()
    rss_kb = int(next(l for l in status.splitlines() if l.startswith("VmHWM:")).split()[1])
except (OSError, StopIteration):
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "rss_mb": rss_kb * 1024 / 1e6}))
"""


def measure(mode: str, path: Path, repeat: int) -> dict[str, float]:
    """Best time (and its peak RSS) of ``repeat`` fresh subprocesses running ``mode``."""
    best: dict[str, float] | None = None
    for _ in range(repeat):
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, mode, str(path)],
            check=True,
            capture_output=True,
            text=True,
        )
        result = json.loads(done.stdout.strip().splitlines()[-1])
        if best is None or result["seconds"] < best["seconds"]:
            best = result
    assert best is not None
    return best


def main() -> None:
    """Build the models, measure, print a Markdown table and the target ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10,100,500,1500", help="model sizes in MB")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the fast measurements")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    print("| model | measurement | seconds | peak RSS MB |")
    print("|---|---|---|---|")
    ratios = []
    with tempfile.TemporaryDirectory(prefix="bench_inspect_") as tmp:
        for size in sizes:
            path = Path(tmp) / f"model_{size}mb.onnx"
            write_model(path, size * MB)
            label = f"{path.stat().st_size / MB:.0f} MB"
            results = {}
            for mode, repeat in (
                ("baseline", 1),
                ("hashlib", args.repeat),
                ("inspect", args.repeat),
                ("inspect-no-hash", args.repeat),
                ("onnx.load", 1),
                ("onnxruntime", 1),
            ):
                results[mode] = measure(mode, path, repeat)
                r = results[mode]
                print(f"| {label} | {mode} | {r['seconds']:.4f} | {r['rss_mb']:.0f} |", flush=True)
            ratios.append(
                (
                    label,
                    results["inspect-no-hash"]["seconds"] / results["onnx.load"]["seconds"],
                    results["inspect-no-hash"]["rss_mb"],
                    results["inspect"]["seconds"] / results["hashlib"]["seconds"],
                )
            )
            path.unlink()
    print()
    print(
        "| model | header-only / onnx.load (target <= 0.01) | header-only peak RSS MB "
        "(target < 100) | inspect+hash / hashlib (target <= 1.15) |"
    )
    print("|---|---|---|---|")
    for label, load_ratio, rss, hash_ratio in ratios:
        print(f"| {label} | {load_ratio:.4f} | {rss:.0f} | {hash_ratio:.3f} |")
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6
    print(f"\n(benchmark driver's own peak RSS: {own:.0f} MB)")


if __name__ == "__main__":
    main()
