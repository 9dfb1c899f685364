from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import RunCli

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "manifests"
INVALID = sorted((FIXTURES / "invalid").glob("*.json"))


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_each_invalid_manifest_reports_its_code_pointer_and_line(
    run_cli: RunCli, path: Path
) -> None:
    expected = json.loads(path.with_suffix(".expected").read_text())
    run = run_cli("validate", "--format", "json", path)
    found = [
        {k: p[k] for k in ("code", "severity", "pointer", "line", "column")}
        for p in json.loads(run.stdout)["problems"]
    ]
    assert found == expected
    only_warnings = all(p["severity"] == "warning" for p in expected)
    assert run.exit_code == (0 if only_warnings else 1)
    if only_warnings:
        assert run_cli("validate", "--strict", path).exit_code == 1


def test_every_problem_code_has_a_fixture() -> None:
    codes = {json.loads(p.with_suffix(".expected").read_text())[0]["code"] for p in INVALID}
    assert codes >= {
        "schema-type",
        "schema-pattern",
        "schema-required",
        "schema-minimum",
        "schema-minLength",
        "schema-dependentRequired",
        "duplicate-model",
        "duplicate-path",
        "unsorted",
        "empty-tags",
        "duplicate-key",
        "non-finite",
    }


@pytest.mark.parametrize("path", sorted((FIXTURES / "valid").glob("*.json")), ids=lambda p: p.stem)
def test_valid_manifests_exit_0(run_cli: RunCli, path: Path) -> None:
    run = run_cli("validate", path)
    assert run.exit_code == 0
    assert run.stdout == ""
    assert run.stderr.startswith("valid: 0 errors, 0 warnings")


def test_text_format_is_file_line_col_severity_code(run_cli: RunCli) -> None:
    path = FIXTURES / "invalid" / "schema-pattern.json"
    run = run_cli("validate", path)
    assert run.exit_code == 1
    assert run.stdout == (
        f'{path}:50:26: error schema-pattern /1/metadata/model_sha: "ABC" is not a valid '
        "sha256 hex digest (fix: run `hubtools generate` (or `sha256sum FILE`) to recompute it)\n"
    )
    assert run.stderr == "invalid: 1 error, 0 warnings; checked 2 entries\n"


def test_github_format_escapes_and_still_logs_every_problem(
    run_cli: RunCli, tmp_path: Path
) -> None:
    path = tmp_path / "a,b:c%.json"
    path.write_text((FIXTURES / "invalid" / "schema-pattern.json").read_text())
    run = run_cli("validate", "--format", "github", path)
    lines = run.stdout.splitlines()
    assert lines[0] == (
        f"::error file={str(path).replace('%', '%25').replace(':', '%3A').replace(',', '%2C')},"
        'line=50,col=26,title=schema-pattern::/1/metadata/model_sha: "ABC" is not a valid '
        "sha256 hex digest%0Arun `hubtools generate` (or `sha256sum FILE`) to recompute it"
    )
    assert lines[1].startswith(f"{path}:50:26: error schema-pattern")
    assert len(lines) == 2


def test_json_format_has_problems_and_summary(run_cli: RunCli) -> None:
    run = run_cli("validate", "--format", "json", FIXTURES / "invalid" / "empty-tags.json")
    data = json.loads(run.stdout)
    assert data["summary"] == {
        "manifests": 1,
        "entries": 2,
        "errors": 0,
        "warnings": 1,
        "ignored": 0,
        "valid": True,
    }
    assert data["problems"][0]["hint"].startswith("add the tags")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "invalid JSON: Expecting value"),
        (b"[1,\n2,,]", ":2:3: invalid JSON: Expecting value"),
        (b'["\xff"]', ":1:3: invalid UTF-8 (byte 2: 0xff)"),
        (b"[" * 100_000, "nested too deeply"),
    ],
    ids=["empty", "syntax", "utf8", "deep"],
)
def test_unreadable_content_exits_2_with_position(
    run_cli: RunCli, tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "m.json"
    path.write_bytes(content)
    run = run_cli("validate", path)
    assert run.exit_code == 2
    assert message in run.stderr
    assert "Traceback" not in run.stderr + run.stdout


def test_a_syntax_error_is_located_in_every_format(run_cli: RunCli, tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text('[\n  {"model": "a",}\n]')
    run = run_cli("validate", path, "--format", "json")
    assert run.exit_code == 2
    [problem] = json.loads(run.stdout)["problems"]
    assert {k: problem[k] for k in ("code", "file", "line", "column", "message")} == {
        "code": "unreadable",
        "file": str(path),
        "line": 2,
        "column": 17,
        "message": "invalid JSON: Expecting property name enclosed in double quotes",
    }
    run = run_cli("validate", path, "--format", "github")
    annotation = f"::error file={path},line=2,col=17,title=unreadable::invalid JSON"
    assert run.stdout.startswith(annotation)
    run = run_cli("validate", path)
    assert run.stderr.startswith(f"hubtools: error: {path}:2:17: invalid JSON: Expecting property")


def test_missing_file_and_directory_exit_2(run_cli: RunCli, tmp_path: Path) -> None:
    run = run_cli("validate", tmp_path / "nope.json")
    assert (run.exit_code, run.stderr.splitlines()[0]) == (
        2,
        f"hubtools: error: {tmp_path / 'nope.json'}: no such file",
    )
    run = run_cli("validate", tmp_path)
    assert run.exit_code == 2
    assert "is a directory, not a manifest file" in run.stderr


def test_usage_errors_exit_2(run_cli: RunCli, tmp_path: Path) -> None:
    assert run_cli("validate").exit_code == 2
    assert run_cli("validate", "--format", "xml", "m.json").exit_code == 2
    run = run_cli("validate", "--repo", tmp_path / "nope", FIXTURES / "valid" / "empty.json")
    assert run.exit_code == 2


def test_deep_values_inside_an_open_field_are_fine(run_cli: RunCli, tmp_path: Path) -> None:
    entry = json.loads((FIXTURES / "valid" / "without-bundle.json").read_text())
    nested: object = 1
    for _ in range(500):
        nested = [nested]
    entry[0]["metadata"]["zoo"] = nested
    path = tmp_path / "m.json"
    path.write_text(json.dumps(entry))
    assert run_cli("validate", path).exit_code == 0


def test_50_mb_manifest(run_cli: RunCli, tmp_path: Path) -> None:
    base = json.loads((FIXTURES / "valid" / "without-bundle.json").read_text())[0]
    entries = []
    for i in range(2_000):
        e = json.loads(json.dumps(base))
        e["model_path"] = f"m/{i:06d}.onnx"
        e["model"] = f"m{i}"
        e["metadata"]["notes"] = "x" * 25_000  # bulk in an open field: size, not entries
        entries.append(e)
    entries[1_999]["metadata"]["model_bytes"] = -1
    path = tmp_path / "big.json"
    path.write_text(json.dumps(entries, indent=4))
    assert path.stat().st_size > 50_000_000
    run = run_cli("validate", path)
    assert run.exit_code == 1
    assert run.stdout.count("\n") == 1
    assert "/1999/metadata/model_bytes: -1 is less than the minimum of 0" in run.stdout


def test_python_m_hubtools_runs_the_cli() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "hubtools", "validate", str(FIXTURES / "valid" / "empty.json")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr


def test_real_zoo_manifest_is_valid(run_cli: RunCli, shared_zoo: Path) -> None:
    run = run_cli("validate", shared_zoo / "ONNX_HUB_MANIFEST.json")
    assert run.exit_code == 0, run.stdout
    assert run.stderr == "valid: 0 errors, 0 warnings; checked 184 entries\n"


def test_verbose_lists_every_file_checked_one_per_line(run_cli: RunCli) -> None:
    hub = FIXTURES.parent / "hubs" / "plain"
    run = run_cli("validate", hub / "ONNX_HUB_MANIFEST.json", "--repo", hub, "-v")
    assert run.exit_code == 0
    assert run.stderr.splitlines() == [
        "INFO: checked audio/keyword_spotter.onnx: sha256 and size from its Git LFS pointer",
        "INFO: checked text/tiny_lm/tiny-lm.onnx: content hashed and read as a model",
        "INFO: checked vision/classification/tiny_cnn-12.onnx: content hashed and read as a model",
        "INFO: checked vision/classification/tiny_cnn-12.tar.gz: content hashed",
        "INFO: checked vision/classification/tiny_cnn_opset7.onnx: content hashed and read as a "
        "model",
        "INFO: checked vision/detection/tiny_det-13.tar.gz: content hashed and read as a model",
        "INFO: checked vision/preprocessing/pixels.onnx: content hashed and read as a model",
        "valid: 0 errors, 0 warnings; checked 6 entries, 7 files, 1 from LFS pointers, "
        "6 hashed (1.7 KiB)",
    ]
    assert "INFO" not in run_cli("validate", hub / "ONNX_HUB_MANIFEST.json", "--repo", hub).stderr
