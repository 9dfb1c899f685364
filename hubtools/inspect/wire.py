"""Streaming reader of the protobuf wire format: an ONNX file in, a ModelProto without weights out.

:func:`read_model` reads a file once, in order, in small chunks (hashing every
byte when asked to) and keeps only what a model's interface depends on: IR
version, opset imports, graph inputs/outputs/value_info, nodes, the dims and
data types of every tensor and the values of small ones; it decodes what it
keeps with the ``onnx`` package's own protobuf classes. It must not hold
weights in memory (peak memory follows the size of the graph), open external
data, or write anything.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import onnx
from google.protobuf.descriptor import (  # type: ignore[import-untyped]
    Descriptor,
    FieldDescriptor,
)
from google.protobuf.message import DecodeError, Message  # type: ignore[import-untyped]

from hubtools.errors import FileReadError

__all__ = [
    "MAX_DEPTH",
    "MAX_KEPT_BYTES",
    "SMALL_TENSOR_BYTES",
    "Invalid",
    "Reader",
    "encode_varint",
    "read_model",
]

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

# Protobuf wire types: varint, 64-bit, length-delimited, 32-bit.
_WT_VARINT, _WT_I64, _WT_LEN, _WT_I32 = 0, 1, 2, 5


class Invalid(Exception):
    """Content is not an ONNX model: a reason and the byte offset where it shows."""

    def __init__(self, reason: str, offset: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.offset = offset


class Reader:
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
                    raise Invalid("varint larger than 64 bits", start)
                self._i = i
                return result
            shift += 7
        if i - self._i >= 10:
            raise Invalid("varint longer than 10 bytes", start)
        raise Invalid("truncated varint", start)

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
            raise Invalid("file ends early", self._start)
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
                    raise Invalid("file ends early", new_start - remaining)
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


def encode_varint(value: int) -> bytes:
    """The base-128 varint encoding of a non-negative ``value`` (as protobuf writes it)."""
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

    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self.kept = 0

    def _keep(self, n: int, offset: int) -> bytes:
        self.kept += n
        if self.kept > MAX_KEPT_BYTES:
            raise Invalid(
                f"the model's graph (without weights) is larger than {MAX_KEPT_BYTES >> 20} MiB",
                offset,
            )
        return self.reader.take(n)

    def message(self, plan: _Plan, end: int, depth: int) -> bytes:
        """Parse fields up to ``end`` with ``plan``; the kept fields, re-encoded."""
        if depth > MAX_DEPTH:
            raise Invalid(f"messages nested deeper than {MAX_DEPTH} levels", self.reader.pos)
        reader = self.reader
        out = bytearray()
        while reader.pos < end:
            offset = reader.pos
            key = reader.varint(end)
            number, wire = key >> 3, key & 7
            if number == 0:
                raise Invalid("field number 0", offset)
            allowed = plan.wire_types.get(number)
            if wire not in (_WT_VARINT, _WT_I64, _WT_LEN, _WT_I32):
                raise Invalid(f"unsupported wire type {wire} in {plan.name}", offset)
            if allowed is not None and wire not in allowed:
                field = plan.field_names[number]
                raise Invalid(
                    f"field {number} ({plan.name}.{field}) has wire type {wire}, "
                    f"expected {'/'.join(str(w) for w in sorted(allowed))}",
                    offset,
                )
            if wire == _WT_VARINT:
                out += encode_varint(key) + encode_varint(reader.varint(end))
                continue
            if wire in (_WT_I64, _WT_I32):
                width = 8 if wire == _WT_I64 else 4
                if end - reader.pos < width:
                    raise Invalid(f"truncated field {number} in {plan.name}", offset)
                out += encode_varint(key) + reader.take(width)
                continue
            length = reader.varint(end)
            start = reader.pos
            if length > end - start:
                where = "file" if end == reader.size else plan.name
                raise Invalid(
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
                        raise Invalid(
                            f"field {number} ({plan.name}.{plan.field_names[number]}) "
                            f"is not a valid {cls.__name__}: {err}",
                            offset,
                        ) from err
            out += encode_varint(key) + encode_varint(len(content)) + content
        return bytes(out)


def read_model(reader: Reader, path: Path) -> onnx.ModelProto:
    """Stream the whole file as a ModelProto without its weights."""
    if reader.size == 0:
        raise Invalid("empty file", 0)
    stripper = _Stripper(reader)
    stripped = stripper.message(_MODEL_PLAN, reader.size, 0)
    try:
        model: onnx.ModelProto = onnx.ModelProto.FromString(stripped)
    except (DecodeError, RuntimeError) as err:
        raise Invalid(f"cannot decode ModelProto: {err}", 0) from err
    if not model.HasField("ir_version"):
        raise Invalid("no ir_version field (is this a ModelProto?)", reader.size)
    if not model.HasField("graph"):
        raise Invalid("no graph field (is this a ModelProto?)", reader.size)
    log.debug("%s: kept %d bytes of %d", path, stripper.kept, reader.size)
    return model
