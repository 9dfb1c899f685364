"""A model's test data: ``test_data_set_*`` folders of ``input_N.pb`` and
``output_N.pb`` files, read with the type the model declares for each port
(tensor, sequence, optional or map), and outputs compared with the expected
ones the way onnx's backend test runner compares them.

Pure functions over numpy values and protobuf files; nothing here runs a
model or decides a verdict.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import onnx

__all__ = ["Mismatch", "TestSet", "Tolerance", "compare_outputs", "find_test_sets", "read_set"]

_PB = re.compile(r"^(input|output)_(\d+)\.pb$")
#: Values shown in a mismatch message, at most.
_SHOWN = 80


@dataclass(frozen=True)
class Tolerance:
    """How close a float output must be: ``|got - expected| <= atol + rtol * |expected|``.

    The defaults are those of onnx's backend test runner.
    """

    rtol: float = 1e-3
    atol: float = 1e-7


@dataclass(frozen=True)
class Mismatch:
    """The first output that differs: which, where, and by how much."""

    output: str
    where: str  # "shape", "dtype", "length", or the index of the first differing element
    expected: str
    got: str
    max_abs: float | None = None
    max_rel: float | None = None

    def __str__(self) -> str:
        text = f"output {self.output!r} {self.where}: expected {self.expected}, got {self.got}"
        if self.max_abs is not None and self.max_rel is not None:
            text += f" (max abs error {self.max_abs:.3g}, max rel error {self.max_rel:.3g})"
        return text


@dataclass(frozen=True)
class TestSet:
    """One ``test_data_set_*`` folder: its inputs by port name, expected outputs in order."""

    folder: Path
    feeds: dict[str, Any]
    expected: list[Any]


def find_test_sets(folder: Path) -> list[Path]:
    """The ``test_data_set_*`` folders directly in ``folder``, sorted. Raises nothing."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("test_data_set_*") if p.is_dir() and not p.is_symlink())


def _read_value(path: Path, type_proto: onnx.TypeProto) -> Any:
    """A ``.pb`` file as the value the declared type says it holds."""
    import onnx
    from onnx import numpy_helper

    data = path.read_bytes()
    kind = type_proto.WhichOneof("value")
    if kind == "sequence_type":
        seq = onnx.SequenceProto()
        seq.ParseFromString(data)
        return numpy_helper.to_list(seq)
    if kind == "optional_type":
        opt = onnx.OptionalProto()
        opt.ParseFromString(data)
        return numpy_helper.to_optional(opt)
    if kind == "map_type":
        mapping = onnx.MapProto()
        mapping.ParseFromString(data)
        return numpy_helper.to_dict(mapping)
    tensor = onnx.TensorProto()
    tensor.ParseFromString(data)
    return numpy_helper.to_array(tensor)


def _numbered(folder: Path, prefix: str) -> list[Path]:
    found = {}
    for path in folder.iterdir():
        match = _PB.match(path.name)
        if match and match.group(1) == prefix and path.is_file() and not path.is_symlink():
            found[int(match.group(2))] = path
    return [found[i] for i in sorted(found)]


def read_set(
    folder: Path,
    inputs: list[tuple[str, onnx.TypeProto]],
    outputs: list[tuple[str, onnx.TypeProto]],
) -> TestSet:
    """Read one test set for a model whose runtime inputs and outputs are given
    as (name, declared type) pairs, in order.

    ``input_N.pb`` feeds the N-th input, unless the tensor inside names another
    input of the model. Raises ValueError when the folder holds more inputs or
    outputs than the model has, and what protobuf raises for a corrupt file.
    """
    names = [name for name, _ in inputs]
    feeds: dict[str, Any] = {}
    input_files = _numbered(folder, "input")
    if len(input_files) > len(inputs):
        raise ValueError(
            f"{folder.name}: {len(input_files)} input files, the model has {len(inputs)} inputs"
        )
    for index, path in enumerate(input_files):
        name, type_proto = inputs[index]
        named = _tensor_name(path) if type_proto.WhichOneof("value") == "tensor_type" else None
        if named in names and named != name:
            name, type_proto = inputs[names.index(named)]
        feeds[name] = _read_value(path, type_proto)
    output_files = _numbered(folder, "output")
    if len(output_files) > len(outputs):
        raise ValueError(
            f"{folder.name}: {len(output_files)} output files, the model has {len(outputs)} outputs"
        )
    expected = [_read_value(p, outputs[i][1]) for i, p in enumerate(output_files)]
    return TestSet(folder, feeds, expected)


def _tensor_name(path: Path) -> str | None:
    import onnx

    tensor = onnx.TensorProto()
    tensor.ParseFromString(path.read_bytes())
    return tensor.name or None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def _item(value: Any) -> str:
    """One element, shown as Python shows it (numpy scalars unwrapped)."""
    return _short(value.item() if hasattr(value, "item") else value)


def _is_float(dtype: np.dtype[Any]) -> bool:
    """True for float and complex dtypes, ml_dtypes' bfloat16 and float8 kinds included."""
    return dtype.kind in "fc" or "float" in dtype.name


def _compare_floats(
    name: str, expected: np.ndarray, got: np.ndarray, tol: Tolerance
) -> Mismatch | None:
    import numpy as np

    wide = np.complex128 if "c" in (expected.dtype.kind, got.dtype.kind) else np.float64
    want, have = expected.astype(wide), got.astype(wide)
    rtol = tol.rtol
    if expected.dtype.name == "bfloat16":
        rtol = max(rtol, 2**-6)  # two bfloat16 ULPs, as onnx's backend runner allows
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(have - want)  # NaN where either is NaN, or both are one infinity
        same = (want == have) | (np.isnan(want) & np.isnan(have))
        # An infinity is close only to itself (inf <= inf would pass -inf for inf).
        close = same | (np.isfinite(want) & (diff <= tol.atol + rtol * np.abs(want)))
    if close.all():
        return None
    first = tuple(int(i) for i in np.argwhere(~close)[0])
    diff = np.where(same, 0.0, np.where(np.isnan(diff), np.inf, diff))
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(diff == 0, 0.0, diff / np.abs(want))
    rel = np.where(np.isnan(rel), np.inf, rel)
    return Mismatch(
        name,
        f"at {list(first)}",
        _item(want[first]),
        _item(have[first]),
        float(diff.max()),
        float(rel.max()),
    )


def _as_expected(expected: np.ndarray, got: np.ndarray) -> np.ndarray:
    """onnxruntime hands float8/float4/int4 outputs back as raw uint8: view them as
    the element type the expected values have."""
    raw = got.dtype.name == "uint8" and expected.dtype.name != "uint8"
    if raw and expected.dtype.itemsize == 1 and expected.dtype.kind not in "biu":
        return got.view(expected.dtype)
    return got


def _compare_arrays(name: str, expected: np.ndarray, got: Any, tol: Tolerance) -> Mismatch | None:
    import numpy as np

    got = _as_expected(expected, np.asarray(got))
    if got.shape != expected.shape:
        return Mismatch(name, "shape", str(expected.shape), str(got.shape))
    if _is_float(expected.dtype):
        if not _is_float(got.dtype):
            return Mismatch(name, "dtype", str(expected.dtype), str(got.dtype))
        return _compare_floats(name, expected, got, tol)
    text_kinds = "OSU"
    if got.dtype != expected.dtype and not (
        expected.dtype.kind in text_kinds and got.dtype.kind in text_kinds
    ):
        return Mismatch(name, "dtype", str(expected.dtype), str(got.dtype))
    equal = np.asarray(expected == got)
    if equal.all():
        return None
    first = tuple(int(i) for i in np.argwhere(~equal)[0]) if expected.ndim else ()
    return Mismatch(name, f"at {list(first)}", _item(expected[first]), _item(got[first]))


def _compare(name: str, expected: Any, got: Any, tol: Tolerance) -> Mismatch | None:
    import numpy as np

    if expected is None or got is None:
        if expected is None and got is None:
            return None
        return Mismatch(name, "value", _short(expected), _short(got))
    if isinstance(expected, dict):
        if not isinstance(got, dict) or sorted(expected) != sorted(got):
            return Mismatch(name, "keys", _short(sorted(expected)), _short(got))
        for key in sorted(expected):
            found = _compare(f"{name}[{key!r}]", np.asarray(expected[key]), got[key], tol)
            if found:
                return found
        return None
    if isinstance(expected, (list, tuple)):
        if not isinstance(got, (list, tuple)):
            return Mismatch(name, "type", "a sequence", type(got).__name__)
        if len(expected) != len(got):
            return Mismatch(name, "length", str(len(expected)), str(len(got)))
        for i, (want, have) in enumerate(zip(expected, got, strict=True)):
            found = _compare(f"{name}[{i}]", want, have, tol)
            if found:
                return found
        return None
    return _compare_arrays(name, np.asarray(expected), got, tol)


def compare_outputs(
    names: list[str], expected: list[Any], got: list[Any], tol: Tolerance
) -> Mismatch | None:
    """The first output of ``got`` that differs from ``expected`` (None when all match).

    Floats within ``tol`` are equal, NaN equals NaN; integers, booleans and
    strings must be equal exactly; sequences, maps and optionals are compared
    element by element. Only the outputs the test set has are compared.
    """
    for index, want in enumerate(expected):
        name = names[index] if index < len(names) else f"#{index}"
        found = _compare(name, want, got[index], tol)
        if found:
            return found
    return None
