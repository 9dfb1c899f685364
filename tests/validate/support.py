"""Shared helpers of the validator tests: a real tiny ONNX model and manifest
entries that describe given bytes."""

from __future__ import annotations

import hashlib

from onnx import TensorProto, helper

__all__ = ["entry", "model_bytes"]


def model_bytes(opset: int = 13) -> bytes:
    node = helper.make_node("Relu", ["x"], ["y"])
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model.SerializeToString()


def entry(path: str, content: bytes, bundle: tuple[str, bytes] | None = None) -> dict[str, object]:
    md: dict[str, object] = {
        "model_sha": hashlib.sha256(content).hexdigest(),
        "model_bytes": len(content),
        "tags": ["t"],
        "io_ports": {
            "inputs": [{"name": "x", "shape": ["N", 4], "type": "tensor(float)"}],
            "outputs": [{"name": "y", "shape": [], "type": "tensor(float)"}],
        },
    }
    if bundle:
        md["model_with_data_path"] = bundle[0]
        md["model_with_data_sha"] = hashlib.sha256(bundle[1]).hexdigest()
        md["model_with_data_bytes"] = len(bundle[1])
    return {
        "model": path.split("/")[-1],
        "model_path": path,
        "onnx_version": "1.14",
        "opset_version": 13,
        "metadata": md,
    }
