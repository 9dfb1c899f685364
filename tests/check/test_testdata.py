"""Reading test sets by declared type, and comparing outputs as onnx's backend
test runner does: floats within rtol/atol (NaN equal to NaN, equal infinities
equal), integers, booleans and strings exactly, containers element by element."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from hubtools.check.testdata import Mismatch, Tolerance, compare_outputs, read_set

TOL = Tolerance()


def _one(expected: object, got: object, tol: Tolerance = TOL) -> Mismatch | None:
    return compare_outputs(["out"], [expected], [got], tol)


@pytest.mark.parametrize(
    ("expected", "got"),
    [
        (np.float32([1.0, np.nan]), np.float32([1.0, np.nan])),
        (np.float32([np.inf, -np.inf]), np.float32([np.inf, -np.inf])),
        (np.float32([100.0]), np.float32([100.0999])),  # rtol 1e-3
        (np.float32([0.0]), np.float32([1e-8])),  # atol 1e-7
        (np.array(["a", "b"], dtype=object), np.array(["a", "b"], dtype=object)),
        ([np.int64([1]), np.int64([2, 3])], [np.int64([1]), np.int64([2, 3])]),
        ({1: np.float32(0.5)}, {1: np.float32(0.5)}),
        (None, None),
    ],
)
def test_equal_enough(expected: object, got: object) -> None:
    assert _one(expected, got) is None


@pytest.mark.parametrize(
    ("expected", "got", "message"),
    [
        (np.float32([100.0]), np.float32([100.2]), "output 'out' at [0]: expected 100.0, got "),
        (np.float32([1.0, 2.0]), np.float32([1.0, np.nan]), "output 'out' at [1]: expected 2.0"),
        (
            np.float32([np.inf]),
            np.float32([-np.inf]),
            "output 'out' at [0]: expected inf, got -inf",
        ),
        (np.int64([1, 2]), np.int64([1, 3]), "output 'out' at [1]: expected 2, got 3"),
        (np.int64([1]), np.int32([1]), "output 'out' dtype: expected int64, got int32"),
        (np.float32([1.0]), np.float32([[1.0]]), "output 'out' shape: expected (1,), got (1, 1)"),
        (
            np.array(["a"], dtype=object),
            np.array(["b"], dtype=object),
            "output 'out' at [0]: expected 'a', got 'b'",
        ),
        ([np.int64([1])], [np.int64([1]), np.int64([2])], "output 'out' length: expected 1"),
        ([np.int64([1]), np.int64([2])], [np.int64([1]), np.int64([5])], "output 'out[1]' at [0]"),
        (None, np.float32([1.0]), "output 'out' value: expected None"),
    ],
)
def test_first_difference(expected: object, got: object, message: str) -> None:
    found = _one(expected, got)
    assert found is not None
    assert str(found).startswith(message)


def test_errors_are_measured() -> None:
    found = _one(np.float32([1.0, 4.0]), np.float32([1.5, 4.0]))
    assert found == Mismatch("out", "at [0]", "1.0", "1.5", 0.5, 0.5)
    assert _one(np.float32([1.0]), np.float32([1.5]), Tolerance(rtol=0.0, atol=0.5)) is None


def test_onnxruntime_s_raw_float8_is_read_as_float8() -> None:
    expected = numpy_helper.to_array(helper.make_tensor("t", TensorProto.FLOAT8E4M3FN, [2], [1, 2]))
    assert _one(expected, expected.view(np.uint8)) is None


def test_read_set_by_declared_type_and_by_tensor_name(tmp_path: Path) -> None:
    seq_type = helper.make_sequence_type_proto(
        helper.make_tensor_type_proto(TensorProto.FLOAT, None)
    )
    opt_type = helper.make_optional_type_proto(
        helper.make_tensor_type_proto(TensorProto.INT64, [1])
    )
    map_type = helper.make_map_type_proto(
        TensorProto.INT64, helper.make_tensor_type_proto(TensorProto.FLOAT, [])
    )
    tensor_type = helper.make_tensor_type_proto(TensorProto.FLOAT, [2])
    inputs = [("s", seq_type), ("o", opt_type), ("m", map_type), ("t", tensor_type)]
    folder = tmp_path / "test_data_set_0"
    folder.mkdir()
    pieces = {
        "input_0.pb": numpy_helper.from_list([np.float32([1.0])], "s"),
        "input_1.pb": numpy_helper.from_optional(np.int64([7]), "o"),
        "input_2.pb": numpy_helper.from_dict({3: np.float32(0.5)}, "m"),
        "input_3.pb": numpy_helper.from_array(np.float32([1, 2]), "t"),
        "output_0.pb": numpy_helper.from_array(np.float32([3, 4]), "y"),
    }
    for name, proto in pieces.items():
        (folder / name).write_bytes(proto.SerializeToString())
    data = read_set(folder, inputs, [("y", tensor_type)])
    assert [type(data.feeds[n]).__name__ for n in ("s", "o", "m", "t")] == [
        "list",
        "ndarray",
        "dict",
        "ndarray",
    ]
    assert data.feeds["m"] == {3: np.float32(0.5)}
    np.testing.assert_array_equal(data.expected[0], np.float32([3, 4]))
    # input_N.pb whose tensor names another input feeds that input.
    other = tmp_path / "test_data_set_1"
    other.mkdir()
    (other / "input_0.pb").write_bytes(
        numpy_helper.from_array(np.float32([9, 9]), "t").SerializeToString()
    )
    swapped = read_set(other, [("x", tensor_type), ("t", tensor_type)], [])
    assert list(swapped.feeds) == ["t"]
    np.testing.assert_array_equal(swapped.feeds["t"], np.float32([9, 9]))


def test_more_files_than_ports_is_an_error(tmp_path: Path) -> None:
    folder = tmp_path / "test_data_set_0"
    folder.mkdir()
    for i in range(2):
        (folder / f"input_{i}.pb").write_bytes(
            numpy_helper.from_array(np.float32([i])).SerializeToString()
        )
    with pytest.raises(ValueError, match="2 input files, the model has 1 inputs"):
        read_set(folder, [("x", helper.make_tensor_type_proto(TensorProto.FLOAT, [1]))], [])
