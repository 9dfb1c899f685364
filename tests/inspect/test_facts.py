"""File facts: opsets, Git LFS pointers, external data, JSON, unreadable files."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from hubtools.core.manifest import IOPort
from hubtools.errors import FileReadError
from hubtools.inspect.facts import FileFacts, inspect_file
from tests.inspect.support import big_model, model_of, ports, save, tensor

# ---- opsets --------------------------------------------------------------


@pytest.mark.parametrize(
    ("opsets", "version"),
    [
        ([("", 13)], 13),
        ([("ai.onnx", 15)], 15),
        ([("com.microsoft", 1), ("", 17)], 17),
        ([("ai.onnx.ml", 3)], None),
    ],
)
def test_default_opset(tmp_path: Path, opsets: list[tuple[str, int]], version: int | None) -> None:
    model = model_of(
        [], [tensor("X", TensorProto.FLOAT, [1])], [tensor("X", TensorProto.FLOAT, [1])]
    )
    del model.opset_import[:]
    model.opset_import.extend(helper.make_opsetid(d, v) for d, v in opsets)
    facts = inspect_file(save(model, tmp_path / "m.onnx"))
    assert (facts.opset_import, facts.opset_version) == (tuple(opsets), version)


# ---- pointers, external data, JSON ---------------------------------------


def test_lfs_pointer_gives_sha_and_size_but_no_ports(tmp_path: Path) -> None:
    oid = "ab" * 32
    path = tmp_path / "model.onnx"
    path.write_text(f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize 99\n")
    expected = FileFacts(
        path=path,
        model_sha=oid,
        model_bytes=99,
        lfs_pointer=True,
        ir_version=None,
        opset_import=(),
        opset_version=None,
        io_ports=None,
    )
    assert inspect_file(path) == expected
    assert inspect_file(path, hash=False) == expected


def test_external_data_is_reported_not_loaded(tmp_path: Path) -> None:
    model = big_model(tmp_path / "tmp.onnx", 1 << 16)
    onnx.save(
        model,
        tmp_path / "model.onnx",
        save_as_external_data=True,
        location="w.bin",
        size_threshold=0,
    )
    (tmp_path / "w.bin").unlink()  # never opened
    facts = inspect_file(tmp_path / "model.onnx")
    assert (facts.external_data, facts.problems) == (("w.bin",), ())
    assert facts.io_ports is not None
    assert facts.io_ports.outputs == (IOPort("Y", ("N", 256), "tensor(float)"),)


@pytest.mark.parametrize(
    "location", ["../w.bin", "/etc/passwd", "a/../../w.bin", "..\\w.bin", "C:/w.bin"]
)
def test_external_data_escaping_the_folder_is_a_problem(tmp_path: Path, location: str) -> None:
    model = big_model(tmp_path / "model.onnx", 1 << 12)
    weight = model.graph.initializer[0]
    weight.ClearField("raw_data")
    weight.data_location = TensorProto.EXTERNAL
    weight.external_data.add(key="location", value=location)
    facts = inspect_file(save(model, tmp_path / "model.onnx"))
    assert facts.external_data == (location,)
    assert facts.problems == (
        f"external data location {location!r} of tensor 'W' escapes the model's folder",
    )


def test_to_json(tmp_path: Path) -> None:
    model = model_of(
        [helper.make_node("Relu", ["X"], ["Y"])],
        [tensor("X", TensorProto.FLOAT, ["N", 3])],
        [tensor("Y", TensorProto.FLOAT, None)],
        opsets=[("", 17), ("com.microsoft", 1)],
        ir_version=8,
    )
    path = save(model, tmp_path / "m.onnx")
    assert inspect_file(path, hash=False).to_json() == {
        "model_sha": None,
        "model_bytes": path.stat().st_size,
        "opset_version": 17,
        "io_ports": ports([("X", ["N", 3], "tensor(float)")], [("Y", ["N", 3], "tensor(float)")]),
        "ir_version": 8,
        "opset_import": [{"domain": "", "version": 17}, {"domain": "com.microsoft", "version": 1}],
        "lfs_pointer": False,
        "external_data": [],
        "problems": [],
    }


# ---- unreadable ----------------------------------------------------------


def test_unreadable(tmp_path: Path) -> None:
    with pytest.raises(FileReadError, match="No such file"):
        inspect_file(tmp_path / "missing.onnx")
    with pytest.raises(FileReadError, match=r"not a regular file|Is a directory"):
        inspect_file(tmp_path)


def test_a_graph_too_large_to_infer_within_the_memory_bound_keeps_its_declared_outputs(
    tmp_path: Path,
) -> None:
    """A 1M-node graph (26 MB) took 1.9 GB in shape inference; the bound is on memory."""
    from onnx import TensorProto, helper

    n = 3000
    nodes = [helper.make_node("Relu", [f"t{i}"], [f"t{i + 1}"]) for i in range(n)]
    graph = helper.make_graph(
        nodes,
        "chain",
        [helper.make_tensor_value_info("t0", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info(f"t{n}", TensorProto.FLOAT, None)],
    )
    path = tmp_path / "chain.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    inferred = inspect_file(path)
    assert inferred.problems == ()
    assert inferred.io_ports is not None
    assert inferred.io_ports.outputs[0].shape == (1, 4)
    bounded = inspect_file(path, max_memory=1 << 20)
    assert bounded.io_ports is not None
    assert bounded.io_ports.outputs[0].shape == ()  # declared without a shape
    assert len(bounded.problems) == 1
    assert bounded.problems[0].startswith("the graph is 0.1 MB without its weights: inferring")
    assert bounded.problems[0].endswith(
        "over the 1 MiB bound, so io_ports outputs are the declared ones"
    )
