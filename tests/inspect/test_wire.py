"""The streaming wire-format reader: flat memory, bad input, fuzzing, nesting limits."""

from __future__ import annotations

import hashlib
import os
import random
import tempfile
import tracemalloc
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper

from hubtools.core.manifest import IOPort, IOPorts
from hubtools.errors import InvalidModelError
from hubtools.inspect.facts import inspect_file
from hubtools.inspect.wire import MAX_DEPTH
from tests.inspect.support import big_model, model_of, tensor

# ---- streaming, memory ---------------------------------------------------


@pytest.mark.parametrize("hash", [True, False])
def test_memory_does_not_follow_weights(tmp_path: Path, hash: bool) -> None:
    path = tmp_path / "big.onnx"
    big_model(path, 64 << 20)
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
