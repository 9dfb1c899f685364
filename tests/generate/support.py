"""Shared helpers of the generator tests: real tiny ONNX models, Git LFS
pointers, and a small zoo in the README-table layout written to disk."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import git
from onnx import TensorProto, helper

from tests.client_support import pack

__all__ = ["NET", "TOP", "make_zoo", "model_bytes", "pointer", "sha", "zip_of", "zoo_files"]


def model_bytes(opset: int, name: str = "x") -> bytes:
    """A real two-node ONNX model."""
    graph = helper.make_graph(
        [helper.make_node("Relu", [name], ["r"]), helper.make_node("Neg", ["r"], ["y"])],
        f"g{opset}",
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 7
    return bytes(model.SerializeToString())


def pointer(data: bytes) -> bytes:
    oid = hashlib.sha256(data).hexdigest()
    return (
        f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {len(data)}\n".encode()
    )


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


TOP = """\
# Zoo

|Model Class |Reference |Description |
|-|-|-|
|<b>[Net](validated/vision/classification/my_net)</b>|[p](https://example.org)|d|
|Plain text class|[p](https://example.org)|d <br>[contribute](contribute.md)|
"""

NET = """\
# Net

|Model|Download|Download (with sample test data)| ONNX version |Opset Version|Top-1|
|-----|:-------|:-------------------------------|:-------------|:------------|:----|
|Net|[1 kB](model/net-7.onnx)|[1 kB](model/net-7.tar.gz) |1.2  |7 |1.1% |
|[Net-12](https://example.org/card)|[1 kB](model/net-12.onnx)|[1 kB](model/net-12.tar.gz)|1.9|12
|Net-pre|[1 kB](../my_net/preproc/pre-18.onnx)|[1 kB](preproc/pre-18.tar.gz)|1.13.1|18|
> Footnote | that | looks | like | a | row |
"""


def make_zoo(root: Path, files: dict[str, bytes | str], *, commit: bool = True) -> git.Repo | None:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
    if not commit:
        return None
    repo = git.Repo.init(root)
    repo.git.add("-A")
    repo.index.commit("zoo")
    return repo


def zoo_files() -> dict[str, bytes | str]:
    base = "validated/vision/classification/my_net"
    return {
        "README.md": TOP,
        f"{base}/README.md": NET,
        f"{base}/model/net-7.onnx": pointer(model_bytes(7)),
        f"{base}/model/net-7.tar.gz": pointer(b"bundle-7"),
        f"{base}/model/net-12.onnx": pointer(model_bytes(12)),
        f"{base}/model/net-12.tar.gz": pointer(b"bundle-12"),
        f"{base}/preproc/pre-18.onnx": pointer(model_bytes(18)),
        f"{base}/preproc/pre-18.tar.gz": pointer(b"bundle-18"),
    }


def zip_of(folder: str, members: dict[str, bytes]) -> bytes:
    """A zip of ``members`` (names relative to ``folder``, the zip's one top folder)."""
    with tempfile.TemporaryDirectory() as temp:
        for name, data in members.items():
            path = Path(temp, folder, name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        return pack(Path(temp, folder), "zip")
