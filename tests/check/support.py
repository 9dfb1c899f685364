"""Zoo-style hubs for ``check-models``, built in ``tmp_path``: real models made
with ``onnx.helper``, ``.tar.gz`` bundles holding ``model/model.onnx`` and
``test_data_set_0``, and a manifest describing them."""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from tests.client_support import LFS_POINTER, sha256

X = np.array([[1.0, 2.0, 3.0, 4.0]], dtype=np.float32)
BIAS = np.array([[0.5, -1.0, 2.0, 0.25]], dtype=np.float32)
PORTS = {
    "inputs": [{"name": "x", "shape": [1, 4], "type": "tensor(float)"}],
    "outputs": [{"name": "y", "shape": [1, 4], "type": "tensor(float)"}],
}


def add_model(opset: int = 13) -> onnx.ModelProto:
    """``y = x + bias`` with a [1, 4] float input."""
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "bias"], ["y"])],
        "add",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        initializer=[numpy_helper.from_array(BIAS, "bias")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def broken_model() -> onnx.ModelProto:
    """A model onnx.checker refuses: a node reads a value nothing defines."""
    model = add_model()
    model.graph.node[0].input[1] = "nowhere"
    del model.graph.initializer[:]
    return model


def endless_model() -> onnx.ModelProto:
    """A Loop that runs for a very long time (for --timeout)."""
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("Add", ["acc_in", "acc_in"], ["acc_out"]),
        ],
        "body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("acc_in", TensorProto.FLOAT, [1, 4]),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("acc_out", TensorProto.FLOAT, [1, 4]),
        ],
    )
    graph = helper.make_graph(
        [helper.make_node("Loop", ["trips", "cond", "x"], ["y"], body=body)],
        "endless",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        initializer=[
            numpy_helper.from_array(np.array(10**15, dtype=np.int64), "trips"),
            numpy_helper.from_array(np.array(True), "cond"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


def tar_gz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def bundle(model: onnx.ModelProto, expected: np.ndarray | None = None) -> bytes:
    """A zoo bundle: ``model/model.onnx`` and ``model/test_data_set_0`` for ``X``."""
    out = X + BIAS if expected is None else expected
    return tar_gz(
        {
            "model/model.onnx": model.SerializeToString(),
            "model/test_data_set_0/input_0.pb": numpy_helper.from_array(X, "x").SerializeToString(),
            "model/test_data_set_0/output_0.pb": numpy_helper.from_array(
                out, "y"
            ).SerializeToString(),
        }
    )


@dataclass
class Hub:
    """A hub folder being built: files and manifest entries."""

    root: Path
    entries: list[dict[str, object]] = field(default_factory=list)

    def add(
        self,
        name: str,
        model: bytes,
        data: bytes | None = None,
        *,
        folder: str = "models",
        ports: dict[str, object] | None = PORTS,
        pointer: bool = False,
    ) -> str:
        """Add a model (and its bundle); returns its model_path."""
        path = f"{folder}/{name}.onnx"
        full = self.root / path
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_bytes(
            LFS_POINTER.format(sha=sha256(model), size=len(model)).encode() if pointer else model
        )
        metadata: dict[str, object] = {
            "model_sha": sha256(model),
            "model_bytes": len(model),
            "tags": [folder],
        }
        if ports is not None:
            metadata["io_ports"] = ports
        if data is not None:
            (self.root / f"{folder}/{name}.tar.gz").write_bytes(data)
            metadata["model_with_data_path"] = f"{folder}/{name}.tar.gz"
            metadata["model_with_data_sha"] = sha256(data)
            metadata["model_with_data_bytes"] = len(data)
        self.entries.append(
            {
                "model": name,
                "model_path": path,
                "onnx_version": "1.14",
                "opset_version": 13,
                "metadata": metadata,
            }
        )
        return path

    def write(self) -> Path:
        entries = sorted(self.entries, key=lambda e: str(e["model_path"]))
        (self.root / "ONNX_HUB_MANIFEST.json").write_text(json.dumps(entries, indent=4))
        return self.root
