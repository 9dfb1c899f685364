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
from typing import Any

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
    """Types of the graph's values as onnxruntime's type inference finds them,
    declared outputs ignored.

    onnxruntime infers from the inputs and merges the result into the declared
    outputs itself (see :func:`_merge_output`), so inference here starts from
    outputs without a type. Where ``onnx.shape_inference`` leaves a node's
    outputs untyped (operators without an inference function, such as the
    ``ai.onnx.ml`` Scaler or LinearRegressor that scikit-learn converters
    write), the types onnxruntime gives them from the operator's schema
    (:func:`_schema_types`) are added and inference runs again, as
    onnxruntime infers each node from the types its inputs got.
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
    types = _shape_inference(probe, declared)
    # Each round types at least one more value, or stops.
    for _ in range(len(probe.graph.node)):
        if all(o.name in types for o in probe.graph.output):
            break  # what most models reach at once: nothing else to learn
        found = _schema_types(probe, types)
        if not found:
            break
        for name, tp in found.items():
            probe.graph.value_info.append(_value_info(name, tp))
        types = {**found, **_shape_inference(probe, declared)}
    return types


def _value_info(name: str, tp: onnx.TypeProto) -> onnx.ValueInfoProto:
    """A ValueInfoProto of ``name`` with type ``tp``."""
    value = onnx.ValueInfoProto(name=name)
    value.type.CopyFrom(tp)
    return value


def _shape_inference(probe: onnx.ModelProto, declared: set[str]) -> dict[str, onnx.TypeProto]:
    """Types of the values ``onnx.shape_inference`` finds in ``probe`` (none when it fails)."""
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


# ---- onnxruntime's typing from operator schemas --------------------------


def _schema_types(
    model: onnx.ModelProto, known: dict[str, onnx.TypeProto]
) -> dict[str, onnx.TypeProto]:
    """Types onnxruntime gives node outputs that ``known`` lacks, from schemas alone.

    onnxruntime (``Graph::InferAndVerifyTypeMatch``) types an output before
    looking at what inference says: with the type its input bound to the
    same type parameter when the output is homogeneous (Concat's ``T``),
    else with the one type its schema allows (Scaler's ``tensor(float)``).
    Such a type has no shape; nodes are taken in graph order, so one pass
    follows a chain of them.
    """
    opsets: dict[str, int] = {}
    for opset in model.opset_import:
        opsets.setdefault("" if opset.domain == "ai.onnx" else opset.domain, opset.version)
    types = dict(known)
    for init in model.graph.initializer:
        types.setdefault(init.name, _tensor_type(init.data_type))
    found: dict[str, onnx.TypeProto] = {}
    for node in model.graph.node:
        domain = "" if node.domain == "ai.onnx" else node.domain
        version = opsets.get(domain)
        if version is None or all(not name or name in types for name in node.output):
            continue
        try:
            schema = onnx.defs.get_schema(node.op_type, version, domain)
        except onnx.defs.SchemaError:
            continue  # a model-local function or a custom domain: onnxruntime's own business
        bound: dict[str, onnx.TypeProto] = {}
        for index, name in enumerate(node.input):
            if name and name in types and schema.inputs:
                param = schema.inputs[min(index, len(schema.inputs) - 1)]
                bound.setdefault(param.type_str, types[name])
        for index, name in enumerate(node.output):
            if not name or name in types or not schema.outputs:
                continue
            tp = _output_type(schema.outputs[min(index, len(schema.outputs) - 1)], bound)
            if tp is not None:
                found[name] = types[name] = tp
    return found


def _output_type(param: Any, bound: dict[str, onnx.TypeProto]) -> onnx.TypeProto | None:
    """The type a schema's output parameter gets without inference: its input's
    when homogeneous with one, else its only allowed type; None otherwise."""
    if param.is_homogeneous and param.type_str in bound:
        return _without_shapes(bound[param.type_str])
    if len(param.types) == 1:
        return _parse_type(next(iter(param.types)))
    return None


def _tensor_type(elem_type: int) -> onnx.TypeProto:
    tp = onnx.TypeProto()
    tp.tensor_type.elem_type = elem_type
    return tp


def _without_shapes(tp: onnx.TypeProto) -> onnx.TypeProto:
    """``tp`` with every tensor shape in it removed (onnxruntime's DataType)."""
    out = onnx.TypeProto()
    out.CopyFrom(tp)
    current = out
    for _ in range(MAX_DEPTH * 4):
        kind = current.WhichOneof("value")
        if kind == "tensor_type":
            current.tensor_type.ClearField("shape")
        elif kind == "sparse_tensor_type":
            current.sparse_tensor_type.ClearField("shape")
        elif kind == "sequence_type":
            current = current.sequence_type.elem_type
            continue
        elif kind == "optional_type":
            current = current.optional_type.elem_type
            continue
        elif kind == "map_type":
            current = current.map_type.value_type
            continue
        break
    return out


def _parse_type(text: str) -> onnx.TypeProto | None:
    """The TypeProto of a schema's type string (``seq(map(int64,tensor(float)))``);
    None for one hubtools cannot read."""
    text = text.replace(" ", "")
    tp = onnx.TypeProto()
    if text.startswith(("tensor(", "sparse_tensor(")) and text.endswith(")"):
        elem = _element_number(text[text.index("(") + 1 : -1])
        if elem is None:
            return None
        part = tp.tensor_type if text.startswith("tensor(") else tp.sparse_tensor_type
        part.elem_type = elem
        return tp
    for prefix, field in (("seq(", "sequence_type"), ("optional(", "optional_type")):
        if text.startswith(prefix) and text.endswith(")"):
            inner = _parse_type(text[len(prefix) : -1])
            if inner is None:
                return None
            getattr(tp, field).elem_type.CopyFrom(inner)
            return tp
    if text.startswith("map(") and text.endswith(")") and "," in text:
        key, value = text[4:-1].split(",", 1)
        key_type, value_type = _element_number(key), _parse_type(value)
        if key_type is None or value_type is None:
            return None
        tp.map_type.key_type = key_type
        tp.map_type.value_type.CopyFrom(value_type)
        return tp
    return None


def _element_number(name: str) -> int | None:
    """The TensorProto data type named ``name`` as a schema spells it (``float``, ``int64``)."""
    try:
        return int(onnx.TensorProto.DataType.Value(name.upper()))
    except ValueError:
        return None


def io_ports_of(model: onnx.ModelProto, *, infer: bool = True) -> IOPorts:
    """The inputs and outputs of ``model`` as onnxruntime's ``InferenceSession`` reports them.

    Inputs are ``graph.input`` minus initializers (at every IR version);
    outputs are the declared outputs merged with the result of
    ``onnx.shape_inference`` the way onnxruntime merges them. ``model`` may be
    whole or stripped of its weights (dims and data types of initializers are
    enough, plus the values of the small ones that inference reads).

    Raises nothing for a well-formed ModelProto: when shape inference fails,
    or ``infer`` is False (a graph too large to infer within memory), the
    declared outputs are reported.
    """
    graph = model.graph
    initializers = {t.name for t in graph.initializer}
    initializers.update(s.values.name for s in graph.sparse_initializer)
    inputs = tuple(_port(v.name, v.type) for v in graph.input if v.name not in initializers)
    inferred = _inferred_types(model) if infer else {}
    outputs: list[IOPort] = []
    for value in graph.output:
        declared = value.type if value.HasField("type") else None
        merged = _merge_output(declared, inferred.get(value.name))
        outputs.append(_port(value.name, merged if merged is not None else onnx.TypeProto()))
    return IOPorts(inputs=inputs, outputs=tuple(outputs))
