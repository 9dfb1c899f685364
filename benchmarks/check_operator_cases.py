"""Run ``hubtools check-models`` on every operator test case of the installed onnx
wheel, and establish for each ``fail`` or ``error`` whether onnxruntime itself
fails on it.

    python benchmarks/check_operator_cases.py [--jobs N] [--limit N]

The cases (``onnx.backend.test.case.node``, about 1,900) are written to a
temporary folder as a hub (``node/<case>/model.onnx`` and its
``test_data_set_*``, with a manifest), checked by one whole ``hubtools
check-models --format json`` process, and removed afterwards.

The oracle for a fail or error verdict does not use hubtools: it loads the
test data with onnx's own backend test runner (``Runner._load_proto``, the
loader of ``onnx.backend.test``), runs the model with ``onnxruntime.backend``
(the onnx backend API onnxruntime ships), and compares with onnx's
``Runner.assert_similar_outputs`` at the case's own tolerances. When that also
raises, onnxruntime itself fails the case; when it passes, hubtools disagrees
with onnx's runner, and the case is listed.
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.check.opcases import collect, write_hub  # noqa: E402


def _oracle(case: Any) -> str | None:
    """None when onnxruntime, driven by onnx's own runner code, passes the case;
    else the first line of why it does not."""
    import onnx
    import onnxruntime
    import onnxruntime.backend as backend
    from onnx.backend.test.runner import Runner

    onnxruntime.set_default_logger_severity(4)  # its verdict is the exception, not the log
    model = case.model
    initializers = {t.name for t in model.graph.initializer}
    inputs = [v for v in model.graph.input if v.name not in initializers]
    try:
        prepared = backend.prepare(model, device="CPU")
        for feeds, expected in case.data_sets:
            # Round-trip through .pb files as the runner reads them.
            loaded: list[Any] = []
            with tempfile.TemporaryDirectory() as temp:
                for j, value in enumerate(feeds):
                    path = Path(temp) / f"input_{j}.pb"
                    path.write_bytes(_serialize(value, inputs[j]))
                    Runner._load_proto(None, str(path), loaded, inputs[j].type)  # type: ignore[arg-type]
            outputs = list(prepared.run(loaded))
            Runner.assert_similar_outputs(list(expected), outputs, case.rtol, case.atol)
    except Exception as err:  # onnxruntime and numpy raise many types here
        text = str(err).strip().splitlines()
        return (text[0] if text else type(err).__name__)[:160]
    del onnx
    return None


def _serialize(value: Any, info: Any) -> bytes:
    from tests.check.opcases import _proto

    return _proto(value, info)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--limit", type=int, default=0, help="only the first N cases")
    args = parser.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = collect()
    if args.limit:
        cases = cases[: args.limit]
    by_name = {c.name: c for c in cases}
    with tempfile.TemporaryDirectory(prefix="hubtools-opcases-") as temp:
        started = time.monotonic()
        write_hub(Path(temp), cases)
        written = time.monotonic() - started
        started = time.monotonic()
        command = [sys.executable, "-m", "hubtools", "check-models", temp, "--format", "json"]
        run = subprocess.run(
            [*command, "--jobs", str(args.jobs), "--timeout", "120"],
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.monotonic() - started
    report = json.loads(run.stdout)
    verdicts = report["models"]
    counts = collections.Counter(v["status"] for v in verdicts)
    print(f"onnx {_version('onnx')}, onnxruntime {_version('onnxruntime')}")
    print(f"{len(cases)} operator cases written in {written:.1f} s, checked in {seconds:.1f} s")
    print("verdicts: " + ", ".join(f"{counts[s]} {s}" for s in ("pass", "fail", "error", "skip")))
    agreed: collections.Counter[str] = collections.Counter()
    disagreed = []
    for verdict in verdicts:
        if verdict["status"] not in ("fail", "error"):
            continue
        why = _oracle(by_name[verdict["model"]])
        if why is None:
            disagreed.append(verdict)
        else:
            agreed[verdict["status"]] += 1
    for status in ("fail", "error"):
        print(
            f"{status}: {counts[status]}, onnxruntime itself fails {agreed[status]} of them "
            f"(onnx's runner code with onnxruntime.backend)"
        )
    for verdict in disagreed:
        print(f"  hubtools alone: {verdict['model']}: {verdict['status']}: {verdict['reason']}")
    return 0


def _version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


if __name__ == "__main__":
    raise SystemExit(main())
