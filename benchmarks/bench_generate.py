"""Benchmark ``hubtools generate`` against a plain hashlib pass over the same files.

    python benchmarks/bench_generate.py [--models 30] [--mb 40] [--repeat 3]

Builds a synthetic zoo in a temporary folder (deleted afterwards): a top README
linking one model folder per model, each with a README table, a real ONNX model
holding one large initializer (``--mb`` MB of random bytes) and a
``.tar.gz`` test-data bundle of 2/3 its size, which generate reads twice: once
to judge it by the archive policy the client extracts with, once to hash it.
Then, each in its own process so that peak RSS is its own:

* the floor: a plain Python ``hashlib.sha256`` pass over every model and bundle;
* ``hubtools generate ZOO`` and ``hubtools generate ZOO --jobs 2``.

The page cache is warmed first so every run reads from memory, hubtools is
byte-compiled first as ``pip install`` would, and the three commands run in
turn ``--repeat`` times (best of each), so a drift in the machine's speed
hits them alike. Also times a generate run over the real zoo snapshot in
../shared when it is there.
Targets: wall <= 1.2x the floor, <= 0.7x with --jobs 2, RSS <= 150 MB,
real zoo < 2 s.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REAL_ZOO = Path(__file__).resolve().parents[2] / "shared" / "data" / "onnx-models-b1eeaa1a"

FLOOR = """
import hashlib, sys
for path in sys.argv[1:]:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
"""


def data_bundle(tensor: bytes) -> bytes:
    """A test-data bundle as a zoo has one: a ``.tar.gz`` holding
    ``test_data_set_0/input_0.pb`` (random bytes barely compress, as float
    tensors barely do; gzip level 1 keeps the build quick)."""
    import gzip
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("test_data_set_0/input_0.pb")
        info.size = len(tensor)
        tar.addfile(info, io.BytesIO(tensor))
    return gzip.compress(buf.getvalue(), compresslevel=1, mtime=0)


def build_zoo(root: Path, models: int, megabytes: int) -> list[Path]:
    """Write the synthetic zoo; return the files a generate run reads.

    Each bundle is 2/3 of its model's size, about the real zoo's ratio.
    """
    # Imported here so that the measuring process stays small: a child's peak
    # RSS starts from its parent's at fork.
    import numpy as np
    from onnx import TensorProto, helper

    rng = np.random.default_rng(0)
    files: list[Path] = []
    rows = []
    for i in range(models):
        folder = root / "validated" / "vision" / "classification" / f"net_{i:02d}"
        (folder / "model").mkdir(parents=True)
        count = megabytes * (1 << 20) // 4
        weights = helper.make_tensor(
            "w", TensorProto.FLOAT, [count], rng.bytes(count * 4), raw=True
        )
        graph = helper.make_graph(
            [
                helper.make_node("Add", ["x", "w"], ["s"]),
                helper.make_node("Relu", ["s"], ["y"]),
            ],
            f"net_{i}",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [count])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [count])],
            [weights],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        model.ir_version = 7
        onnx_path = folder / "model" / f"net-{i}-13.onnx"
        onnx_path.write_bytes(model.SerializeToString())
        del model, graph, weights
        bundle = folder / "model" / f"net-{i}-13.tar.gz"
        bundle.write_bytes(data_bundle(rng.bytes(megabytes * (1 << 20) * 2 // 3)))
        files += [onnx_path, bundle]
        (folder / "README.md").write_text(
            "|Model|Download|Download (with sample test data)|ONNX version|Opset version|\n"
            "|-|-|-|-|-|\n"
            f"|Net {i}|[{megabytes} MB](model/{onnx_path.name})|[1 MB](model/{bundle.name})"
            "|1.14|13|\n"
        )
        rows.append(f"|<b>[Net {i}](validated/vision/classification/net_{i:02d})</b>|p|d|\n")
    (root / "README.md").write_text(
        "|Model Class|Reference|Description|\n|-|-|-|\n" + "".join(rows)
    )
    return files


def measure(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one child process."""
    # stderr goes to a file, not a pipe: a pipe nobody reads until the end
    # blocks a child that writes more than the pipe holds.
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{stderr}")
    return wall, usage.ru_maxrss / 1024


def best(argv: list[str], repeat: int) -> tuple[float, float]:
    runs = [measure(argv) for _ in range(repeat)]
    return min(r[0] for r in runs), max(r[1] for r in runs)


def best_interleaved(argvs: list[list[str]], repeat: int) -> list[tuple[float, float]]:
    """:func:`best` of each command, running them in turn ``repeat`` times."""
    runs: list[list[tuple[float, float]]] = [[] for _ in argvs]
    for _ in range(repeat):
        for argv, mine in zip(argvs, runs, strict=True):
            mine.append(measure(argv))
    return [(min(r[0] for r in mine), max(r[1] for r in mine)) for mine in runs]


def row(what: str, wall: float, ratio: str, rss: float, target: str) -> None:
    """Print one result line."""
    print(f"{what:38} {wall:6.2f} s  {ratio:20}  RSS {rss:5.0f} MB  {target}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=30)
    parser.add_argument("--mb", type=int, default=40, help="initializer size per model")
    parser.add_argument("--build", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.build is not None:
        files = build_zoo(args.build, args.models, args.mb)
        print("\n".join(str(f) for f in files))
        return
    hubtools = [sys.executable, "-m", "hubtools"]
    # Byte-compile hubtools as `pip install` does: with PYTHONDONTWRITEBYTECODE
    # set (as on some CI machines) an editable install would otherwise compile
    # its sources again in every measured run.
    spec = importlib.util.find_spec("hubtools")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("hubtools is not installed: pip install -e .")
    package = spec.submodule_search_locations[0]
    subprocess.run([sys.executable, "-m", "compileall", "-q", package], check=True)
    with tempfile.TemporaryDirectory(prefix="bench-generate-") as tmp:
        zoo = Path(tmp) / "zoo"
        t0 = time.perf_counter()
        sizes = ["--models", str(args.models), "--mb", str(args.mb)]
        built = subprocess.run(
            [sys.executable, __file__, "--build", str(zoo), *sizes],
            check=True,
            capture_output=True,
            text=True,
        )
        files = [Path(line) for line in built.stdout.splitlines()]
        total = sum(f.stat().st_size for f in files)
        print(
            f"synthetic zoo: {args.models} models, {total / 1e9:.2f} GB, "
            f"built in {time.perf_counter() - t0:.1f} s"
        )
        names = [str(f) for f in files]
        measure([sys.executable, "-c", FLOOR, *names])  # warm the page cache
        out = str(Path(tmp) / "out.json")
        # Interleaved rounds, so that a drift in this VM's speed hits every
        # command alike instead of skewing the ratios.
        (floor, floor_rss), (one, one_rss), (two, two_rss) = best_interleaved(
            [
                [sys.executable, "-c", FLOOR, *names],
                [*hubtools, "generate", str(zoo), "-o", out],
                [*hubtools, "generate", str(zoo), "-o", out, "--jobs", "2"],
            ],
            args.repeat,
        )
        written = json.loads(Path(out).read_text())
        whole = sum(1 for e in written if e["metadata"].get("model_with_data_sha"))
        if (len(written), whole) != (args.models, args.models):
            raise SystemExit(f"generate wrote {len(written)} entries, {whole} with a bundle")
        rate = total / floor / 1e9
        row("hashlib floor", floor, f"{rate:5.2f} GB/s", floor_rss, "")
        row("generate", one, f"{one / floor:5.2f}x floor", one_rss, "target <= 1.2x, <= 150 MB")
        row("generate --jobs 2", two, f"{two / floor:5.2f}x floor", two_rss, "target <= 0.7x")
    if (REAL_ZOO / "ONNX_HUB_MANIFEST.json").is_file():
        with tempfile.TemporaryDirectory(prefix="bench-realzoo-") as tmp:
            root = Path(tmp) / "zoo"
            shutil.copytree(REAL_ZOO, root)
            for folder, dirs, names_ in os.walk(root):
                for name in [*dirs, *names_]:
                    os.chmod(Path(folder) / name, 0o755)
            subprocess.run(["git", "init", "-q", str(root)], check=True)
            subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
            out = str(Path(tmp) / "out.json")
            official = str(root / "ONNX_HUB_MANIFEST.json")
            wall, rss = best(
                [*hubtools, "generate", str(root), "-o", out, "--previous", official], args.repeat
            )
            entries = len(json.loads(Path(out).read_text()))
            row(
                f"real zoo, both layouts ({entries} entries)",
                wall,
                "--previous official",
                rss,
                "target < 2 s (legacy), < 3 s (all)",
            )
    else:
        print(f"real zoo snapshot not found at {REAL_ZOO}; skipped")


if __name__ == "__main__":
    main()
