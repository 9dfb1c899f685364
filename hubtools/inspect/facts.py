"""File facts of an ONNX model: sha256, size, IR version, opset imports and io_ports.

:func:`inspect_file` reads a file once, sequentially, in chunks. The bytes feed
sha256 and a streaming reader of the protobuf wire format that keeps the parts
of the ``ModelProto`` a model's interface depends on (IR version, opset
imports, graph inputs/outputs/value_info, nodes, the dims and data types of
every tensor and the values of small ones) and skips weights without storing
them. What it keeps is decoded with the ``onnx`` package's own protobuf
classes, so peak memory follows the size of the graph, not of its weights.
Without hashing, skipped payloads are seeked over instead of read.

:func:`io_ports_of` gives a model's inputs and outputs exactly as onnxruntime's
``InferenceSession.get_inputs()/get_outputs()`` report them, without
onnxruntime: it reproduces onnxruntime's rules (initializers are not inputs,
dims and type strings as onnxruntime spells them, outputs merged with the
result of shape inference the way onnxruntime merges them).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TypeVar

import onnx
from google.protobuf.descriptor import (  # type: ignore[import-untyped]
    Descriptor,
    FieldDescriptor,
)
from google.protobuf.message import DecodeError, Message  # type: ignore[import-untyped]

from hubtools.core.files import LFS_POINTER_MAX_BYTES, _open, parse_lfs_pointer
from hubtools.core.manifest import Dim, IOPort, IOPorts, JSONObject, JSONValue
from hubtools.core.paths import unsafe_reason
from hubtools.errors import FileReadError, InvalidModelError

log = logging.getLogger(__name__)

#: Read size of skipped payloads that are hashed (into one reused buffer).
_HASH_CHUNK = 1 << 20
#: Read-ahead of the parser: small, so seeks are cheap and no read allocates much.
_PARSE_CHUNK = 1 << 16
#: A tensor serialized in at most this many bytes is kept whole: shape inference
#: reads the values of small constants (Reshape shapes, Slice starts, Resize scales).
SMALL_TENSOR_BYTES = 4096
#: Other length-delimited fields the reader does not need are kept up to this size.
_SMALL_FIELD_BYTES = 1 << 16
#: Everything kept adds up to at most this much, whatever the file holds.
MAX_KEPT_BYTES = 256 << 20
#: Deeper nesting of messages than this is refused (graphs in graphs in graphs...).
MAX_DEPTH = 64

_WT_VARINT, _WT_I64, _WT_LEN, _WT_I32 = 0, 1, 2, 5
_DEFAULT_DOMAINS = ("", "ai.onnx")
_M = TypeVar("_M")
_UNKNOWN_SYMBOL = re.compile(r"unk__\d+\Z")


@dataclass(frozen=True)
class FileFacts:
    """What :func:`inspect_file` found out about one file.

    ``model_sha`` is None when hashing was not asked for (a Git LFS pointer
    always gives it). For a pointer, the ONNX facts are unknown: ``ir_version``,
    ``opset_version`` and ``io_ports`` are None. ``external_data`` lists the
    files, relative to the model's folder, that its tensors are stored in;
    ``problems`` says what is wrong with a model that is otherwise readable.
    """

    path: Path
    model_sha: str | None
    model_bytes: int
    lfs_pointer: bool
    ir_version: int | None
    opset_import: tuple[tuple[str, int], ...]
    opset_version: int | None
    io_ports: IOPorts | None
    external_data: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()

    def to_json(self) -> JSONObject:
        """The facts as the JSON object ``hubtools inspect --json`` prints."""
        opsets: list[JSONValue] = [{"domain": d, "version": v} for d, v in self.opset_import]
        return {
            "model_sha": self.model_sha,
            "model_bytes": self.model_bytes,
            "opset_version": self.opset_version,
            "io_ports": None if self.io_ports is None else self.io_ports.to_json(),
            "ir_version": self.ir_version,
            "opset_import": opsets,
            "lfs_pointer": self.lfs_pointer,
            "external_data": list(self.external_data),
            "problems": list(self.problems),
        }


# ---- streaming wire-format reader ----------------------------------------


class _Invalid(Exception):
    """Content is not an ONNX model: a reason and the byte offset where it shows."""

    def __init__(self, reason: str, offset: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.offset = offset


class _Reader:
    """Sequential reads over a file with a small buffer; optionally hashes every byte.

    With a hasher, skipping reads and hashes the skipped bytes (the file is
    read exactly once, in order); without one, it seeks.
    """

    def __init__(self, handle: BinaryIO, path: Path, size: int, hasher: hashlib._Hash | None):
        self._handle = handle
        self._path = path
        self.size = size
        self._hasher = hasher
        # One scratch buffer for hashed skips: fresh 1 MiB allocations cost page faults.
        self._scratch = memoryview(bytearray(_HASH_CHUNK if hasher is not None else 0))
        self._buf = b""
        self._i = 0
        self._start = 0  # file offset of self._buf[0]
        self.read_bytes = 0  # bytes read (and hashed) so far

    @property
    def pos(self) -> int:
        """File offset of the next byte to parse."""
        return self._start + self._i

    def _raw_read(self, n: int) -> bytes:
        try:
            data = self._handle.read(n)
        except OSError as err:
            raise FileReadError(f"{self._path}: cannot read: {err.strerror or err}") from err
        if self._hasher is not None:
            self._hasher.update(data)
        self.read_bytes += len(data)
        return data

    def head(self, n: int) -> bytes:
        """Up to ``n`` bytes from the current position without consuming them."""
        self._fill(n)
        return self._buf[self._i : self._i + n]

    def _fill(self, n: int) -> None:
        """Make at least ``n`` bytes available in the buffer, unless the file ends first."""
        have = len(self._buf) - self._i
        if have >= n:
            return
        more = self._raw_read(max(_PARSE_CHUNK, n - have))
        self._start += self._i
        self._buf = self._buf[self._i :] + more
        self._i = 0

    def varint(self, end: int) -> int:
        """Read a base-128 varint that must end before ``end``."""
        start = self.pos
        self._fill(10)
        buf, i = self._buf, self._i
        limit = min(len(buf), i + 10, i + end - start)
        result = shift = 0
        while i < limit:
            byte = buf[i]
            i += 1
            result |= (byte & 0x7F) << shift
            if byte < 0x80:
                if result >> 64:
                    raise _Invalid("varint larger than 64 bits", start)
                self._i = i
                return result
            shift += 7
        if i - self._i >= 10:
            raise _Invalid("varint longer than 10 bytes", start)
        raise _Invalid("truncated varint", start)

    def take(self, n: int) -> bytes:
        """Read ``n`` bytes (the caller checked they exist)."""
        have = len(self._buf) - self._i
        if n <= have:
            data = self._buf[self._i : self._i + n]
            self._i += n
            return data
        head, start = self._buf[self._i :], self.pos
        rest = self._raw_read(n - have)
        self._buf, self._i, self._start = b"", 0, start + have + len(rest)
        if len(rest) < n - have:
            raise _Invalid("file ends early", self._start)
        return head + rest

    def skip(self, n: int) -> None:
        """Move ``n`` bytes on without keeping them (the caller checked they exist)."""
        have = len(self._buf) - self._i
        if n <= have:
            self._i += n
            return
        remaining = n - have
        new_start = self.pos + n
        if self._hasher is None:
            try:
                self._handle.seek(remaining, os.SEEK_CUR)
            except OSError as err:
                raise FileReadError(f"{self._path}: cannot read: {err.strerror or err}") from err
        else:
            view = self._scratch
            while remaining:
                want = min(remaining, len(view))
                try:
                    got = self._handle.readinto(view[:want])  # type: ignore[attr-defined]
                except OSError as err:
                    msg = f"{self._path}: cannot read: {err.strerror or err}"
                    raise FileReadError(msg) from err
                if not got:
                    raise _Invalid("file ends early", new_start - remaining)
                self._hasher.update(view[:got])
                self.read_bytes += got
                remaining -= got
        self._buf, self._i, self._start = b"", 0, new_start

    def finish(self) -> None:
        """Hash the rest of the file (with a hasher), after the model was parsed."""
        if self._hasher is None:
            return
        self._buf, self._i = b"", 0
        view = self._scratch
        while True:
            try:
                got = self._handle.readinto(view)  # type: ignore[attr-defined]
            except OSError as err:
                msg = f"{self._path}: cannot read: {err.strerror or err}"
                raise FileReadError(msg) from err
            if not got:
                return
            self._hasher.update(view[:got])
            self.read_bytes += got


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


# What to do with a length-delimited field: keep it whole, skip it, descend into
# it with the plan of its message type, or (tensors) keep it whole when small.
_KEEP, _SKIP, _TENSOR = "keep", "skip", "tensor"


@dataclass(frozen=True)
class _Plan:
    """How to stream one message type: allowed wire types and an action per field."""

    name: str
    wire_types: dict[int, frozenset[int]]
    field_names: dict[int, str]
    classes: dict[int, type[Message]]
    actions: dict[int, str | _Plan]


_SCALAR_WIRE = {
    FieldDescriptor.TYPE_DOUBLE: _WT_I64,
    FieldDescriptor.TYPE_FIXED64: _WT_I64,
    FieldDescriptor.TYPE_SFIXED64: _WT_I64,
    FieldDescriptor.TYPE_FLOAT: _WT_I32,
    FieldDescriptor.TYPE_FIXED32: _WT_I32,
    FieldDescriptor.TYPE_SFIXED32: _WT_I32,
}


def _wire_types(field: FieldDescriptor) -> frozenset[int]:
    """The wire types a parser accepts for ``field`` (packed or not, for repeated scalars)."""
    if field.type in (
        FieldDescriptor.TYPE_MESSAGE,
        FieldDescriptor.TYPE_STRING,
        FieldDescriptor.TYPE_BYTES,
    ):
        return frozenset({_WT_LEN})
    wire = _SCALAR_WIRE.get(field.type, _WT_VARINT)
    repeated = bool(field.is_repeated)
    return frozenset({wire, _WT_LEN}) if repeated else frozenset({wire})


def _plan(message: type[Message], actions: dict[str, str | _Plan]) -> _Plan:
    """A plan for ``message`` from the onnx descriptor; ``actions`` by field name."""
    descriptor: Descriptor = message.DESCRIPTOR
    fields = descriptor.fields_by_name
    unknown = set(actions) - set(fields)
    if unknown:  # a renamed field in a future onnx: fail loudly in tests, not silently
        raise RuntimeError(f"{descriptor.name} has no fields {sorted(unknown)}")
    classes: dict[int, type[Message]] = {}
    for field in descriptor.fields:
        if field.message_type is not None:
            classes[field.number] = getattr(onnx, field.message_type.name, Message)
    return _Plan(
        name=descriptor.name,
        wire_types={f.number: _wire_types(f) for f in descriptor.fields},
        field_names={f.number: f.name for f in descriptor.fields},
        classes={k: v for k, v in classes.items() if v is not Message},
        actions={fields[name].number: action for name, action in actions.items()},
    )


_TENSOR_PAYLOADS = (
    "float_data",
    "int32_data",
    "string_data",
    "int64_data",
    "raw_data",
    "double_data",
    "uint64_data",
    "doc_string",
)
_BIG_TENSOR_PLAN = _plan(onnx.TensorProto, dict.fromkeys(_TENSOR_PAYLOADS, _SKIP))


def _build_model_plan() -> _Plan:
    """Plans for the messages the reader descends into; returns the ModelProto plan."""
    sparse = _plan(onnx.SparseTensorProto, {"values": _TENSOR, "indices": _TENSOR})
    graph_actions: dict[str, str | _Plan] = {}
    graph = _plan(onnx.GraphProto, graph_actions)
    attribute = _plan(
        onnx.AttributeProto,
        {
            "t": _TENSOR,
            "tensors": _TENSOR,
            "g": graph,
            "graphs": graph,
            "sparse_tensor": sparse,
            "sparse_tensors": sparse,
            "doc_string": _SKIP,
        },
    )
    node = _plan(onnx.NodeProto, {"attribute": attribute, "doc_string": _SKIP})
    # A graph holds nodes whose attributes hold graphs: fill its actions in place.
    graph_fields = onnx.GraphProto.DESCRIPTOR.fields_by_name
    graph_plan: dict[str, str | _Plan] = {
        "node": node,
        "initializer": _TENSOR,
        "sparse_initializer": sparse,
        "input": _KEEP,
        "output": _KEEP,
        "value_info": _KEEP,
        "doc_string": _SKIP,
    }
    for name, action in graph_plan.items():
        graph.actions[graph_fields[name].number] = action
    function = _plan(onnx.FunctionProto, {"node": node, "doc_string": _SKIP})
    return _plan(
        onnx.ModelProto,
        {
            "graph": graph,
            "opset_import": _KEEP,
            "functions": function,
            "training_info": _SKIP,
            "doc_string": _SKIP,
        },
    )


_MODEL_PLAN = _build_model_plan()


class _Stripper:
    """Streams a ModelProto, re-encoding what it keeps into a much smaller ModelProto."""

    def __init__(self, reader: _Reader) -> None:
        self.reader = reader
        self.kept = 0

    def _keep(self, n: int, offset: int) -> bytes:
        self.kept += n
        if self.kept > MAX_KEPT_BYTES:
            raise _Invalid(
                f"the model's graph (without weights) is larger than {MAX_KEPT_BYTES >> 20} MiB",
                offset,
            )
        return self.reader.take(n)

    def message(self, plan: _Plan, end: int, depth: int) -> bytes:
        """Parse fields up to ``end`` with ``plan``; the kept fields, re-encoded."""
        if depth > MAX_DEPTH:
            raise _Invalid(f"messages nested deeper than {MAX_DEPTH} levels", self.reader.pos)
        reader = self.reader
        out = bytearray()
        while reader.pos < end:
            offset = reader.pos
            key = reader.varint(end)
            number, wire = key >> 3, key & 7
            if number == 0:
                raise _Invalid("field number 0", offset)
            allowed = plan.wire_types.get(number)
            if wire not in (_WT_VARINT, _WT_I64, _WT_LEN, _WT_I32):
                raise _Invalid(f"unsupported wire type {wire} in {plan.name}", offset)
            if allowed is not None and wire not in allowed:
                field = plan.field_names[number]
                raise _Invalid(
                    f"field {number} ({plan.name}.{field}) has wire type {wire}, "
                    f"expected {'/'.join(str(w) for w in sorted(allowed))}",
                    offset,
                )
            if wire == _WT_VARINT:
                out += _encode_varint(key) + _encode_varint(reader.varint(end))
                continue
            if wire in (_WT_I64, _WT_I32):
                width = 8 if wire == _WT_I64 else 4
                if end - reader.pos < width:
                    raise _Invalid(f"truncated field {number} in {plan.name}", offset)
                out += _encode_varint(key) + reader.take(width)
                continue
            length = reader.varint(end)
            start = reader.pos
            if length > end - start:
                where = "file" if end == reader.size else plan.name
                raise _Invalid(
                    f"field {number} of {plan.name} is {length} bytes long, "
                    f"past the end of the {where}",
                    offset,
                )
            action = plan.actions.get(number)
            if action == _TENSOR:
                action = _KEEP if length <= SMALL_TENSOR_BYTES else _BIG_TENSOR_PLAN
            elif action is None:
                action = _KEEP if length <= _SMALL_FIELD_BYTES else _SKIP
            if action == _SKIP:
                reader.skip(length)
                continue
            if isinstance(action, _Plan):
                content = self.message(action, start + length, depth + 1)
            else:
                content = self._keep(length, start)
                cls = plan.classes.get(number)
                if cls is not None:
                    try:
                        cls.FromString(content)
                    except (DecodeError, RuntimeError) as err:
                        raise _Invalid(
                            f"field {number} ({plan.name}.{plan.field_names[number]}) "
                            f"is not a valid {cls.__name__}: {err}",
                            offset,
                        ) from err
            out += _encode_varint(key) + _encode_varint(len(content)) + content
        return bytes(out)


def _read_model(reader: _Reader, path: Path) -> onnx.ModelProto:
    """Stream the whole file as a ModelProto without its weights."""
    if reader.size == 0:
        raise _Invalid("empty file", 0)
    stripper = _Stripper(reader)
    stripped = stripper.message(_MODEL_PLAN, reader.size, 0)
    try:
        model: onnx.ModelProto = onnx.ModelProto.FromString(stripped)
    except (DecodeError, RuntimeError) as err:
        raise _Invalid(f"cannot decode ModelProto: {err}", 0) from err
    if not model.HasField("ir_version"):
        raise _Invalid("no ir_version field (is this a ModelProto?)", reader.size)
    if not model.HasField("graph"):
        raise _Invalid("no graph field (is this a ModelProto?)", reader.size)
    log.debug("%s: kept %d bytes of %d", path, stripper.kept, reader.size)
    return model


# ---- external data -------------------------------------------------------


def _graph_tensors(graph: onnx.GraphProto) -> Iterator[onnx.TensorProto]:
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield sparse.values
        yield sparse.indices
    yield from _node_tensors(graph.node)


def _node_tensors(nodes: Iterable[onnx.NodeProto]) -> Iterator[onnx.TensorProto]:
    for node in nodes:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors
            for sparse in (
                *([attr.sparse_tensor] if attr.HasField("sparse_tensor") else []),
                *attr.sparse_tensors,
            ):
                yield sparse.values
                yield sparse.indices
            if attr.HasField("g"):
                yield from _graph_tensors(attr.g)
            for sub in attr.graphs:
                yield from _graph_tensors(sub)


def _model_tensors(model: onnx.ModelProto) -> Iterator[onnx.TensorProto]:
    yield from _graph_tensors(model.graph)
    for function in model.functions:
        yield from _node_tensors(function.node)


def _external_data(model: onnx.ModelProto) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The external files ``model`` refers to, and problems with their locations."""
    files: dict[str, None] = {}
    problems: dict[str, None] = {}
    for tensor in _model_tensors(model):
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        entries = {e.key: e.value for e in tensor.external_data}
        location = entries.get("location")
        if not location:
            problems[f"tensor {tensor.name!r} has external data without a location"] = None
            continue
        files[location] = None
        if unsafe_reason(location, strict=False) is not None:
            problems[
                f"external data location {location!r} of tensor {tensor.name!r} "
                "escapes the model's folder"
            ] = None
    return tuple(files), tuple(problems)


# ---- io_ports ------------------------------------------------------------


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


def default_opset(opset_import: tuple[tuple[str, int], ...]) -> int | None:
    """The version of the default domain (``""`` or ``"ai.onnx"``), or None when not imported."""
    for domain, version in opset_import:
        if domain in _DEFAULT_DOMAINS:
            return version
    return None


# ---- inspect -------------------------------------------------------------


def inspect_file(path: Path, *, hash: bool = True) -> FileFacts:
    """The facts of one model file, read in one sequential pass.

    ``hash=False`` skips sha256 (``model_sha`` is None) and seeks over weights
    instead of reading them. A Git LFS pointer gives its ``oid`` and ``size``
    and unknown ONNX facts. External data files are never opened.

    Raises:
        InvalidModelError: the content is not an ONNX model; the message says
            why and at which byte.
        FileReadError: the file cannot be opened or read (also an ``OSError``).
    """
    path = Path(path)
    hasher = hashlib.sha256() if hash else None
    with _open(path) as handle:
        try:
            size = os.fstat(handle.fileno()).st_size
        except OSError as err:
            raise FileReadError(f"{path}: cannot read: {err.strerror or err}") from err
        reader = _Reader(handle, path, size, hasher)
        head = reader.head(LFS_POINTER_MAX_BYTES + 1)
        pointer = parse_lfs_pointer(head) if len(head) <= LFS_POINTER_MAX_BYTES else None
        if pointer is not None:
            log.debug("%s: Git LFS pointer to %s", path, pointer.oid)
            return FileFacts(
                path=path,
                model_sha=pointer.oid,
                model_bytes=pointer.size,
                lfs_pointer=True,
                ir_version=None,
                opset_import=(),
                opset_version=None,
                io_ports=None,
            )
        model = _read_model_or_raise(reader, path)
        reader.finish()
    return _facts(
        path,
        model,
        model_sha=hasher.hexdigest() if hasher is not None else None,
        model_bytes=reader.read_bytes if hasher is not None else size,
    )


def _read_model_or_raise(reader: _Reader, path: Path, where: str = "") -> onnx.ModelProto:
    try:
        return _read_model(reader, path)
    except _Invalid as err:
        raise InvalidModelError(
            f"{path}{where}: not a valid ONNX model: {err.reason} at byte {err.offset}"
        ) from None


def _facts(
    path: Path, model: onnx.ModelProto, *, model_sha: str | None, model_bytes: int
) -> FileFacts:
    opset_import = tuple((o.domain, o.version) for o in model.opset_import)
    external, problems = _external_data(model)
    return FileFacts(
        path=path,
        model_sha=model_sha,
        model_bytes=model_bytes,
        lfs_pointer=False,
        ir_version=model.ir_version,
        opset_import=opset_import,
        opset_version=default_opset(opset_import),
        io_ports=io_ports_of(model),
        external_data=external,
        problems=problems,
    )


def inspect_archive(path: Path, archive: str, *, hash: bool = True) -> FileFacts:
    """The facts of a ``.tar.gz`` or ``.zip`` that holds one ``.onnx`` model and
    its external data (the zoo's new-layout archives): sha256 and size are the
    archive's, the ONNX facts the model member's (read without extracting
    anything to disk; external data files are never read).

    A Git LFS pointer gives its ``oid`` and ``size`` and unknown ONNX facts.

    Raises:
        InvalidModelError: not such an archive, no or several ``.onnx`` members,
            or the member is not an ONNX model.
        FileReadError: the file cannot be read (also an ``OSError``).
    """
    import tarfile
    import zipfile

    from hubtools.core.files import digest

    path = Path(path)
    found = digest(path) if hash else None
    if found is not None and found.lfs_pointer:
        return FileFacts(path, found.sha256, found.size, True, None, (), None, None)
    size = found.size if found is not None else path.stat().st_size
    sha = found.sha256 if found is not None else None
    try:
        if archive == "zip":
            with zipfile.ZipFile(path) as zipped:
                names = [i for i in zipped.infolist() if i.filename.endswith(".onnx")]
                member = _single(names, path, [i.filename for i in names])
                with zipped.open(member) as handle:
                    reader = _Reader(handle, path, member.file_size, None)  # type: ignore[arg-type]
                    model = _read_model_or_raise(reader, path, f"!{member.filename}")
        else:
            with tarfile.open(path, "r:*") as tar:
                members = [m for m in tar.getmembers() if m.isfile() and m.name.endswith(".onnx")]
                entry = _single(members, path, [m.name for m in members])
                extracted = tar.extractfile(entry)
                assert extracted is not None  # a regular file member always has one
                with extracted:
                    reader = _Reader(extracted, path, entry.size, None)  # type: ignore[arg-type]
                    model = _read_model_or_raise(reader, path, f"!{entry.name}")
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as err:
        if isinstance(err, FileReadError):
            raise
        raise InvalidModelError(f"{path}: not a readable {archive} archive: {err}") from err
    return _facts(path, model, model_sha=sha, model_bytes=size)


def _single(members: list[_M], path: Path, names: list[str]) -> _M:
    if len(members) != 1:
        what = (
            "no .onnx file" if not members else f"{len(members)} .onnx files ({', '.join(names)})"
        )
        raise InvalidModelError(f"{path}: the archive holds {what}; it must hold exactly one")
    return members[0]
