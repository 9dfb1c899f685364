from __future__ import annotations

import hashlib
import json
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from hubtools.errors import Severity
from hubtools.validate.checks import check_manifest_text, validate_manifest


def _model(opset: int = 13) -> bytes:
    node = helper.make_node("Relu", ["x"], ["y"])
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model.SerializeToString()


def _pointer(content: bytes) -> bytes:
    oid = hashlib.sha256(content).hexdigest()
    spec = "version https://git-lfs.github.com/spec/v1\n"
    return f"{spec}oid sha256:{oid}\nsize {len(content)}\n".encode()


def _entry(path: str, content: bytes, bundle: tuple[str, bytes] | None = None) -> dict[str, object]:
    md: dict[str, object] = {
        "model_sha": hashlib.sha256(content).hexdigest(),
        "model_bytes": len(content),
        "tags": ["t"],
        "io_ports": {
            "inputs": [{"name": "x", "shape": ["N", 4], "type": "tensor(float)"}],
            "outputs": [{"name": "y", "shape": [], "type": "tensor(float)"}],
        },
    }
    if bundle:
        md["model_with_data_path"] = bundle[0]
        md["model_with_data_sha"] = hashlib.sha256(bundle[1]).hexdigest()
        md["model_with_data_bytes"] = len(bundle[1])
    return {
        "model": path.split("/")[-1],
        "model_path": path,
        "onnx_version": "1.14",
        "opset_version": 13,
        "metadata": md,
    }


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, list[dict[str, object]]]:
    root = tmp_path / "repo"
    (root / "m").mkdir(parents=True)
    content = _model()
    big = b"bundle bytes" * 1000
    (root / "m" / "a.onnx").write_bytes(content)
    (root / "m" / "a.tar.gz").write_bytes(big)
    (root / "m" / "b.onnx").write_bytes(_pointer(content))  # content not pulled
    (root / "m" / "b.tar.gz").write_bytes(_pointer(big))
    entries = [
        _entry("m/a.onnx", content, ("m/a.tar.gz", big)),
        _entry("m/b.onnx", content, ("m/b.tar.gz", big)),
    ]
    return root, entries


def _validate(
    tmp_path: Path, root: Path, entries: list[dict[str, object]]
) -> list[tuple[str, str | None]]:
    manifest = tmp_path / "ONNX_HUB_MANIFEST.json"
    manifest.write_text(json.dumps(entries, indent=4))
    result = validate_manifest(manifest, repo=root)
    return [(p.code, p.location.pointer) for p in result.report]


def test_matching_repo_is_clean_and_counts_what_it_checked(
    tmp_path: Path, repo: tuple[Path, list[dict[str, object]]]
) -> None:
    root, entries = repo
    manifest = tmp_path / "ONNX_HUB_MANIFEST.json"
    manifest.write_text(json.dumps(entries, indent=4))
    result = validate_manifest(manifest, repo=root)
    assert list(result.report) == []
    assert result.report.checked == {
        "entries": 2,
        "files": 4,
        "from LFS pointers": 2,
        "hashed": 2,
        "bytes hashed": len(_model()) + 12_000,
    }


def test_each_file_problem_is_found(
    tmp_path: Path, repo: tuple[Path, list[dict[str, object]]]
) -> None:
    root, entries = repo
    (root / "m" / "c.onnx").write_bytes(b"\x89PNG\r\n\x1a\n not a model")
    (root / "outside.onnx").write_bytes(_model())
    (root / "m" / "link.onnx").symlink_to(tmp_path / "elsewhere.onnx")
    (tmp_path / "elsewhere.onnx").write_bytes(_model())
    a, b = entries
    a["metadata"]["model_sha"] = "0" * 64  # type: ignore[index]
    a["metadata"]["model_with_data_bytes"] = 5  # type: ignore[index]
    a["opset_version"] = 12
    a["metadata"]["io_ports"]["inputs"][0]["shape"] = [1, 4]  # type: ignore[index]
    b["metadata"]["model_bytes"] = 1  # type: ignore[index]
    missing = _entry("m/missing.onnx", b"")
    invalid = _entry("m/c.onnx", b"")
    link = _entry("m/link.onnx", _model())
    found = _validate(tmp_path, root, [a, b, invalid, link, missing])
    assert sorted(found) == sorted(
        [
            ("opset-mismatch", "/0/opset_version"),
            ("sha-mismatch", "/0/metadata/model_sha"),
            ("io-ports-mismatch", "/0/metadata/io_ports/inputs"),
            ("size-mismatch", "/0/metadata/model_with_data_bytes"),
            ("size-mismatch", "/1/metadata/model_bytes"),
            ("invalid-model", "/2/model_path"),
            ("sha-mismatch", "/2/metadata/model_sha"),
            ("size-mismatch", "/2/metadata/model_bytes"),
            ("path-escapes", "/3/model_path"),
            ("missing-file", "/4/model_path"),
        ]
    )


def test_messages_say_what_where_and_how(
    tmp_path: Path, repo: tuple[Path, list[dict[str, object]]]
) -> None:
    root, entries = repo
    entries[1]["metadata"]["model_sha"] = "f" * 64  # type: ignore[index]
    manifest = tmp_path / "ONNX_HUB_MANIFEST.json"
    manifest.write_text(json.dumps(entries, indent=4))
    (problem,) = validate_manifest(manifest, repo=root).report
    oid = hashlib.sha256(_model()).hexdigest()
    assert str(problem) == (
        f"{manifest}:43:26: error sha-mismatch /1/metadata/model_sha: manifest says {'f' * 64}, "
        f"the Git LFS pointer 'm/b.onnx' has {oid} (fix: run `hubtools generate` to recompute it)"
    )


def test_check_manifest_text_keeps_only_schema_valid_entries() -> None:
    good = _entry("m/a.onnx", b"x")
    bad = _entry("../escape.onnx", b"x")
    manifest, report = check_manifest_text(json.dumps([good, bad]), "remote")
    assert manifest is not None
    assert [e.model_path for e in manifest] == ["m/a.onnx"]
    assert [(p.code, p.location.pointer, p.severity) for p in report] == [
        ("schema-pattern", "/1/model_path", Severity.ERROR)
    ]
    assert check_manifest_text("{}", "remote")[0] is None


def test_real_zoo_against_its_pointers(shared_zoo: Path) -> None:
    result = validate_manifest(shared_zoo / "ONNX_HUB_MANIFEST.json", repo=shared_zoo)
    assert list(result.report) == []
    assert result.report.checked["files"] == 368
    assert result.report.checked["from LFS pointers"] == 368


def test_real_zoo_with_a_stale_sha(shared_zoo: Path, tmp_path: Path) -> None:
    data = json.loads((shared_zoo / "ONNX_HUB_MANIFEST.json").read_text())
    data[7]["metadata"]["model_with_data_sha"] = "1" * 64
    manifest = tmp_path / "ONNX_HUB_MANIFEST.json"
    manifest.write_text(json.dumps(data, indent=4))
    problems = list(validate_manifest(manifest, repo=shared_zoo).report)
    assert [(p.code, p.location.pointer) for p in problems] == [
        ("sha-mismatch", "/7/metadata/model_with_data_sha")
    ]


def test_onnx_model_fixture_is_loadable() -> None:
    onnx.checker.check_model(onnx.load_from_string(_model()))
