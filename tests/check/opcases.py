"""The onnx wheel's operator test cases (``onnx.backend.test.case.node``) written
out as a hub: ``node/<case>/model.onnx`` with its ``test_data_set_*`` folders,
the layout ``backend-test-tools generate-data`` writes, plus a manifest listing
them, so ``hubtools check-models`` can run on them. Generated at test time
(never committed): about 1,900 cases in a few seconds."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import onnx
from onnx import TensorProto, numpy_helper


def _proto(value: Any, value_info: onnx.ValueInfoProto) -> bytes:
    kind = value_info.type.WhichOneof("value")
    name = value_info.name
    if kind == "map_type":
        return numpy_helper.from_dict(value, name).SerializeToString()
    if kind == "sequence_type":
        return numpy_helper.from_list(value, name).SerializeToString()
    if kind == "optional_type":
        return numpy_helper.from_optional(value, name).SerializeToString()
    if isinstance(value, TensorProto):
        return value.SerializeToString()
    return numpy_helper.from_array(value, name).SerializeToString()


def collect(names: set[str] | None = None) -> list[Any]:
    """The node test cases (all, or those named)."""
    from onnx.backend.test.case import node

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the case generators divide by zero on purpose
        cases = node.collect_testcases()
    return [c for c in cases if names is None or c.name in names]


def write_hub(root: Path, cases: list[Any]) -> list[str]:
    """Write ``cases`` under ``root`` with a manifest; the model paths, in order."""
    entries = []
    for case in cases:
        folder = root / "node" / case.name
        folder.mkdir(parents=True, exist_ok=True)
        model = case.model
        (folder / "model.onnx").write_bytes(model.SerializeToString())
        graph = model.graph
        initializers = {t.name for t in graph.initializer}
        inputs = [v for v in graph.input if v.name not in initializers]
        for i, (feeds, expected) in enumerate(case.data_sets):
            data = folder / f"test_data_set_{i}"
            data.mkdir(exist_ok=True)
            for j, value in enumerate(feeds):
                (data / f"input_{j}.pb").write_bytes(_proto(value, inputs[j]))
            for j, value in enumerate(expected):
                (data / f"output_{j}.pb").write_bytes(_proto(value, graph.output[j]))
        opset = max(
            (o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=1
        )
        entries.append(
            {
                "model": case.name,
                "model_path": f"node/{case.name}/model.onnx",
                "onnx_version": onnx.__version__,
                "opset_version": opset,
                "metadata": {"tags": ["operator"]},
            }
        )
    entries.sort(key=lambda e: e["model_path"])
    (root / "ONNX_HUB_MANIFEST.json").write_text(json.dumps(entries, indent=4))
    rules = [
        f'[[check-models.tolerance]]\npath = "node/{c.name}/*"\n'
        f"rtol = {c.rtol!r}\natol = {c.atol!r}\n"
        for c in cases
        if (c.rtol, c.atol) != (1e-3, 1e-7)
    ]
    (root / "hubtools.toml").write_text("\n".join(rules))
    return [e["model_path"] for e in entries]
