"""The ``--repo`` cross-check: every entry's files against the repository."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import onnx
import pytest

from hubtools.core.manifest import ModelEntry
from hubtools.errors import Report, UsageError
from hubtools.validate.checks import validate_manifest
from hubtools.validate.repo_checks import repo_problems
from tests.client_support import make_tar
from tests.generate.support import pointer

from .support import entry, model_bytes

#: The test-data bundle of the fixture repository: a real tarball, as the client extracts it.
BUNDLE = {"a/test_data_set_0/input_0.pb": b"bundle bytes" * 1000}


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, list[dict[str, object]]]:
    root = tmp_path / "repo"
    (root / "m").mkdir(parents=True)
    content = model_bytes()
    big = make_tar(BUNDLE)
    (root / "m" / "a.onnx").write_bytes(content)
    (root / "m" / "a.tar.gz").write_bytes(big)
    (root / "m" / "b.onnx").write_bytes(pointer(content))  # content not pulled
    (root / "m" / "b.tar.gz").write_bytes(pointer(big))
    entries = [
        entry("m/a.onnx", content, ("m/a.tar.gz", big)),
        entry("m/b.onnx", content, ("m/b.tar.gz", big)),
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
        "from_lfs_pointers": 2,
        "hashed": 2,
        "bytes_hashed": len(model_bytes()) + len(make_tar(BUNDLE)),
    }


def test_each_file_problem_is_found(
    tmp_path: Path, repo: tuple[Path, list[dict[str, object]]]
) -> None:
    root, entries = repo
    (root / "m" / "c.onnx").write_bytes(b"\x89PNG\r\n\x1a\n not a model")
    (root / "outside.onnx").write_bytes(model_bytes())
    (root / "m" / "link.onnx").symlink_to(tmp_path / "elsewhere.onnx")
    (tmp_path / "elsewhere.onnx").write_bytes(model_bytes())
    a, b = entries
    a["metadata"]["model_sha"] = "0" * 64  # type: ignore[index]
    a["metadata"]["model_with_data_bytes"] = 5  # type: ignore[index]
    a["opset_version"] = 12
    a["metadata"]["io_ports"]["inputs"][0]["shape"] = [1, 4]  # type: ignore[index]
    b["metadata"]["model_bytes"] = 1  # type: ignore[index]
    missing = entry("m/missing.onnx", b"")
    invalid = entry("m/c.onnx", b"")
    link = entry("m/link.onnx", model_bytes())
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
    oid = hashlib.sha256(model_bytes()).hexdigest()
    assert str(problem) == (
        f"{manifest}:43:26: error sha-mismatch /1/metadata/model_sha: manifest says {'f' * 64}, "
        f"the Git LFS pointer 'm/b.onnx' has {oid} (fix: run `hubtools generate` to recompute it)"
    )


def test_real_zoo_against_its_pointers(shared_zoo: Path) -> None:
    result = validate_manifest(shared_zoo / "ONNX_HUB_MANIFEST.json", repo=shared_zoo)
    assert list(result.report) == []
    assert result.report.checked["files"] == 368
    assert result.report.checked["from_lfs_pointers"] == 368


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
    onnx.checker.check_model(onnx.load_from_string(model_bytes()))


def test_repo_that_is_not_a_directory_is_a_usage_error(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file.txt"
    not_a_dir.write_text("x")
    entries = [(0, ModelEntry.from_json(entry("m/a.onnx", b"x"), "/0"))]
    for repo in (not_a_dir, tmp_path / "missing"):
        with pytest.raises(UsageError, match="--repo must be the repository's directory"):
            repo_problems(entries, repo, "manifest.json", Report())
    manifest = tmp_path / "ONNX_HUB_MANIFEST.json"
    manifest.write_text(json.dumps([entry("m/a.onnx", b"x")]))
    with pytest.raises(UsageError, match=f"^{re.escape(str(not_a_dir))}: --repo must be"):
        validate_manifest(manifest, repo=not_a_dir)


def test_paths_the_client_refuses_are_not_opened(tmp_path: Path) -> None:
    """A 300-byte name made is_file() raise ENAMETOOLONG; it is reported once, as unsafe-path."""
    root = tmp_path / "repo"
    root.mkdir()
    long_name = entry("m/" + "n" * 300 + ".onnx", b"x")
    dotted = entry(".hubtools/a.onnx", b"x")
    assert _validate(tmp_path, root, [dotted, long_name]) == [
        ("unsafe-path", "/0/model_path"),
        ("unsafe-path", "/1/model_path"),
    ]


def test_a_missing_bundle_is_reported_at_its_pointer(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "m").mkdir(parents=True)
    (root / "m" / "a.onnx").write_bytes(model_bytes())
    found = _validate(tmp_path, root, [entry("m/a.onnx", model_bytes(), ("m/a.tar.gz", b"x"))])
    assert found == [("missing-file", "/0/metadata/model_with_data_path")]
