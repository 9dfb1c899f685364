from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from hubtools.errors import InvalidModelError, UnsafeArchiveError
from hubtools.inspect.facts import inspect_archive, inspect_file


def _model_with_external_data(folder: Path) -> tuple[bytes, bytes]:
    import numpy as np

    weights = numpy_helper.from_array(np.arange(64, dtype=np.float32).reshape(8, 8), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 8])],
        [weights],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save_model(
        model, folder / "m.onnx", save_as_external_data=True, location="m.data", size_threshold=0
    )
    return (folder / "m.onnx").read_bytes(), (folder / "m.data").read_bytes()


def _tar(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


@pytest.mark.parametrize("kind", ["tar.gz", "zip"])
def test_archive_facts_are_the_archives_sha_and_the_members_ports(
    tmp_path: Path, kind: str
) -> None:
    onnx_bytes, data = _model_with_external_data(tmp_path)
    archive = tmp_path / f"a.{kind}"
    members = {"m/m.onnx": onnx_bytes, "m/m.data": data}
    if kind == "zip":
        with zipfile.ZipFile(archive, "w") as zipped:
            for name, content in members.items():
                zipped.writestr(name, content)
    else:
        _tar(archive, members)
    facts = inspect_archive(archive, kind)
    raw = archive.read_bytes()
    assert (facts.model_sha, facts.model_bytes) == (hashlib.sha256(raw).hexdigest(), len(raw))
    direct = inspect_file(tmp_path / "m.onnx")
    assert facts.io_ports == direct.io_ports
    assert facts.opset_version == 17
    assert facts.external_data == ("m.data",)
    assert not facts.lfs_pointer


def test_pointer_archive_gives_the_pointers_facts(tmp_path: Path) -> None:
    oid = "a" * 64
    path = tmp_path / "a.tar.gz"
    path.write_text(f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize 12\n")
    facts = inspect_archive(path, "tar.gz")
    assert (facts.model_sha, facts.model_bytes, facts.lfs_pointer, facts.io_ports) == (
        oid,
        12,
        True,
        None,
    )


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({"readme.txt": b"x"}, "the archive holds no .onnx file; it must hold exactly one"),
        ({"a.onnx": b"x", "b.onnx": b"y"}, "2 .onnx files (a.onnx, b.onnx)"),
        ({"a.onnx": b"\x07junk"}, "a.tar.gz!a.onnx: not a valid ONNX model"),
    ],
)
def test_bad_archives(tmp_path: Path, members: dict[str, bytes], message: str) -> None:
    path = tmp_path / "a.tar.gz"
    _tar(path, members)
    with pytest.raises(InvalidModelError, match=message.replace("(", r"\(").replace(")", r"\)")):
        inspect_archive(path, "tar.gz")


def test_not_an_archive(tmp_path: Path) -> None:
    path = tmp_path / "a.zip"
    path.write_bytes(b"PK nothing")
    with pytest.raises(InvalidModelError, match="not a readable tar or zip archive"):
        inspect_archive(path, "zip")


@pytest.mark.parametrize("name", ["a.tar.gz", "a.tgz"])
def test_inspect_command_reads_archives(tmp_path: Path, name: str) -> None:
    """``.tgz`` is a tar.gz to every command (inspect parsed it as protobuf)."""
    import json

    from click.testing import CliRunner

    from hubtools.cli import cli

    onnx_bytes, data = _model_with_external_data(tmp_path)
    path = tmp_path / name
    _tar(path, {"m/m.onnx": onnx_bytes, "m/m.data": data})
    result = CliRunner().invoke(cli, ["inspect", "--json", str(path)])
    assert result.exit_code == 0, result.output
    facts = json.loads(result.stdout)
    assert facts["model_sha"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert facts["io_ports"]["inputs"] == [
        {"name": "x", "shape": ["N", 8], "type": "tensor(float)"}
    ]


@pytest.mark.parametrize("hash", [True, False])
def test_archives_the_client_refuses_are_refused(tmp_path: Path, hash: bool) -> None:
    onnx_bytes, data = _model_with_external_data(tmp_path)
    path = tmp_path / "a.tar.gz"
    _tar(path, {"m/m.onnx": onnx_bytes, "../m.data": data})
    with pytest.raises(InvalidModelError) as info:
        inspect_archive(path, "tar.gz", hash=hash)
    assert str(info.value) == f"{path}: member '../m.data' leaves the extraction folder; refused"
    assert isinstance(info.value.__cause__, UnsafeArchiveError)
