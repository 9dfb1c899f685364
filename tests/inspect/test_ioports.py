"""io_ports as onnxruntime reports them: the onnx wheel's models, each rule, random models."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper

from hubtools.core.manifest import Dim, JSONValue
from hubtools.inspect.facts import FileFacts, inspect_file, io_ports_of
from hubtools.inspect.wire import SMALL_TENSOR_BYTES
from tests.inspect.support import model_of, ports, save, tensor

ort.set_default_logger_severity(3)
BACKEND_DATA = Path(onnx.__file__).parent / "backend" / "test" / "data"
BACKEND_MODELS = sorted(BACKEND_DATA.rglob("*.onnx"))

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
