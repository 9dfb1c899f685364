"""One model's check, as a worker process runs it: ``onnx.checker`` with
``full_check``, then (when onnxruntime is installed) a CPU session, the
manifest's io_ports against the session's, and every test set found beside
the model or inside its test-data bundle, compared with the expected outputs.

Bundles and model archives are extracted with the one safe-extraction policy
into a temporary folder that is removed afterwards. This module never prints
and never writes outside that folder; it returns a :class:`Verdict`.
"""

from __future__ import annotations

import functools
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hubtools.check.testdata import (
    Mismatch,
    Tolerance,
    compare_outputs,
    find_test_sets,
    read_set,
)
from hubtools.core import archives
from hubtools.core.files import read_lfs_pointer
from hubtools.errors import HubtoolsError

if TYPE_CHECKING:
    import onnx

__all__ = ["ERROR", "FAIL", "PASS", "SKIP", "Job", "Verdict", "check_model"]

PASS, FAIL, ERROR, SKIP = "pass", "fail", "error", "skip"
#: Names the zoo gave quantized models, whose expected outputs came from CPUs
#: with AVX512-VNNI: other CPUs round differently, so the zoo skipped them there.
_QUANTIZED = re.compile(r"(?i)(int8|uint8|qdq|qop|quant)")
RUN_EXTRA = "pip install 'onnx-hubtools[run]'"
# TensorProto element types onnxruntime's Python binding cannot turn into numpy
# arrays (bfloat16, the float8, float4, int4 and int2 kinds), with their widths.
# (TensorProto numbers, so that importing this module does not import onnx.)
_WIDTH = {16: 2, 17: 1, 18: 1, 19: 1, 20: 1, 24: 1}  # BFLOAT16, FLOAT8E4M3FN(UZ), E5M2(FNUZ), E8M0
_FOUR_BIT = {21, 22, 23}  # UINT4, INT4, FLOAT4E2M1
_TWO_BIT = {25, 26}  # UINT2, INT2
_RAW_TYPES = set(_WIDTH) | _FOUR_BIT | _TWO_BIT


@dataclass(frozen=True)
class Job:
    """What a worker needs to check one manifest entry (picklable)."""

    model: str
    model_path: str
    opset: int
    file: str  # the model file (or model archive) on disk
    archive: str | None = None  # metadata.model_archive
    bundle: str | None = None  # the test-data bundle on disk (model_with_data_path)
    io_ports: dict[str, Any] | None = None
    tolerance: Tolerance = field(default_factory=Tolerance)
    compare_quantized: bool = False
    threads: int = 0  # onnxruntime intra-op threads (0: its default)


@dataclass(frozen=True)
class Verdict:
    """The outcome for one model: ``status`` is pass, fail, error or skip, and
    ``reason`` says why in one line (empty for a plain pass)."""

    model: str
    model_path: str
    opset: int
    status: str
    reason: str = ""
    test_sets: int = 0
    mismatch: Mismatch | None = None
    seconds: float = 0.0


class _Outcome(Exception):
    """Ends a check early with a status and a reason."""

    def __init__(self, status: str, reason: str, mismatch: Mismatch | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.mismatch = mismatch


@functools.cache
def cpu_has_vnni() -> bool:
    """True when the CPU reports AVX512-VNNI (Linux ``/proc/cpuinfo``)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            return any("avx512_vnni" in line for line in info if line.startswith("flags"))
    except OSError:
        return False


def _first_line(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return text.splitlines()[0][:500]


def _pointer_skip(path: Path, what: str) -> None:
    try:
        pointer = read_lfs_pointer(path)
    except OSError as err:
        raise _Outcome(ERROR, f"{what} cannot be read: {_first_line(err)}") from err
    if pointer is not None:
        raise _Outcome(
            SKIP, f"{what} is a Git LFS pointer (content not pulled); run `git lfs pull`"
        )


def _extract(archive: Path, into: Path, what: str) -> Path:
    try:
        return archives.safe_extract(archive, into)
    except HubtoolsError as err:
        raise _Outcome(ERROR, f"{what} refused: {_first_line(err)}") from err


def _model_file(job: Job, temp: Path) -> Path:
    path = Path(job.file)
    _pointer_skip(path, "the model file")
    if job.archive is None:
        return path
    folder = _extract(path, temp / "model", "the model archive")
    try:
        return archives.find_single_model(folder, job.model_path)
    except HubtoolsError as err:
        raise _Outcome(ERROR, _first_line(err)) from err


def _test_folders(job: Job, model_file: Path, temp: Path) -> list[Path]:
    """Test sets beside the model (when it is the only model in its folder), then
    those inside the test-data bundle."""
    sets: list[Path] = []
    folder = model_file.parent
    if len(list(folder.glob("*.onnx"))) == 1:
        sets += find_test_sets(folder)
    if job.bundle is not None:
        bundle = Path(job.bundle)
        try:
            _pointer_skip(bundle, "the test-data bundle")
        except _Outcome as skipped:
            if skipped.status != SKIP or not sets:
                raise
        else:
            root = _extract(bundle, temp / "bundle", "the test-data bundle")
            sets += find_test_sets(archives.find_model_folder(root))
    return sets


def _checker(model_file: Path) -> None:
    import onnx.checker

    try:
        onnx.checker.check_model(str(model_file), full_check=True)
    except Exception as err:  # the checker raises ValidationError and others
        raise _Outcome(ERROR, f"onnx.checker: {_first_line(err)}") from err


def _session(model_file: Path, threads: int) -> Any:
    try:
        import onnxruntime as ort
    except ImportError as err:
        raise _Outcome(
            SKIP, f"onnx.checker passed; onnxruntime is not installed ({RUN_EXTRA})"
        ) from err
    ort.set_default_logger_severity(4)  # failures reach the verdict as exceptions
    options = ort.SessionOptions()
    options.log_severity_level = 4
    if threads:
        options.intra_op_num_threads = threads
    try:
        return ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises its own Fail/InvalidGraph/... types
        raise _Outcome(ERROR, f"onnxruntime: {_first_line(err)}") from err


def _ports(args: list[Any]) -> list[dict[str, Any]]:
    return [{"name": a.name, "shape": list(a.shape), "type": a.type} for a in args]


def _check_io_ports(job: Job, session: Any) -> None:
    if not job.io_ports:
        return
    for side, got in (("inputs", session.get_inputs()), ("outputs", session.get_outputs())):
        want = job.io_ports.get(side)
        have = _ports(got)
        if want is not None and want != have:
            raise _Outcome(
                FAIL,
                f"io_ports {side}: the manifest says {want}, onnxruntime reports {have}; "
                "run `hubtools generate` to recompute them",
            )


def _declared(model_file: Path) -> tuple[list[tuple[str, onnx.TypeProto]], list[Any]]:
    """The runtime inputs and the outputs with the types the model declares, read
    without the weights (an embedded 2 GB of them would double the peak)."""
    from hubtools.inspect.facts import model_header

    graph = model_header(model_file).graph
    initializers = {t.name for t in graph.initializer}
    inputs = [(v.name, v.type) for v in graph.input if v.name not in initializers]
    outputs = [(v.name, v.type) for v in graph.output]
    return inputs, outputs


def _numpy_knows(elem_type: int) -> bool:
    """True when onnxruntime's Python binding hands this element type out as numpy."""
    import onnx

    return elem_type not in _RAW_TYPES and elem_type != onnx.TensorProto.UNDEFINED


def _feed(value: Any) -> Any:
    """A feed onnxruntime's binding takes: numpy has no bfloat16 or float8, so
    ml_dtypes arrays of them go in as OrtValues over the same bytes."""
    import numpy as np
    import onnxruntime as ort
    from onnx import helper

    if not isinstance(value, np.ndarray) or value.dtype.kind != "V":
        return value
    elem_type = helper.np_dtype_to_tensor_dtype(value.dtype)
    if elem_type not in _WIDTH:
        return value  # packed 4-bit and 2-bit types: the binding has no way in
    raw = np.uint8 if _WIDTH[elem_type] == 1 else np.uint16
    return ort.OrtValue.ortvalue_from_numpy_with_onnx_type(
        np.ascontiguousarray(value).view(raw), elem_type
    )


def _raw_output(value: Any, elem_type: int) -> Any:
    """An OrtValue of an element type numpy lacks, decoded from its bytes by onnx."""
    import ctypes

    import onnx
    from onnx import numpy_helper

    shape = list(value.shape())
    tensor = onnx.TensorProto(data_type=elem_type, dims=shape)
    count = 1
    for dim in shape:
        count *= dim
    bits = 4 if elem_type in _FOUR_BIT else 2 if elem_type in _TWO_BIT else 8 * _WIDTH[elem_type]
    tensor.raw_data = ctypes.string_at(value.data_ptr(), (count * bits + 7) // 8)
    return numpy_helper.to_array(tensor)


def _run(session: Any, feeds: dict[str, Any], outputs: list[tuple[str, Any]]) -> list[Any]:
    """Run the session; outputs of element types numpy lacks come back through
    OrtValues, decoded from their bytes (the binding cannot convert them)."""
    fed = {name: _feed(value) for name, value in feeds.items()}
    types = [
        tp.tensor_type.elem_type if tp.WhichOneof("value") == "tensor_type" else None
        for _, tp in outputs
    ]
    if all(t is None or _numpy_knows(t) for t in types):
        return list(session.run(None, fed))
    import numpy as np
    import onnxruntime as ort

    # run_with_ort_values takes OrtValues only.
    fed = {
        name: ort.OrtValue.ortvalue_from_numpy(v) if isinstance(v, np.ndarray) else v
        for name, v in fed.items()
    }
    values = session.run_with_ort_values(None, fed)
    return [
        _raw_output(v, t) if t is not None and not _numpy_knows(t) else v.numpy()
        for v, t in zip(values, types, strict=True)
    ]


def _run_sets(job: Job, session: Any, model_file: Path, sets: list[Path]) -> int:
    inputs, outputs = _declared(model_file)
    names = [o.name for o in session.get_outputs()]
    for folder in sets:
        try:
            data = read_set(folder, inputs, outputs)
        except Exception as err:  # a corrupt .pb raises protobuf's DecodeError
            raise _Outcome(ERROR, f"{folder.name}: cannot read: {_first_line(err)}") from err
        try:
            got = _run(session, data.feeds, outputs)
        except Exception as err:  # onnxruntime's own error types
            raise _Outcome(ERROR, f"{folder.name}: onnxruntime: {_first_line(err)}") from err
        mismatch = compare_outputs(names, data.expected, got, job.tolerance)
        if mismatch is not None:
            raise _Outcome(FAIL, f"{folder.name}: {mismatch}", mismatch)
    return len(sets)


def check_model(job: Job) -> Verdict:
    """Check one model; never raises for a bad model (the verdict says what failed)."""
    start = time.monotonic()

    def verdict(
        status: str, reason: str = "", sets: int = 0, mismatch: Mismatch | None = None
    ) -> Verdict:
        return Verdict(
            job.model,
            job.model_path,
            job.opset,
            status,
            reason,
            sets,
            mismatch,
            round(time.monotonic() - start, 3),
        )

    with tempfile.TemporaryDirectory(prefix="hubtools-check-") as temp:
        try:
            model_file = _model_file(job, Path(temp))
            _checker(model_file)
            session = _session(model_file, job.threads)
            _check_io_ports(job, session)
            sets = _test_folders(job, model_file, Path(temp))
            if not sets:
                return verdict(SKIP, "no test data (no test_data_set_* beside it or in a bundle)")
            if (
                _QUANTIZED.search(job.model_path)
                and not job.compare_quantized
                and not cpu_has_vnni()
            ):
                return verdict(
                    SKIP,
                    "quantized model: its expected outputs come from a CPU with AVX512-VNNI, "
                    "which this one lacks (--compare-quantized compares them anyway)",
                )
            return verdict(PASS, "", _run_sets(job, session, model_file, sets))
        except _Outcome as outcome:
            return verdict(outcome.status, outcome.reason, 0, outcome.mismatch)
