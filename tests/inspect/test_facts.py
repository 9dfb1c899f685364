"""The file-facts engine: io_ports against onnxruntime, streaming, pointers, bad input."""

from __future__ import annotations

import hashlib
import os
import random
import tempfile
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper

from hubtools.core.manifest import Dim, IOPort, IOPorts, JSONValue
from hubtools.errors import FileReadError, InvalidModelError
from hubtools.inspect.facts import (
    MAX_DEPTH,
    SMALL_TENSOR_BYTES,
    FileFacts,
    inspect_file,
    io_ports_of,
)

ort.set_default_logger_severity(3)
BACKEND_DATA = Path(onnx.__file__).parent / "backend" / "test" / "data"
BACKEND_MODELS = sorted(BACKEND_DATA.rglob("*.onnx"))
OPSET = 17

# ---- helpers -------------------------------------------------------------


def ort_ports(path: Path) -> JSONValue:
    """io_ports exactly as onnxruntime reports them."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return {
        "inputs": [
            {"name": p.name, "shape": list(p.shape), "type": p.type} for p in session.get_inputs()
        ],
        "outputs": [
            {"name": p.name, "shape": list(p.shape), "type": p.type} for p in session.get_outputs()
        ],
    }


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


def check(
    model: onnx.ModelProto, tmp_path: Path, expected: JSONValue, *, oracle: bool = True
) -> FileFacts:
    """inspect gives ``expected`` io_ports, as does onnxruntime (when ``oracle``)."""
    path = save(model, tmp_path / "model.onnx")
    facts = inspect_file(path)
    assert facts.io_ports is not None
    assert facts.io_ports.to_json() == expected
    assert io_ports_of(model).to_json() == expected
    if oracle:
        assert ort_ports(path) == expected
    return facts


# ---- the onnx wheel's models vs onnxruntime ------------------------------


def test_backend_models_are_there() -> None:
    assert len(BACKEND_MODELS) > 100


@pytest.mark.parametrize("path", BACKEND_MODELS, ids=lambda p: str(p.relative_to(BACKEND_DATA)))
def test_backend_model_matches_onnxruntime(path: Path) -> None:
    facts = inspect_file(path)
    data = path.read_bytes()
    assert (facts.model_sha, facts.model_bytes) == (hashlib.sha256(data).hexdigest(), len(data))
    model = onnx.load_from_string(data)
    assert facts.ir_version == model.ir_version
    assert facts.opset_import == tuple((o.domain, o.version) for o in model.opset_import)
    assert facts.io_ports == io_ports_of(model)
    assert facts.external_data == ()
    assert inspect_file(path, hash=False).io_ports == facts.io_ports
    try:
        expected = ort_ports(path)
    except Exception:  # onnxruntime cannot load this one: nothing to compare with
        return
    assert facts.io_ports is not None
    assert facts.io_ports.to_json() == expected


# ---- each rule, on models built with onnx.helper -------------------------


@pytest.mark.parametrize("ir_version", [3, 4, 8, 10])
def test_initializers_are_not_inputs(tmp_path: Path, ir_version: int) -> None:
    weight = helper.make_tensor("W", TensorProto.FLOAT, [2, 3], np.ones(6, np.float32))
    model = model_of(
        [helper.make_node("Add", ["X", "W"], ["Y"])],
        [tensor("X", TensorProto.FLOAT, ["N", 3]), tensor("W", TensorProto.FLOAT, [2, 3])],
        [tensor("Y", TensorProto.FLOAT, None)],
        [weight],
        opsets=[("", 8)],
        ir_version=ir_version,
    )
    expected = ports([("X", ["N", 3], "tensor(float)")], [("Y", [2, 3], "tensor(float)")])
    check(model, tmp_path, expected)


def test_sparse_initializers_are_not_inputs() -> None:
    values = helper.make_tensor("S", TensorProto.FLOAT, [1], [1.0])
    indices = helper.make_tensor("S_idx", TensorProto.INT64, [1], [0])
    model = model_of(
        [helper.make_node("Identity", ["X"], ["Y"])],
        [tensor("X", TensorProto.FLOAT, [2]), tensor("S", TensorProto.FLOAT, [4])],
        [tensor("Y", TensorProto.FLOAT, [2])],
    )
    model.graph.sparse_initializer.append(helper.make_sparse_tensor(values, indices, [4]))
    assert io_ports_of(model).to_json() == ports(
        [("X", [2], "tensor(float)")], [("Y", [2], "tensor(float)")]
    )


def test_dims(tmp_path: Path) -> None:
    x = tensor("X", TensorProto.FLOAT, [5, -1, "N", None, 0])
    x.type.tensor_type.shape.dim.add().dim_param = ""
    no_shape = onnx.ValueInfoProto(name="Z")
    no_shape.type.tensor_type.elem_type = TensorProto.FLOAT
    model = model_of(
        [helper.make_node("Identity", ["X"], ["Y"]), helper.make_node("Identity", ["Z"], ["W"])],
        [x, no_shape],
        [tensor("Y", TensorProto.FLOAT, None), tensor("W", TensorProto.FLOAT, None)],
    )
    expected = ports(
        [("X", [5, None, "N", None, 0, None], "tensor(float)"), ("Z", [], "tensor(float)")],
        [("Y", [5, None, "N", None, 0, None], "tensor(float)"), ("W", [], "tensor(float)")],
    )
    check(model, tmp_path, expected)


ORT_ELEMENT_NAMES = {
    TensorProto.FLOAT: "float",
    TensorProto.UINT8: "uint8",
    TensorProto.INT8: "int8",
    TensorProto.UINT16: "uint16",
    TensorProto.INT16: "int16",
    TensorProto.INT32: "int32",
    TensorProto.INT64: "int64",
    TensorProto.STRING: "string",
    TensorProto.BOOL: "bool",
    TensorProto.FLOAT16: "float16",
    TensorProto.DOUBLE: "double",
    TensorProto.UINT32: "uint32",
    TensorProto.UINT64: "uint64",
    TensorProto.COMPLEX64: "complex64",
    TensorProto.COMPLEX128: "complex128",
    TensorProto.BFLOAT16: "bfloat16",
    TensorProto.FLOAT8E4M3FN: "float8e4m3fn",
    TensorProto.FLOAT8E4M3FNUZ: "float8e4m3fnuz",
    TensorProto.FLOAT8E5M2: "float8e5m2",
    TensorProto.FLOAT8E5M2FNUZ: "float8e5m2fnuz",
    TensorProto.UINT4: "uint4",
    TensorProto.INT4: "int4",
    TensorProto.FLOAT4E2M1: "float4e2m1",
    TensorProto.FLOAT8E8M0: "float8e8m0",
    TensorProto.UINT2: "uint2",
    TensorProto.INT2: "int2",
    # Newer than the list; onnxruntime spells every type in lower case.
    TensorProto.FLOAT6E2M3: "float6e2m3",
    TensorProto.FLOAT6E3M2: "float6e3m2",
}


def test_every_element_type_is_named() -> None:
    defined = set(TensorProto.DataType.values()) - {TensorProto.UNDEFINED}
    assert defined == set(ORT_ELEMENT_NAMES)


@pytest.mark.parametrize("elem", sorted(ORT_ELEMENT_NAMES), ids=ORT_ELEMENT_NAMES.get)
def test_element_type_names(tmp_path: Path, elem: int) -> None:
    model = model_of(
        [helper.make_node("Identity", ["X"], ["Y"])],
        [tensor("X", elem, [2])],
        [tensor("Y", elem, [2])],
        opsets=[("", 25)],
        ir_version=11,
    )
    name = f"tensor({ORT_ELEMENT_NAMES[elem]})"
    expected = ports([("X", [2], name)], [("Y", [2], name)])
    check(model, tmp_path, expected, oracle=False)
    try:
        reported = ort_ports(tmp_path / "model.onnx")
    except Exception:  # no Identity kernel for this type in this onnxruntime
        return
    assert reported == expected


def _composite(name: str, tp: onnx.TypeProto) -> onnx.ValueInfoProto:
    return helper.make_value_info(name, tp)


def test_composite_types(tmp_path: Path) -> None:
    f = TensorProto.FLOAT
    types = {
        "seq": helper.make_sequence_type_proto(helper.make_tensor_type_proto(f, [2])),
        "map": helper.make_map_type_proto(TensorProto.INT64, helper.make_tensor_type_proto(f, [1])),
        "seqmap": helper.make_sequence_type_proto(
            helper.make_map_type_proto(TensorProto.STRING, helper.make_tensor_type_proto(f, None))
        ),
        "optseq": helper.make_optional_type_proto(
            helper.make_sequence_type_proto(helper.make_tensor_type_proto(TensorProto.INT32, [3]))
        ),
        "opt": helper.make_optional_type_proto(helper.make_tensor_type_proto(f, ["B", 4])),
        "sparse": helper.make_sparse_tensor_type_proto(f, [3, "K"]),
    }
    names = list(types)
    # onnxruntime has no Identity for maps or sparse tensors: those are unused inputs.
    passed = ["seq", "optseq", "opt"]
    model = model_of(
        [helper.make_node("Identity", [n], [f"{n}_out"]) for n in passed],
        [_composite(n, t) for n, t in types.items()],
        [_composite(f"{n}_out", types[n]) for n in passed],
    )
    shapes_and_types: list[tuple[Sequence[Dim], str]] = [
        ([], "seq(tensor(float))"),
        ([], "map(int64,tensor(float))"),
        ([], "seq(map(string,tensor(float)))"),
        ([], "optional(seq(tensor(int32)))"),
        (["B", 4], "optional(tensor(float))"),
        ([3, "K"], "sparse_tensor(float)"),
    ]
    by_name = dict(zip(names, shapes_and_types, strict=True))
    expected = ports(
        [(n, *by_name[n]) for n in names],
        [(f"{n}_out", *by_name[n]) for n in passed],
    )
    check(model, tmp_path, expected)


@pytest.mark.parametrize(
    ("declared", "input_shape", "reported"),
    [
        # inferred param fills a null dim, never replaces a declared one
        ([None, None], ["N", 3], ["N", 3]),
        (["M", 3], ["N", 3], ["M", 3]),
        # an inferred value replaces a declared param and fills a null dim
        (["M", 3], [2, 3], [2, 3]),
        ([None, None], [2, 3], [2, 3]),
        # a declared value stays against an inferred param or unknown
        ([5, 3], ["N", 3], [5, 3]),
        ([5, 3], [None, 3], [5, 3]),
        # conflicting values: that dim becomes null, the others are unioned
        ([5, 3], [2, 3], [None, 3]),
        (["N", 4], ["N", 3], ["N", None]),
        (["N", 4], [None, 3], [None, None]),
        # a rank conflict clears the shape
        ([1, 2, 3], ["N", 3], []),
        # a negative declared dim is unknown
        ([-1, 3], [2, 3], [2, 3]),
        # no declared shape: the inferred one
        (None, ["N", 3], ["N", 3]),
    ],
)
def test_output_merge(
    tmp_path: Path, declared: list[Dim] | None, input_shape: list[Dim], reported: list[Dim]
) -> None:
    model = model_of(
        [helper.make_node("Relu", ["X"], ["Y"])],
        [tensor("X", TensorProto.FLOAT, input_shape)],
        [tensor("Y", TensorProto.FLOAT, declared)],
    )
    expected = ports([("X", input_shape, "tensor(float)")], [("Y", reported, "tensor(float)")])
    check(model, tmp_path, expected)


def test_missing_output_type_comes_from_inference(tmp_path: Path) -> None:
    model = model_of(
        [helper.make_node("Cast", ["X"], ["Y"], to=TensorProto.INT64)],
        [tensor("X", TensorProto.FLOAT, ["N", 3])],
        [onnx.ValueInfoProto(name="Y")],
    )
    expected = ports([("X", ["N", 3], "tensor(float)")], [("Y", ["N", 3], "tensor(int64)")])
    check(model, tmp_path, expected)


def test_invented_symbols_are_null_but_declared_ones_stay(tmp_path: Path) -> None:
    model = model_of(
        [
            helper.make_node("Shape", ["X"], ["S"]),
            helper.make_node("ConstantOfShape", ["S"], ["Y"]),
            helper.make_node("Identity", ["X"], ["Z"]),
        ],
        [tensor("X", TensorProto.FLOAT, ["unk__7", 3])],
        [onnx.ValueInfoProto(name="Y"), tensor("Z", TensorProto.FLOAT, None)],
    )
    expected = ports(
        [("X", ["unk__7", 3], "tensor(float)")],
        [("Y", [None, None], "tensor(float)"), ("Z", ["unk__7", 3], "tensor(float)")],
    )
    check(model, tmp_path, expected)


def test_small_initializer_values_feed_inference(tmp_path: Path) -> None:
    shape = helper.make_tensor("shape", TensorProto.INT64, [3], [-1, 4, 8])
    big = np.zeros(SMALL_TENSOR_BYTES, np.float32)  # 16 KiB: stripped, dims kept
    model = model_of(
        [
            helper.make_node("Reshape", ["X", "shape"], ["R"]),
            helper.make_node("Add", ["R", "B"], ["Y"]),
        ],
        [tensor("X", TensorProto.FLOAT, ["N", 32])],
        [tensor("Y", TensorProto.FLOAT, None)],
        [shape, onnx.numpy_helper.from_array(big.reshape(128, 4, 8), "B")],
    )
    expected = ports([("X", ["N", 32], "tensor(float)")], [("Y", [128, 4, 8], "tensor(float)")])
    check(model, tmp_path, expected)


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


# ---- property test: random valid models vs onnxruntime -------------------

_ELEMENTS = [TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.INT32, TensorProto.INT64]
_dim = st.one_of(
    st.integers(0, 4), st.sampled_from(["N", "M", "batch", "unk__1"]), st.none(), st.just(-1)
)
_shape = st.one_of(st.none(), st.lists(_dim, max_size=3))


@st.composite
def _random_model(draw: st.DrawFn) -> onnx.ModelProto:
    count = draw(st.integers(1, 3))
    inputs, outputs, nodes, initializers = [], [], [], []
    for i in range(count):
        elem = draw(st.sampled_from(_ELEMENTS))
        shape = draw(_shape)
        inputs.append(tensor(f"X{i}", elem, shape))
        # Not Shape: onnxruntime's constant folding rewrites Shape of a static shape.
        op = draw(st.sampled_from(["Identity", "Neg", "Abs", "AddSelf", "Transpose"]))
        if op == "AddSelf":
            nodes.append(helper.make_node("Add", [f"X{i}", f"X{i}"], [f"Y{i}"]))
        else:
            nodes.append(helper.make_node(op, [f"X{i}"], [f"Y{i}"]))
        out_elem = elem
        declared = draw(st.one_of(st.just("untyped"), _shape))
        if declared == "untyped":
            outputs.append(onnx.ValueInfoProto(name=f"Y{i}"))
        else:
            outputs.append(tensor(f"Y{i}", out_elem, declared))
    if draw(st.booleans()):
        dims = draw(st.lists(st.integers(1, 3), min_size=1, max_size=2))
        values = np.ones(dims, np.float32)
        initializers.append(onnx.numpy_helper.from_array(values, "W"))
        inputs.append(tensor("W", TensorProto.FLOAT, dims))
        nodes.append(helper.make_node("Relu", ["W"], ["V"]))
        outputs.append(tensor("V", TensorProto.FLOAT, draw(_shape)))
    ir_version = draw(st.sampled_from([4, 7, 8]))
    return model_of(nodes, inputs, outputs, initializers, [("", 13)], ir_version)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=_random_model())
def test_random_models_match_onnxruntime(model: onnx.ModelProto) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = save(model, Path(tmp) / "m.onnx")
        try:
            expected = ort_ports(path)
        except Exception:  # an invalid combination (type conflict): not a case
            assume(False)
            raise
        facts = inspect_file(path)
    assert facts.io_ports is not None
    assert facts.io_ports.to_json() == expected


# ---- streaming, memory, pointers, external data --------------------------


def _big_model(path: Path, weight_bytes: int) -> onnx.ModelProto:
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


@pytest.mark.parametrize("hash", [True, False])
def test_memory_does_not_follow_weights(tmp_path: Path, hash: bool) -> None:
    path = tmp_path / "big.onnx"
    _big_model(path, 64 << 20)
    inspect_file(path, hash=hash)  # warm up imports and onnx's schema registry
    tracemalloc.start()
    try:
        facts = inspect_file(path, hash=hash)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, f"peak {peak} bytes while inspecting a 64 MiB model"
    assert facts.io_ports == IOPorts(
        inputs=(IOPort("X", ("N", 65536), "tensor(float)"),),
        outputs=(IOPort("Y", ("N", 256), "tensor(float)"),),
    )
    data = path.read_bytes()
    assert facts.model_bytes == len(data)
    assert facts.model_sha == (hashlib.sha256(data).hexdigest() if hash else None)


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
    model = _big_model(tmp_path / "tmp.onnx", 1 << 16)
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
    model = _big_model(tmp_path / "model.onnx", 1 << 12)
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


# ---- bad input -----------------------------------------------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        out.append((value & 0x7F) | (0x80 if value > 0x7F else 0))
        value >>= 7
        if not value:
            return bytes(out)


def _nested_graphs(levels: int) -> bytes:
    """A ModelProto whose graph holds an If node whose then_branch holds... ``levels`` deep.

    Written by hand: the protobuf runtime itself refuses to build such depth.
    """
    graph = b""
    for _ in range(levels):
        attr = b"\x0a\x0bthen_branch" + b"\x32" + _varint(len(graph)) + graph + b"\xa0\x01\x05"
        node = b"\x0a\x01c\x12\x01o\x22\x02If" + b"\x2a" + _varint(len(attr)) + attr
        graph = b"\x0a" + _varint(len(node)) + node
    return b"\x08\x08" + b"\x3a" + _varint(len(graph)) + graph


def _nested_type(levels: int) -> bytes:
    inner = b""
    for _ in range(levels):
        seq = b"\x0a" + _varint(len(inner)) + inner  # Sequence.elem_type
        inner = b"\x22" + _varint(len(seq)) + seq  # TypeProto.sequence_type
    value_info = b"\x0a\x01X" + b"\x12" + _varint(len(inner)) + inner
    graph = b"\x5a" + _varint(len(value_info)) + value_info  # GraphProto.input
    return b"\x08\x08" + b"\x3a" + _varint(len(graph)) + graph


GOOD = model_of(
    [helper.make_node("Relu", ["X"], ["Y"])],
    [tensor("X", TensorProto.FLOAT, ["N", 3])],
    [tensor("Y", TensorProto.FLOAT, ["N", 3])],
).SerializeToString()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file at byte 0"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "at byte "),
        (GOOD[:-3], "past the end of the file at byte "),
        (GOOD[: len(GOOD) // 2], "past the end of the file at byte "),
        (
            helper.make_tensor("t", TensorProto.FLOAT, [2], [1.0, 2.0]).SerializeToString(),
            "field 2 (ModelProto.producer_name) has wire type 0, expected 2 at byte 2",
        ),
        (
            onnx.OperatorSetIdProto(domain="", version=3).SerializeToString(),
            "field 1 (ModelProto.ir_version) has wire type 2, expected 0 at byte 0",
        ),
        (b"\x3a\x00", "no ir_version field (is this a ModelProto?) at byte 2"),
        (b"\x08\x08", "no graph field (is this a ModelProto?) at byte 2"),
        (b"\x08" + b"\xff" * 20, "varint longer than 10 bytes at byte 1"),
        (b"\x08" + b"\xff" * 9 + b"\x7f", "varint larger than 64 bits at byte 1"),
        (
            b"\x08\x08\x3a" + _varint(1 << 62),
            "field 7 of ModelProto is 4611686018427387904 bytes long, past the end of the file "
            "at byte 2",
        ),
        (
            b"\x08\x08\x3a\x02\x0a\x7f\x08\x01",
            "field 1 of GraphProto is 127 bytes long, past the end of the GraphProto at byte 4",
        ),
        (b"\x08\x08\x3a\x01\x00", "field number 0 at byte 4"),
        (b"\x0b\x0c", "unsupported wire type 3 in ModelProto at byte 0"),
        (b"\x08\x08\x3a\x02\x12\x80", "truncated varint at byte 5"),
        (
            b"\x08\x08\x3a\x01\x08",
            "field 1 (GraphProto.node) has wire type 0, expected 2 at byte 4",
        ),
        (_nested_graphs(MAX_DEPTH), f"messages nested deeper than {MAX_DEPTH} levels"),
        (_nested_type(200), "is not a valid ValueInfoProto"),
    ],
)
def test_not_a_model(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.onnx"
    path.write_bytes(content)
    for hash in (True, False):
        with pytest.raises(InvalidModelError) as info:
            inspect_file(path, hash=hash)
        text = str(info.value)
        assert text.startswith(f"{path}: not a valid ONNX model: ")
        assert message in text
        assert text.rsplit(" at byte ", 1)[1].isdigit()


def test_nesting_just_below_the_limit_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "deep.onnx"
    path.write_bytes(_nested_graphs(MAX_DEPTH // 3 - 1))
    facts = inspect_file(path)
    assert facts.ir_version == 8


def test_unreadable(tmp_path: Path) -> None:
    with pytest.raises(FileReadError, match="No such file"):
        inspect_file(tmp_path / "missing.onnx")
    with pytest.raises(FileReadError, match=r"not a regular file|Is a directory"):
        inspect_file(tmp_path)


def _mutate(data: bytes, rnd: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rnd.randint(1, 4)):
        kind = rnd.randrange(4)
        at = rnd.randrange(len(buf) + 1)
        if kind == 0 and buf:
            buf[min(at, len(buf) - 1)] = rnd.randrange(256)
        elif kind == 1:
            del buf[at:]
        elif kind == 2:
            buf[at:at] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 12)))
        else:
            buf[at:at] = b"\xff" * rnd.randint(1, 16)
    return bytes(buf)


@settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32), random_bytes=st.binary(max_size=200), mutate=st.booleans())
def test_fuzz_never_anything_but_invalid_model(
    seed: int, random_bytes: bytes, mutate: bool
) -> None:
    data = _mutate(FUZZ_BASE, random.Random(seed)) if mutate else random_bytes
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.onnx"
        path.write_bytes(data)
        for hash in (True, False):
            try:
                facts = inspect_file(path, hash=hash)
            except InvalidModelError as err:
                error = str(err)
                assert " at byte " in error
            else:
                assert facts.model_bytes == len(data)
                if hash:
                    assert facts.model_sha == hashlib.sha256(data).hexdigest()


FUZZ_BASE = model_of(
    [
        helper.make_node("Reshape", ["X", "shape"], ["R"]),
        helper.make_node(
            "If",
            ["c"],
            ["Y"],
            then_branch=helper.make_graph(
                [helper.make_node("Identity", ["R"], ["T"])],
                "t",
                [],
                [tensor("T", TensorProto.FLOAT, None)],
            ),
            else_branch=helper.make_graph(
                [helper.make_node("Neg", ["R"], ["E"])],
                "e",
                [],
                [tensor("E", TensorProto.FLOAT, None)],
            ),
        ),
    ],
    [tensor("X", TensorProto.FLOAT, ["N", 4]), tensor("c", TensorProto.BOOL, [])],
    [tensor("Y", TensorProto.FLOAT, None)],
    [
        helper.make_tensor("shape", TensorProto.INT64, [2], [-1, 2]),
        helper.make_tensor("big", TensorProto.FLOAT, [2048], np.ones(2048, np.float32)),
    ],
).SerializeToString()


# ---- 2 GB, flat memory (opt-in: HUBTOOLS_SLOW_TESTS=1) -------------------


def _write_2gb_model(path: Path) -> int:
    """A model of just over 2 GiB (more than protobuf can serialize), written in chunks."""
    layer = 1 << 28  # 256 MiB of float32 per initializer
    layers = 8
    head = onnx.GraphProto(
        node=[helper.make_node("Identity", ["X"], ["Y"])], name="huge"
    ).SerializeToString()
    tail = onnx.GraphProto(
        input=[tensor("X", TensorProto.FLOAT, ["N"])], output=[tensor("Y", TensorProto.FLOAT, None)]
    ).SerializeToString()
    tensors = []
    for i in range(layers):
        meta = onnx.TensorProto(name=f"W{i}", dims=[layer // 4], data_type=TensorProto.FLOAT)
        t = meta.SerializeToString() + b"\x4a" + _varint(layer)
        tensors.append(b"\x2a" + _varint(len(t) + layer) + t)
    graph_len = len(head) + len(tail) + sum(len(t) + layer for t in tensors)
    block = os.urandom(1 << 20)
    with open(path, "wb") as out:
        opset = helper.make_opsetid("", 17).SerializeToString()
        out.write(b"\x08\x08" + b"\x42" + _varint(len(opset)) + opset)
        out.write(b"\x3a" + _varint(graph_len) + head)
        for t in tensors:
            out.write(t)
            for _ in range(layer >> 20):
                out.write(block)
        out.write(tail)
    return path.stat().st_size


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("HUBTOOLS_SLOW_TESTS") != "1", reason="set HUBTOOLS_SLOW_TESTS=1"
)
def test_2gb_model_with_flat_memory(tmp_path: Path) -> None:
    path = tmp_path / "huge.onnx"
    size = _write_2gb_model(path)
    assert size > 2 << 30
    tracemalloc.start()
    try:
        facts = inspect_file(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    expected_sha = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            expected_sha.update(chunk)
    assert (facts.model_sha, facts.model_bytes) == (expected_sha.hexdigest(), size)
    assert facts.io_ports == IOPorts(
        inputs=(IOPort("X", ("N",), "tensor(float)"),),
        outputs=(IOPort("Y", ("N",), "tensor(float)"),),
    )
    assert peak < 8 << 20, f"peak {peak} bytes of Python memory on a {size}-byte model"
