"""``hubtools generate`` from the shell: exit codes, output file, --check, --strict."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import git
import pytest

from tests.conftest import FIXTURES, RunCli
from tests.generate.test_pipeline import make_zoo, model_bytes, pointer, zoo_files


@pytest.fixture
def zoo(tmp_path: Path) -> Path:
    root = tmp_path / "zoo"
    make_zoo(root, zoo_files())
    return root


def test_writes_the_manifest_and_a_summary(run_cli: RunCli, zoo: Path) -> None:
    run = run_cli("generate", zoo)
    assert run.exit_code == 0, run.stderr
    text = (zoo / "ONNX_HUB_MANIFEST.json").read_text()
    assert len(json.loads(text)) == 3
    assert not text.endswith("\n")
    assert run.stdout == ""
    assert "generated 3 entries, 6 from pointers, 0 files hashed (0.0 MB hashed)" in run.stderr
    assert "warnings: 0" in run.stderr
    assert "3 entries have no io_ports" in run.stderr
    assert "git lfs pull --include=validated/vision/classification/my_net/model/net-12.onnx," in (
        run.stderr
    )
    assert f"wrote {zoo / 'ONNX_HUB_MANIFEST.json'}" in run.stderr


def test_check_reports_changes_and_writes_nothing(
    run_cli: RunCli, zoo: Path, tmp_path: Path
) -> None:
    out = tmp_path / "m.json"
    run = run_cli("generate", zoo, "--check", "-o", out)
    assert run.exit_code == 1
    assert not out.exists()
    assert run.stdout.splitlines() == [
        "+ validated/vision/classification/my_net/model/net-12.onnx (Net-12, opset 12)",
        "+ validated/vision/classification/my_net/model/net-7.onnx (Net, opset 7)",
        "+ validated/vision/classification/my_net/preproc/pre-18.onnx (Net-pre, opset 18)",
    ]
    assert run_cli("generate", zoo, "-o", out).exit_code == 0
    before = out.read_bytes()
    run = run_cli("generate", zoo, "--check", "-o", out)
    assert (run.exit_code, run.stdout) == (0, "")
    assert "is up to date" in run.stderr
    readme = zoo / "validated/vision/classification/my_net/README.md"
    readme.write_text(readme.read_text().replace("|1.2  |7 |", "|1.3  |7 |"))
    run = run_cli("generate", zoo, "--check", "-o", out)
    assert run.exit_code == 1
    assert run.stdout == (
        "~ validated/vision/classification/my_net/model/net-7.onnx (Net, opset 7)\n"
        '    /onnx_version: "1.2" -> "1.3"\n'
    )
    assert out.read_bytes() == before


def test_strict_fails_on_warnings_and_writes_nothing(run_cli: RunCli, zoo: Path) -> None:
    readme = zoo / "validated/vision/classification/my_net/README.md"
    readme.write_text(readme.read_text().replace("|7 |1.1% |", "|seven |1.1% |"))
    out = zoo / "ONNX_HUB_MANIFEST.json"
    run = run_cli("generate", zoo, "--strict")
    assert run.exit_code == 1
    assert not out.exists()
    assert (
        "validated/vision/classification/my_net/README.md:5: warning bad-opset opset version "
        "'seven' is not an integer; the row was skipped" in run.stderr
    )
    assert "not written" in run.stderr
    run = run_cli("generate", zoo)
    assert run.exit_code == 0
    assert len(json.loads(out.read_text())) == 2


def test_previous_defaults_to_the_output_file(run_cli: RunCli, zoo: Path) -> None:
    out = zoo / "ONNX_HUB_MANIFEST.json"
    assert run_cli("generate", zoo).exit_code == 0
    data = json.loads(out.read_text())
    ports = {"inputs": [{"name": "x", "shape": ["N", 4], "type": "tensor(float)"}], "outputs": []}
    data[0]["metadata"]["io_ports"] = ports
    out.write_text(json.dumps(data, indent=4))
    run = run_cli("generate", zoo)
    assert run.exit_code == 0
    assert "io_ports reused: 1" in run.stderr
    assert json.loads(out.read_text())[0]["metadata"]["io_ports"] == ports


def test_usage_and_io_errors_exit_2(run_cli: RunCli, zoo: Path, tmp_path: Path) -> None:
    assert run_cli("generate", tmp_path / "missing").exit_code == 2
    bad = tmp_path / "bad.json"
    bad.write_text("[{")
    run = run_cli("generate", zoo, "--previous", bad)
    assert run.exit_code == 2
    assert "bad.json" in run.stderr
    run = run_cli("generate", zoo, "--changed-since", "no-such-ref", "--previous", bad)
    assert run.exit_code == 2
    assert run_cli("generate", zoo, "--jobs", "0").exit_code == 2
    out = zoo / "ONNX_HUB_MANIFEST.json"
    assert run_cli("generate", zoo).exit_code == 0
    run = run_cli("generate", zoo, "--changed-since", "no-such-ref")
    assert run.exit_code == 2
    assert "'no-such-ref' is not a known git revision" in run.stderr
    assert run_cli("generate", zoo, "-o", tmp_path / "no" / "dir" / "m.json").exit_code == 2
    assert out.exists()


def test_not_a_git_repository_is_said_once(run_cli: RunCli, tmp_path: Path) -> None:
    root = tmp_path / "plain"
    make_zoo(root, zoo_files(), commit=False)
    run = run_cli("generate", root)
    assert run.exit_code == 0
    assert run.stderr.count("is not a git repository") == 1


def test_include_unlinked(run_cli: RunCli, zoo: Path) -> None:
    lm = zoo / "validated/text/lm"
    (lm / "model").mkdir(parents=True)
    (lm / "README.md").write_text(
        "|Model|Download|ONNX version|Opset version|\n|-|-|-|-|\n|LM|[1](model/lm.onnx)|1.6|11|\n"
    )
    (lm / "model/lm.onnx").write_bytes(pointer(model_bytes(11)))
    repo = git.Repo(zoo)
    repo.git.add("-A")
    repo.index.commit("lm")
    run = run_cli("generate", zoo, "--strict")
    assert run.exit_code == 1
    assert "validated/text/lm/README.md:1: warning unlinked-readme" in run.stderr
    run = run_cli("generate", zoo, "--strict", "--include-unlinked")
    assert run.exit_code == 0
    assert "generated 4 entries" in run.stderr


def test_the_fixture_zoo_generates_its_committed_manifest(run_cli: RunCli, tmp_path: Path) -> None:
    root = tmp_path / "zoo"
    shutil.copytree(FIXTURES / "zoo", root)
    repo = git.Repo.init(root)
    repo.git.add("-A")
    repo.index.commit("zoo")
    committed = (root / "ONNX_HUB_MANIFEST.json").read_bytes()
    run = run_cli("generate", root, "--check", "--strict")
    assert (run.exit_code, run.stdout) == (0, ""), run.stderr
    (root / "ONNX_HUB_MANIFEST.json").unlink()
    run = run_cli("generate", root, "--strict", "--jobs", "2")
    assert run.exit_code == 0, run.stderr
    assert (root / "ONNX_HUB_MANIFEST.json").read_bytes() == committed
    run = run_cli("validate", root / "ONNX_HUB_MANIFEST.json", "--repo", root)
    assert run.exit_code == 0, run.stdout + run.stderr
