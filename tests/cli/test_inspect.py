from __future__ import annotations

import hashlib
import json
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from tests.conftest import RunCli

OID = "ab" * 32


@pytest.fixture
def model(tmp_path: Path) -> Path:
    graph = helper.make_graph(
        [helper.make_node("Relu", ["X"], ["Y"])],
        "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", 3])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "model.onnx"
    onnx.save(model, path)
    return path


@pytest.fixture
def pointer(tmp_path: Path) -> Path:
    path = tmp_path / "pointer.onnx"
    path.write_text(f"version https://git-lfs.github.com/spec/v1\noid sha256:{OID}\nsize 99\n")
    return path


PORTS = {
    "inputs": [{"name": "X", "shape": ["N", 3], "type": "tensor(float)"}],
    "outputs": [{"name": "Y", "shape": ["N", 3], "type": "tensor(float)"}],
}


def _facts(path: Path, sha: str | None) -> dict[str, object]:
    return {
        "model_sha": sha,
        "model_bytes": path.stat().st_size,
        "opset_version": 17,
        "io_ports": PORTS,
        "ir_version": 8,
        "opset_import": [{"domain": "", "version": 17}],
        "lfs_pointer": False,
        "external_data": [],
        "problems": [],
    }


def test_one_model_as_json(run_cli: RunCli, model: Path) -> None:
    run = run_cli("inspect", "--json", model)
    assert (run.exit_code, run.stderr) == (0, "")
    sha = hashlib.sha256(model.read_bytes()).hexdigest()
    assert json.loads(run.stdout) == _facts(model, sha)
    assert run.stdout.count("\n") == 1


def test_no_hash(run_cli: RunCli, model: Path) -> None:
    run = run_cli("inspect", "--json", "--no-hash", model)
    assert run.exit_code == 0
    assert json.loads(run.stdout) == _facts(model, None)


def test_several_paths_give_json_lines(run_cli: RunCli, model: Path, pointer: Path) -> None:
    run = run_cli("inspect", "--json", model, pointer)
    assert run.exit_code == 0
    first, second = (json.loads(line) for line in run.stdout.splitlines())
    sha = hashlib.sha256(model.read_bytes()).hexdigest()
    assert first == {"path": str(model), **_facts(model, sha)}
    assert second == {
        "path": str(pointer),
        "model_sha": OID,
        "model_bytes": 99,
        "opset_version": None,
        "io_ports": None,
        "ir_version": None,
        "opset_import": [],
        "lfs_pointer": True,
        "external_data": [],
        "problems": [],
    }


def test_text_for_people(run_cli: RunCli, model: Path, pointer: Path) -> None:
    run = run_cli("inspect", model, pointer)
    assert run.exit_code == 0
    sha = hashlib.sha256(model.read_bytes()).hexdigest()
    assert run.stdout == (
        f"{model}\n"
        f"  sha256        {sha}\n"
        f"  size          {model.stat().st_size} bytes\n"
        "  ir_version    8\n"
        "  opset         17 (ai.onnx 17)\n"
        "  inputs\n"
        "    X  tensor(float)  [N, 3]\n"
        "  outputs\n"
        "    Y  tensor(float)  [N, 3]\n"
        f"{pointer}\n"
        f"  sha256        {OID}\n"
        "  size          99 bytes\n"
        "  Git LFS pointer: content not present, ONNX facts unknown\n"
    )


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file at byte 0"),
        (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "at byte "),
        (b"\x08" + b"\xff" * 30, "varint longer than 10 bytes at byte 1"),
    ],
)
def test_not_a_model_exits_1(run_cli: RunCli, tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "bad.onnx"
    path.write_bytes(content)
    run = run_cli("inspect", path)
    assert (run.exit_code, run.stdout) == (1, "")
    assert run.stderr.startswith(f"hubtools: error: {path}: not a valid ONNX model: ")
    assert reason in run.stderr
    assert "Traceback" not in run.stderr


def test_unreadable_exits_2(run_cli: RunCli, tmp_path: Path) -> None:
    run = run_cli("inspect", tmp_path / "missing.onnx")
    assert (run.exit_code, run.stdout) == (2, "")
    assert run.stderr == (
        f"hubtools: error: {tmp_path / 'missing.onnx'}: cannot read: No such file or directory\n"
    )
    run = run_cli("inspect", tmp_path)
    assert run.exit_code == 2
    assert run.stderr == f"hubtools: error: {tmp_path}: cannot read: Is a directory\n"


def test_no_path_is_a_usage_error(run_cli: RunCli) -> None:
    run = run_cli("inspect")
    assert run.exit_code == 2
    assert "Missing argument 'PATHS...'" in run.stderr


def test_worst_status_wins_and_json_lines_name_errors(
    run_cli: RunCli, model: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"")
    run = run_cli("inspect", "--json", "--no-hash", bad, model)
    assert run.exit_code == 1
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    assert lines[0] == {
        "path": str(bad),
        "error": f"{bad}: not a valid ONNX model: empty file at byte 0",
    }
    assert lines[1]["path"] == str(model)
    run = run_cli("inspect", "--json", bad, tmp_path / "missing.onnx", model)
    assert run.exit_code == 2


def test_external_data_escaping_is_a_problem(run_cli: RunCli, model: Path) -> None:
    proto = onnx.load(model)
    weight = proto.graph.initializer.add(name="W", dims=[1], data_type=TensorProto.FLOAT)
    weight.data_location = TensorProto.EXTERNAL
    weight.external_data.add(key="location", value="../../etc/w.bin")
    onnx.save(proto, model)
    run = run_cli("inspect", "--json", model)
    assert run.exit_code == 1
    data = json.loads(run.stdout)
    assert data["external_data"] == ["../../etc/w.bin"]
    message = "external data location '../../etc/w.bin' of tensor 'W' escapes the model's folder"
    assert data["problems"] == [message]
    assert run.stderr == f"hubtools: problem: {model}: {message}\n"
