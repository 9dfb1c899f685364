"""io_ports of scikit-learn pipelines converted with sklearn-onnx, against onnxruntime.

Such pipelines are made of ``ai.onnx.ml`` operators, several of which
(Scaler, Normalizer, Imputer, LinearRegressor, SVMRegressor,
TreeEnsembleRegressor) have no shape-inference function in onnx: when the
graph's outputs are declared without a type, as some converters write them,
onnxruntime still types them from the operators' schemas. Each pipeline is
checked as converted, with its outputs' types removed, and with their shapes
removed.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from hubtools.inspect.facts import inspect_file, io_ports_of
from tests.inspect.support import save

sklearn = pytest.importorskip("sklearn")
skl2onnx = pytest.importorskip("skl2onnx")

ort.set_default_logger_severity(3)
ROWS = 30


def _ort_ports(model: onnx.ModelProto) -> object:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return {
        side: [{"name": p.name, "shape": list(p.shape), "type": p.type} for p in ports]
        for side, ports in (("inputs", session.get_inputs()), ("outputs", session.get_outputs()))
    }


def _mixed_columns() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A float, a string and an int64 column (one converter input each), and two targets."""
    rng = np.random.default_rng(0)
    number = rng.standard_normal(ROWS)
    colour = np.array(["red", "green", "blue"])[rng.integers(0, 3, ROWS)]
    count = rng.integers(0, 5, ROWS)
    table = np.empty((ROWS, 3), dtype=object)
    table[:, 0], table[:, 1], table[:, 2] = number, colour, count
    return table, number * 2 + count, (number > 0).astype(np.int64)


def _pipelines() -> Iterator[tuple[str, onnx.ModelProto]]:
    """Converted pipelines: ColumnTransformer over float, string and int64 inputs
    (Gather, Scaler, OneHotEncoder, Concat), then a regressor or a classifier
    (LinearRegressor, SVMRegressor with a Cast, TreeEnsembleRegressor,
    LinearClassifier with Cast and ZipMap); one-input pipelines with Normalizer,
    Imputer and tree ensembles of string labels."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, Int64TensorType, StringTensorType
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import Normalizer, OneHotEncoder, StandardScaler
    from sklearn.svm import SVR
    from sklearn.tree import DecisionTreeRegressor

    table, value, label = _mixed_columns()
    mixed = [
        ("number", FloatTensorType([None, 1])),
        ("colour", StringTensorType([None, 1])),
        ("count", Int64TensorType([None, 1])),
    ]
    final: list[tuple[str, Callable[[], object], np.ndarray]] = [
        ("linear", LinearRegression, value),
        ("svr", SVR, value),
        ("tree", lambda: DecisionTreeRegressor(max_depth=3, random_state=0), value),
        ("logistic", LogisticRegression, label),
    ]
    for name, estimator, target in final:
        columns = ColumnTransformer(
            [
                ("number", StandardScaler(), [0]),
                ("colour", OneHotEncoder(handle_unknown="ignore"), [1]),
                ("count", StandardScaler(), [2]),
            ]
        )
        fitted = make_pipeline(columns, estimator()).fit(table, target)
        yield f"mixed-{name}", convert_sklearn(fitted, initial_types=mixed, target_opset=13)
    rng = np.random.default_rng(1)
    features = rng.standard_normal((ROWS, 4)).astype(np.float32)
    features[::7, 2] = np.nan
    names = np.array(["cat", "dog", "eel"])[rng.integers(0, 3, ROWS)]
    single = [("x", FloatTensorType([None, 4]))]
    for name, pipeline, target in [
        ("normalizer", make_pipeline(Normalizer(), LinearRegression()), features[:, 0]),
        ("imputer", make_pipeline(SimpleImputer(), SVR()), features[:, 1]),
        (
            "forest-labels",
            make_pipeline(StandardScaler(), RandomForestClassifier(3, max_depth=2, random_state=0)),
            names,
        ),
    ]:
        fitted = pipeline.fit(np.nan_to_num(features) if name != "imputer" else features, target)
        yield name, convert_sklearn(fitted, initial_types=single, target_opset=13)
    encoded = make_pipeline(OneHotEncoder(), LinearRegression()).fit(names.reshape(-1, 1), label)
    strings = [("name", StringTensorType([None, 1]))]
    yield "strings", convert_sklearn(encoded, initial_types=strings, target_opset=13)


@pytest.fixture(scope="module")
def pipelines() -> dict[str, onnx.ModelProto]:
    with warnings.catch_warnings():  # the converters' and estimators' deprecation notes
        warnings.simplefilter("ignore")
        return dict(_pipelines())


def _variants(model: onnx.ModelProto) -> Iterator[tuple[str, onnx.ModelProto]]:
    yield "as converted", model
    for what, clear in (
        ("outputs without a type", lambda o: o.ClearField("type")),
        ("outputs without a shape", lambda o: o.type.tensor_type.ClearField("shape")),
    ):
        changed = onnx.ModelProto()
        changed.CopyFrom(model)
        for output in changed.graph.output:
            if what.endswith("type") or output.type.HasField("tensor_type"):
                clear(output)
        yield what, changed


NAMES = [
    "mixed-linear",
    "mixed-svr",
    "mixed-tree",
    "mixed-logistic",
    "normalizer",
    "imputer",
    "forest-labels",
    "strings",
]


@pytest.mark.parametrize("name", NAMES)
def test_pipeline_matches_onnxruntime(pipelines: dict[str, onnx.ModelProto], name: str) -> None:
    model = pipelines[name]
    domains = {o.domain for o in model.opset_import}
    assert "ai.onnx.ml" in domains
    for what, variant in _variants(model):
        assert io_ports_of(variant).to_json() == _ort_ports(variant), what


def test_every_pipeline_is_checked(pipelines: dict[str, onnx.ModelProto]) -> None:
    assert sorted(pipelines) == sorted(NAMES)
    inputs = {i.name: i.type.tensor_type.elem_type for i in pipelines["mixed-linear"].graph.input}
    assert inputs == {
        "number": TensorProto.FLOAT,
        "colour": TensorProto.STRING,
        "count": TensorProto.INT64,
    }
    ops = {n.op_type for m in pipelines.values() for n in m.graph.node}
    assert {"Scaler", "Concat", "Cast", "ZipMap", "LinearRegressor", "Normalizer"} <= ops


def test_an_untyped_regressor_output_is_a_float_tensor(
    pipelines: dict[str, onnx.ModelProto],
) -> None:
    """The case of the corpus: a regressor's untyped output after ml operators
    that onnx cannot infer; onnxruntime says tensor(float)."""
    _, untyped, _ = _variants(pipelines["mixed-linear"])
    ports = io_ports_of(untyped[1]).to_json()
    assert ports["outputs"] == [{"name": "variable", "shape": [], "type": "tensor(float)"}]


def test_a_chain_of_uninferred_operators_is_typed_from_schemas(tmp_path: Path) -> None:
    """Scaler (one allowed type) -> Cast (inferred from its attribute) ->
    Imputer (homogeneous with its input) -> Concat with an int64 path,
    every value a graph output without a type."""
    untyped = onnx.TypeProto()
    names = ["scaled", "doubled", "imputed", "counts", "joined"]
    graph = helper.make_graph(
        [
            helper.make_node(
                "Scaler", ["x"], ["scaled"], domain="ai.onnx.ml", offset=[0.0], scale=[2.0]
            ),
            helper.make_node("Cast", ["scaled"], ["doubled"], to=TensorProto.DOUBLE),
            helper.make_node(
                "Imputer",
                ["scaled"],
                ["imputed"],
                domain="ai.onnx.ml",
                imputed_value_floats=[0.0],
                replaced_value_float=float("nan"),
            ),
            helper.make_node("Cast", ["n"], ["counts"], to=TensorProto.FLOAT),
            helper.make_node("Concat", ["imputed", "counts"], ["joined"], axis=1),
        ],
        "chain",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1]),
            helper.make_tensor_value_info("n", TensorProto.INT64, ["N", 1]),
        ],
        [helper.make_value_info(name, untyped) for name in names],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("ai.onnx.ml", 1)]
    )
    model.ir_version = 8
    path = save(model, tmp_path / "chain.onnx")
    facts = inspect_file(path)
    assert facts.io_ports is not None
    assert facts.io_ports.to_json() == _ort_ports(model)
    assert [p.type for p in facts.io_ports.outputs] == [
        "tensor(float)",
        "tensor(double)",
        "tensor(float)",
        "tensor(float)",
        "tensor(float)",
    ]
