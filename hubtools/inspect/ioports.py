"""A model's inputs and outputs exactly as onnxruntime's ``InferenceSession`` reports them.

:func:`io_ports_of` reproduces onnxruntime's rules without onnxruntime:
initializers are not inputs, dims and type strings are spelled as onnxruntime
spells them, and outputs are the declared ones merged with the result of
``onnx.shape_inference`` the way onnxruntime merges them. It works on a
ModelProto in memory; it must not import onnxruntime, read files, or change
the model it is given.
"""

from __future__ import annotations

import logging
import re

import onnx

from hubtools.core.manifest import Dim, IOPort, IOPorts
from hubtools.inspect.wire import MAX_DEPTH

__all__ = ["io_ports_of"]

log = logging.getLogger(__name__)

_UNKNOWN_SYMBOL = re.compile(r"unk__\d+\Z")


def _element_type(elem_type: int) -> str:
    """onnxruntime's name of a TensorProto element type: the enum name in lower case."""
    try:
        return str(onnx.TensorProto.DataType.Name(elem_type)).lower()
    except ValueError:
        return str(elem_type)


def _type_string(tp: onnx.TypeProto) -> str:
    """onnxruntime's spelling of a type: ``tensor(float)``, ``map(int64,tensor(float))``..."""
    # Iterative descent: deep nesting must not exhaust Python's stack.
    prefix: list[str] = []
    suffix = ""
    current = tp
    for _ in range(MAX_DEPTH * 4):
        kind = current.WhichOneof("value")
        if kind == "tensor_type":
            return (
                "".join(prefix) + f"tensor({_element_type(current.tensor_type.elem_type)})" + suffix
            )
        if kind == "sparse_tensor_type":
            elem = _element_type(current.sparse_tensor_type.elem_type)
            return "".join(prefix) + f"sparse_tensor({elem})" + suffix
        if kind == "sequence_type":
            prefix.append("seq(")
            current = current.sequence_type.elem_type
        elif kind == "optional_type":
            prefix.append("optional(")
            current = current.optional_type.elem_type
        elif kind == "map_type":
            prefix.append(f"map({_element_type(current.map_type.key_type)},")
            current = current.map_type.value_type
        else:
            return "".join(prefix) + "undefined" + suffix
        suffix += ")"
    return "".join(prefix) + "..." + suffix


def _dims(shape: onnx.TensorShapeProto) -> tuple[Dim, ...]:
    out: list[Dim] = []
    for dim in shape.dim:
        kind = dim.WhichOneof("value")
        if kind == "dim_value" and dim.dim_value >= 0:
            out.append(dim.dim_value)
        elif kind == "dim_param" and dim.dim_param:
            out.append(dim.dim_param)
        else:
            out.append(None)
    return tuple(out)


def _shape(tp: onnx.TypeProto) -> tuple[Dim, ...]:
    """onnxruntime's shape of a type: tensor dims, [] for sequences and maps."""
    kind = tp.WhichOneof("value")
    if kind == "optional_type":
        inner = tp.optional_type.elem_type
        return _shape(inner) if inner.WhichOneof("value") == "tensor_type" else ()
    if kind == "tensor_type":
        tensor = tp.tensor_type
    elif kind == "sparse_tensor_type":
        tensor = tp.sparse_tensor_type
    else:
        return ()
    return _dims(tensor.shape) if tensor.HasField("shape") else ()


def _port(name: str, tp: onnx.TypeProto) -> IOPort:
    return IOPort(name=name, shape=_shape(tp), type=_type_string(tp))


class _Conflict(Exception):
    """Shapes cannot be merged strictly (onnx's mergeInShapeInfo would fail)."""


def _clean_declared(shape: onnx.TensorShapeProto) -> None:
    """onnxruntime treats a negative or empty declared dim as unknown."""
    for dim in shape.dim:
        if (dim.HasField("dim_value") and dim.dim_value < 0) or (
            dim.HasField("dim_param") and not dim.dim_param
        ):
            dim.ClearField("dim_value")
            dim.ClearField("dim_param")


def _merge_strict(source: onnx.TensorShapeProto, target: onnx.TensorShapeProto) -> None:
    """onnx's mergeInShapeInfo: fills ``target`` dim by dim; raises _Conflict part-way."""
    if len(source.dim) != len(target.dim):
        raise _Conflict
    for src, dst in zip(source.dim, target.dim, strict=True):
        if src.HasField("dim_value"):
            if dst.HasField("dim_value"):
                if dst.dim_value != src.dim_value:
                    raise _Conflict
            else:
                dst.dim_value = src.dim_value
        elif dst.HasField("dim_value") or dst.HasField("dim_param"):
            pass  # a declared value or param wins over an inferred param
        elif src.HasField("dim_param"):
            dst.dim_param = src.dim_param


def _merge_union(source: onnx.TensorShapeProto, target: onnx.TypeProto.Tensor) -> None:
    """onnx's UnionShapeInfo, onnxruntime's fallback after a conflict: disagreement -> unknown."""
    shape = target.shape
    if len(source.dim) != len(shape.dim):
        target.ClearField("shape")
        return
    for src, dst in zip(source.dim, shape.dim, strict=True):
        if src.HasField("dim_value"):
            same = dst.HasField("dim_value") and dst.dim_value == src.dim_value
        elif src.HasField("dim_param"):
            same = dst.HasField("dim_param") and dst.dim_param == src.dim_param
        else:
            same = not (dst.HasField("dim_value") or dst.HasField("dim_param"))
        if not same:
            dst.ClearField("dim_value")
            dst.ClearField("dim_param")


def _tensor_part(tp: onnx.TypeProto) -> onnx.TypeProto.Tensor | onnx.TypeProto.SparseTensor | None:
    kind = tp.WhichOneof("value")
    if kind == "tensor_type":
        return tp.tensor_type
    if kind == "sparse_tensor_type":
        return tp.sparse_tensor_type
    if kind == "optional_type" and tp.optional_type.elem_type.WhichOneof("value") == "tensor_type":
        return tp.optional_type.elem_type.tensor_type
    return None


def _merge_output(
    declared: onnx.TypeProto | None, inferred: onnx.TypeProto | None
) -> onnx.TypeProto | None:
    """The type onnxruntime reports for an output: inference merged into the declaration."""
    if declared is None or declared.WhichOneof("value") is None:
        return inferred
    result = onnx.TypeProto()
    result.CopyFrom(declared)
    target = _tensor_part(result)
    if target is not None and target.HasField("shape"):
        _clean_declared(target.shape)
    if inferred is None:
        return result
    source = _tensor_part(inferred)
    if target is None or source is None or not source.HasField("shape"):
        return result
    if not target.HasField("shape"):
        target.shape.CopyFrom(source.shape)
        return result
    try:
        _merge_strict(source.shape, target.shape)
    except _Conflict:
        _merge_union(source.shape, target)
    return result


def _declared_symbols(graph: onnx.GraphProto) -> set[str]:
    """The dim_params the graph's own inputs, outputs and value_info declare."""
    symbols: set[str] = set()
    for value in (*graph.input, *graph.output, *graph.value_info):
        stack = [value.type]
        while stack:
            tp = stack.pop()
            part = _tensor_part(tp)
            if part is not None:
                symbols.update(d.dim_param for d in part.shape.dim if d.dim_param)
            kind = tp.WhichOneof("value")
            if kind == "sequence_type":
                stack.append(tp.sequence_type.elem_type)
            elif kind == "map_type":
                stack.append(tp.map_type.value_type)
            elif kind == "optional_type":
                stack.append(tp.optional_type.elem_type)
    return symbols


def _forget_invented(tp: onnx.TypeProto, declared: set[str]) -> None:
    """onnxruntime has no symbols for dims inference cannot know; onnx invents ``unk__N``."""
    part = _tensor_part(tp)
    if part is None:
        return
    for dim in part.shape.dim:
        if _UNKNOWN_SYMBOL.match(dim.dim_param) and dim.dim_param not in declared:
            dim.ClearField("dim_param")


def _inferred_types(model: onnx.ModelProto) -> dict[str, onnx.TypeProto]:
    """Types of the graph's values as shape inference finds them, declared outputs ignored.

    onnxruntime infers from the inputs and merges the result into the declared
    outputs itself (see :func:`_merge_output`), so inference here starts from
    outputs without a type.
    """
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    for output in probe.graph.output:
        output.ClearField("type")
    # onnxruntime forgets negative or empty dims before it infers anything.
    for value in (*probe.graph.input, *probe.graph.value_info):
        part = _tensor_part(value.type)
        if part is not None and part.HasField("shape"):
            _clean_declared(part.shape)
    declared = _declared_symbols(probe.graph)
    try:
        inferred = onnx.shape_inference.infer_shapes(probe, check_type=False, strict_mode=False)
    except Exception as err:  # onnx raises many types; the declared types remain
        log.debug("shape inference failed, using declared outputs: %s", err)
        return {}
    types: dict[str, onnx.TypeProto] = {}
    graph = inferred.graph
    for value in (*graph.input, *graph.value_info, *graph.output):
        if value.HasField("type") and value.type.WhichOneof("value") is not None:
            _forget_invented(value.type, declared)
            types[value.name] = value.type
    return types


def io_ports_of(model: onnx.ModelProto) -> IOPorts:
    """The inputs and outputs of ``model`` as onnxruntime's ``InferenceSession`` reports them.

    Inputs are ``graph.input`` minus initializers (at every IR version);
    outputs are the declared outputs merged with the result of
    ``onnx.shape_inference`` the way onnxruntime merges them. ``model`` may be
    whole or stripped of its weights (dims and data types of initializers are
    enough, plus the values of the small ones that inference reads).

    Raises nothing for a well-formed ModelProto: when shape inference fails,
    the declared outputs are reported.
    """
    graph = model.graph
    initializers = {t.name for t in graph.initializer}
    initializers.update(s.values.name for s in graph.sparse_initializer)
    inputs = tuple(_port(v.name, v.type) for v in graph.input if v.name not in initializers)
    inferred = _inferred_types(model)
    outputs: list[IOPort] = []
    for value in graph.output:
        declared = value.type if value.HasField("type") else None
        merged = _merge_output(declared, inferred.get(value.name))
        outputs.append(_port(value.name, merged if merged is not None else onnx.TypeProto()))
    return IOPorts(inputs=inputs, outputs=tuple(outputs))
