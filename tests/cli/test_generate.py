"""``hubtools generate`` from the shell: exit codes, output file, --check, --strict."""

from __future__ import annotations

import json
import os
import shutil
import stat
import threading
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
    assert "generated 3 entries, 6 from pointers, 0 files hashed (0 B hashed)" in run.stderr
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
    readme.write_text(readme.read_text().replace("|7 |1.1% |", "|7000 |1.1% |"))
    out = zoo / "ONNX_HUB_MANIFEST.json"
    run = run_cli("generate", zoo, "--strict")
    assert run.exit_code == 1
    assert not out.exists()
    assert (
        "validated/vision/classification/my_net/README.md:5: warning bad-opset opset version "
        "'7000' is out of range" in run.stderr
    )
    assert "not written: warnings fail the run with --strict" in run.stderr
    run = run_cli("generate", zoo)
    assert run.exit_code == 0
    assert len(json.loads(out.read_text())) == 2


def test_a_row_it_cannot_use_is_an_error_even_with_check(run_cli: RunCli, zoo: Path) -> None:
    out = zoo / "ONNX_HUB_MANIFEST.json"
    assert run_cli("generate", zoo).exit_code == 0
    readme = zoo / "validated/vision/classification/my_net/README.md"
    readme.write_text(readme.read_text().replace("|7 |1.1% |", "|thirteen |1.1% |"))
    before = out.read_bytes()
    for args in ((), ("--check",)):
        run = run_cli("generate", zoo, *args)
        assert run.exit_code == 1, args
        assert (
            "validated/vision/classification/my_net/README.md:5: error opset-not-a-number opset "
            "version 'thirteen' is not a whole number, so the row cannot be used" in run.stderr
        )
        assert "errors: 1; warnings: 0" in run.stderr
        what = "checked" if args else "written"
        assert f"{out} not {what}: 1 error above; fix them and run again" in run.stderr
        assert run.stdout == ""
    assert out.read_bytes() == before


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


# ---- output like other tools' ------------------------------------------------------


def test_dash_writes_the_manifest_to_stdout(run_cli: RunCli, zoo: Path, tmp_path: Path) -> None:
    run = run_cli("generate", zoo, "-o", "-")
    assert run.exit_code == 0, run.stderr
    assert len(json.loads(run.stdout)) == 3
    assert not run.stdout.endswith("\n")  # the bytes a file would hold
    assert "wrote the manifest to stdout" in run.stderr
    assert not (zoo / "ONNX_HUB_MANIFEST.json").exists()
    assert run_cli("generate", zoo, "-o", "-", "--check").exit_code == 2
    assert run_cli("generate", zoo, "-o", "-", "--format", "github").exit_code == 2


def test_a_symlink_keeps_pointing_at_the_file_written(
    run_cli: RunCli, zoo: Path, tmp_path: Path
) -> None:
    target = tmp_path / "real" / "manifest.json"
    target.parent.mkdir()
    target.write_text("[]")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    run = run_cli("generate", zoo, "-o", link)
    assert run.exit_code == 0, run.stderr
    assert link.is_symlink()
    assert len(json.loads(target.read_text())) == 3
    dangling = tmp_path / "dangling.json"
    dangling.symlink_to(tmp_path / "real" / "new.json")
    assert run_cli("generate", zoo, "-o", dangling).exit_code == 0
    assert dangling.is_symlink()
    assert (tmp_path / "real" / "new.json").read_text() == target.read_text()


def test_a_fifo_is_written_through_never_replaced(
    run_cli: RunCli, zoo: Path, tmp_path: Path
) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    run = run_cli("generate", zoo, "-o", fifo)
    reader.join(10)
    assert run.exit_code == 0, run.stderr
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert len(json.loads(received[0])) == 3
    # /dev/stdout is a link to /proc/self/fd/1: a link through /proc is written through too.
    link = tmp_path / "out-link"
    link.symlink_to(fifo)
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    assert run_cli("generate", zoo, "-o", link).exit_code == 0
    reader.join(10)
    assert link.is_symlink()
    assert received[1] == received[0]


def test_previous_is_the_repository_manifest_whatever_o_says(
    run_cli: RunCli, zoo: Path, tmp_path: Path
) -> None:
    own = zoo / "ONNX_HUB_MANIFEST.json"
    assert run_cli("generate", zoo).exit_code == 0
    data = json.loads(own.read_text())
    ports = {"inputs": [{"name": "x", "shape": ["N", 4], "type": "tensor(float)"}], "outputs": []}
    data[0]["metadata"]["io_ports"] = ports
    own.write_text(json.dumps(data, indent=4))
    run = run_cli("generate", zoo)
    assert run.exit_code == 0
    assert "io_ports reused: 1" in run.stderr
    assert json.loads(own.read_text())[0]["metadata"]["io_ports"] == ports
    elsewhere = tmp_path / "elsewhere.json"
    run = run_cli("generate", zoo, "-o", elsewhere)
    assert run.exit_code == 0, run.stderr
    assert "io_ports reused: 1" in run.stderr
    assert json.loads(elsewhere.read_text())[0]["metadata"]["io_ports"] == ports
    run = run_cli("generate", zoo, "-o", elsewhere, "--no-previous")
    assert "io_ports reused: 0" in run.stderr
    assert "io_ports" not in json.loads(elsewhere.read_text())[0]["metadata"]
    assert run_cli("generate", zoo, "--previous", own, "--no-previous").exit_code == 2


def test_an_unreadable_manifest_is_a_warning_unless_asked_for(
    run_cli: RunCli, zoo: Path, tmp_path: Path
) -> None:
    own = zoo / "ONNX_HUB_MANIFEST.json"
    own.write_text("[\n<<<<<<< HEAD\n]\n=======\n]\n>>>>>>> branch\n")
    run = run_cli("generate", zoo, "--check")
    assert run.exit_code == 1
    assert "cannot be read" in run.stdout
    run = run_cli("generate", zoo)
    assert run.exit_code == 0, run.stderr
    assert "ONNX_HUB_MANIFEST.json: warning previous-unreadable cannot be read" in run.stderr
    assert len(json.loads(own.read_text())) == 3
    own.write_text("<<<<<<< HEAD\n")
    assert run_cli("generate", zoo, "--strict").exit_code == 1
    run = run_cli("generate", zoo, "--previous", own)
    assert run.exit_code == 2
    assert own.read_text() == "<<<<<<< HEAD\n"


def test_layout_chooses_the_layouts_of_one_run(run_cli: RunCli, zoo: Path) -> None:
    run = run_cli("generate", zoo, "--layout", "files", "-o", "-")
    assert run.exit_code == 0, run.stderr
    assert sorted(e["model"] for e in json.loads(run.stdout)) == ["net", "net", "pre"]
    run = run_cli("generate", zoo, "--layout", "readme-tables", "--layout", "turnkey", "-o", "-")
    assert sorted(e["model"] for e in json.loads(run.stdout)) == ["Net", "Net-12", "Net-pre"]
    assert run_cli("generate", zoo, "--layout", "tables").exit_code == 2


def test_a_wrong_hubtools_toml_exits_2_at_its_line(run_cli: RunCli, zoo: Path) -> None:
    (zoo / "hubtools.toml").write_text('[generate]\nlayouts = ["files"]\nexclud = []\n')
    run = run_cli("generate", zoo)
    assert run.exit_code == 2
    assert run.stderr == (
        f"hubtools: error: {zoo / 'hubtools.toml'}:3: [generate] has unknown key(s) exclud; "
        "known: exclude, ignore, layouts\n"
    )
    assert not (zoo / "ONNX_HUB_MANIFEST.json").exists()
