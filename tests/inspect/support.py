"""Helpers shared by the tests of hubtools.inspect: building, saving and describing models."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from hubtools.core.manifest import Dim, JSONValue

OPSET = 17


def tensor(name: str, elem: int, shape: Sequence[Dim | int] | None) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem, shape)


def model_of(
    nodes: list[onnx.NodeProto],
    inputs: list[onnx.ValueInfoProto],
    outputs: list[onnx.ValueInfoProto],
    initializers: Sequence[onnx.TensorProto] = (),
    opsets: Sequence[tuple[str, int]] = (("", OPSET),),
    ir_version: int | None = None,
) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets])
    if ir_version is not None:
        model.ir_version = ir_version
    return model


def save(model: onnx.ModelProto, path: Path) -> Path:
    path.write_bytes(model.SerializeToString())
    return path


def ports(
    inputs: Sequence[tuple[str, Sequence[Dim], str]],
    outputs: Sequence[tuple[str, Sequence[Dim], str]],
) -> JSONValue:
    return {
        "inputs": [{"name": n, "shape": list(s), "type": t} for n, s, t in inputs],
        "outputs": [{"name": n, "shape": list(s), "type": t} for n, s, t in outputs],
    }


def big_model(path: Path, weight_bytes: int) -> onnx.ModelProto:
    rng = np.random.default_rng(1)
    weight = rng.standard_normal(weight_bytes // 4, dtype=np.float32).reshape(-1, 256)
    model = model_of(
        [helper.make_node("MatMul", ["X", "W"], ["Y"])],
        [tensor("X", TensorProto.FLOAT, ["N", weight.shape[0]])],
        [tensor("Y", TensorProto.FLOAT, None)],
        [onnx.numpy_helper.from_array(weight, "W")],
    )
    save(model, path)
    return model
