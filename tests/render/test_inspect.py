"""Rendering the facts of an inspected file for people."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from hubtools.core.manifest import IOPort, IOPorts
from hubtools.inspect.facts import FileFacts
from hubtools.render.inspect import (
    error_json,
    format_dims,
    inspect_json,
    inspect_text,
    problem_lines,
)

PORTS = IOPorts(
    inputs=(IOPort("x", (1, "N", None), "tensor(float)"),),
    outputs=(IOPort("y", (), "tensor(int64)"), IOPort("z", (2,), "tensor(float)")),
)


MODEL = FileFacts(
    path=Path("m/net.onnx"),
    model_sha="a" * 64,
    model_bytes=217,
    lfs_pointer=False,
    ir_version=8,
    opset_import=(("", 17), ("com.microsoft", 1)),
    opset_version=17,
    io_ports=PORTS,
)


def test_format_dims() -> None:
    assert format_dims([1, "N", None]) == "[1, N, ?]"
    assert format_dims(()) == "[]"


def test_a_model() -> None:
    text = replace(MODEL, external_data=("weights.bin",), problems=("external data outside",))
    assert inspect_text(text) == "\n".join(
        [
            "m/net.onnx",
            f"  sha256        {'a' * 64}",
            "  size          217 bytes",
            "  ir_version    8",
            "  opset         17 (ai.onnx 17, com.microsoft 1)",
            "  inputs",
            "    x  tensor(float)  [1, N, ?]",
            "  outputs",
            "    y  tensor(int64)  []",
            "    z  tensor(float)  [2]",
            "  external data weights.bin",
            "  problem: external data outside",
        ]
    )


def test_no_hash_and_no_imports() -> None:
    text = replace(MODEL, model_sha=None, opset_import=(), opset_version=None, io_ports=IOPorts())
    assert inspect_text(text) == "\n".join(
        [
            "m/net.onnx",
            "  sha256        (not computed: --no-hash)",
            "  size          217 bytes",
            "  ir_version    8",
            "  opset         None (no imports)",
            "  inputs",
            "  outputs",
        ]
    )


def test_an_lfs_pointer() -> None:
    pointer = replace(
        MODEL, lfs_pointer=True, ir_version=None, opset_import=(), opset_version=None, io_ports=None
    )
    assert inspect_text(pointer) == "\n".join(
        [
            "m/net.onnx",
            f"  sha256        {'a' * 64}",
            "  size          217 bytes",
            "  Git LFS pointer: content not present, ONNX facts unknown",
        ]
    )


def test_json_lines() -> None:
    pointer = replace(
        MODEL, lfs_pointer=True, ir_version=None, opset_import=(), opset_version=None, io_ports=None
    )
    expected = {
        "model_sha": "a" * 64,
        "model_bytes": 217,
        "opset_version": None,
        "io_ports": None,
        "ir_version": None,
        "opset_import": [],
        "lfs_pointer": True,
        "external_data": [],
        "problems": [],
    }
    assert inspect_json(pointer) == json.dumps(expected)
    assert inspect_json(pointer, Path("given/net.onnx")) == json.dumps(
        {"path": "given/net.onnx", **expected}
    )
    assert error_json(Path("x.onnx"), "x.onnx: no such file") == (
        '{"path": "x.onnx", "error": "x.onnx: no such file"}'
    )


def test_problem_lines() -> None:
    broken = replace(MODEL, problems=("external data outside", "another"))
    assert problem_lines(Path("given.onnx"), broken) == [
        "hubtools: problem: given.onnx: external data outside",
        "hubtools: problem: given.onnx: another",
    ]
    assert problem_lines(Path("given.onnx"), MODEL) == []
