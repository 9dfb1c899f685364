"""``hubtools check-models`` on zoo-style hubs built in tmp_path: one verdict per
model (pass, fail, error, skip) with the reason, exit codes, formats, the
selection by name, path and git change, timeouts and crashes isolated."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import git
import numpy as np
import pytest

from hubtools.check.model import Job, Verdict, check_model, cpu_has_vnni
from hubtools.check.runner import run_checks
from hubtools.check.suite import check_models
from tests.check.support import BIAS, Hub, X, add_model, broken_model, bundle, endless_model, tar_gz
from tests.conftest import RunCli

GOOD = add_model().SerializeToString()


def _statuses(root: Path, **kwargs: object) -> dict[str, tuple[str, str]]:
    result = check_models(root, **kwargs)  # type: ignore[arg-type]
    return {v.model: (v.status, v.reason) for v in result.verdicts}


@pytest.fixture
def zoo(tmp_path: Path) -> Path:
    """The five kinds of model a hub's CI meets."""
    hub = Hub(tmp_path / "hub")
    hub.add("good", GOOD, bundle(add_model()))
    hub.add("off", GOOD, bundle(add_model(), expected=X + BIAS + np.float32(0.5)))
    hub.add("broken", broken_model().SerializeToString(), bundle(add_model()))
    escaping = tar_gz({"model/test_data_set_0/../../../evil.pb": b"x"})
    hub.add("escaping", GOOD, escaping)
    hub.add("pointer", GOOD, bundle(add_model()), pointer=True)
    return hub.write()


def test_each_kind_of_model_gets_its_verdict(zoo: Path) -> None:
    found = _statuses(zoo)
    assert found["good"] == ("pass", "")
    status, reason = found["off"]
    assert status == "fail"
    assert reason == (
        "test_data_set_0: output 'y' at [0, 0]: expected 2.0, got 1.5 "
        "(max abs error 0.5, max rel error 0.333)"
    )
    status, reason = found["broken"]
    assert status == "error"
    assert reason.startswith("onnx.checker: ")
    assert "nowhere" in reason
    assert found["escaping"][0] == "error"
    assert found["escaping"][1].startswith("the test-data bundle refused: ")
    assert "leaves the extraction folder" in found["escaping"][1]
    assert not (zoo.parent / "evil.pb").exists()
    assert found["pointer"] == (
        "skip",
        "the model file is a Git LFS pointer (content not pulled); run `git lfs pull`",
    )


def test_the_mismatch_is_reported_field_by_field(zoo: Path) -> None:
    result = check_models(zoo, models=["off"])
    [verdict] = result.verdicts
    assert verdict.mismatch is not None
    m = verdict.mismatch
    assert (m.output, m.where, m.expected, m.got) == ("y", "at [0, 0]", "2.0", "1.5")
    assert (m.max_abs, m.max_rel) == (0.5, pytest.approx(0.5 / 1.5))


def test_tolerances_from_the_command_line_and_hubtools_toml(zoo: Path) -> None:
    assert _statuses(zoo, models=["off"], atol=0.6)["off"][0] == "pass"
    (zoo / "hubtools.toml").write_text(
        '[check-models]\nrtol = 0.001\n\n[[check-models.tolerance]]\npath = "models/off*"\n'
        "atol = 0.6\n"
    )
    assert _statuses(zoo, models=["off"])["off"][0] == "pass"
    assert _statuses(zoo, models=["good"])["good"][0] == "pass"


def test_io_ports_that_disagree_with_onnxruntime_fail(tmp_path: Path) -> None:
    hub = Hub(tmp_path)
    wrong = {
        "inputs": [{"name": "x", "shape": [1, 5], "type": "tensor(float)"}],
        "outputs": [{"name": "y", "shape": [1, 4], "type": "tensor(float)"}],
    }
    hub.add("m", GOOD, bundle(add_model()), ports=wrong)
    status, reason = _statuses(hub.write())["m"]
    assert status == "fail"
    assert reason.startswith("io_ports inputs: the manifest says [{'name': 'x', 'shape': [1, 5]")
    assert "onnxruntime reports [{'name': 'x', 'shape': [1, 4]" in reason


def test_no_test_data_and_quantized_models_are_skipped_with_why(tmp_path: Path) -> None:
    hub = Hub(tmp_path)
    hub.add("alone", GOOD)
    hub.add("m-int8", GOOD, bundle(add_model()))
    root = hub.write()
    found = _statuses(root)
    assert found["alone"] == (
        "skip",
        "no test data (no test_data_set_* beside it or in a bundle)",
    )
    if cpu_has_vnni():
        assert found["m-int8"] == ("pass", "")
    else:
        assert found["m-int8"][0] == "skip"
        assert "AVX512-VNNI" in found["m-int8"][1]
    assert _statuses(root, compare_quantized=True)["m-int8"] == ("pass", "")


def test_test_sets_beside_the_model_are_found(tmp_path: Path) -> None:
    """The layout of onnx's backend test data: model.onnx with test_data_set_* beside it."""
    from onnx import numpy_helper

    hub = Hub(tmp_path)
    path = hub.add("node", GOOD, folder="cases/add")
    data = tmp_path / "cases/add/test_data_set_0"
    data.mkdir()
    (data / "input_0.pb").write_bytes(numpy_helper.from_array(X, "x").SerializeToString())
    (data / "output_0.pb").write_bytes(numpy_helper.from_array(X + BIAS).SerializeToString())
    result = check_models(hub.write())
    assert [(v.model_path, v.status, v.test_sets) for v in result.verdicts] == [(path, "pass", 1)]


def test_without_onnxruntime_the_checker_still_runs(
    zoo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # the workers are forked from here
    found = _statuses(zoo, models=["good", "broken"])
    assert found["good"] == (
        "skip",
        "onnx.checker passed; onnxruntime is not installed (pip install 'onnx-hubtools[run]')",
    )
    assert found["broken"][0] == "error"


def test_a_runaway_model_times_out_and_the_run_goes_on(tmp_path: Path) -> None:
    hub = Hub(tmp_path)
    hub.add("endless", endless_model().SerializeToString(), bundle(add_model()))
    hub.add("good", GOOD, bundle(add_model()))
    found = _statuses(hub.write(), timeout=1.0)
    assert found["endless"] == ("error", "timed out after 1 s (--timeout)")
    assert found["good"] == ("pass", "")


def _crash_on_bad(job: Job) -> Verdict:
    if job.model == "bad":
        os.kill(os.getpid(), signal.SIGSEGV)
    return check_model(job)


def test_a_crashing_check_costs_its_own_verdict_only(zoo: Path) -> None:
    root = zoo
    jobs = [
        Job("bad", "models/good.onnx", 13, str(root / "models/good.onnx")),
        Job("good", "models/good.onnx", 13, str(root / "models/good.onnx")),
    ]
    verdicts = {v.model: v for v in run_checks(jobs, workers=1, check=_crash_on_bad)}
    assert verdicts["bad"].status == "error"
    assert verdicts["bad"].reason == (
        "the check crashed (SIGSEGV); onnxruntime or onnx died on this model"
    )
    assert verdicts["good"].status == "skip"  # no bundle given to this job: no test data


def test_paths_outside_the_repository_are_never_opened(tmp_path: Path) -> None:
    secret = tmp_path / "secret.onnx"
    secret.write_bytes(GOOD)
    hub = Hub(tmp_path / "hub")
    hub.add("good", GOOD)
    hub.entries.append({**hub.entries[0], "model": "out", "model_path": "../secret.onnx"})
    (tmp_path / "hub" / "models" / "link.onnx").symlink_to(secret)
    hub.entries.append({**hub.entries[0], "model": "link", "model_path": "models/link.onnx"})
    found = _statuses(hub.write())
    assert found["out"] == ("error", "'../secret.onnx' has an empty, '.' or '..' part")
    assert found["link"] == ("error", "'models/link.onnx' leaves the repository through a symlink")


def test_selection_by_name_and_path(zoo: Path) -> None:
    assert set(_statuses(zoo, models=["GOOD", "off"])) == {"good", "off"}
    assert set(_statuses(zoo, paths=[str(zoo / "models" / "off.tar.gz")])) == {"off"}


def test_changed_since_checks_only_what_changed(tmp_path: Path) -> None:
    hub = Hub(tmp_path / "hub")
    hub.add("a", GOOD, bundle(add_model()))
    hub.add("b", GOOD, bundle(add_model()), folder="other")
    root = hub.write()
    files = [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()]
    repo = git.Repo.init(root)
    repo.index.add(files)
    repo.index.commit("hub")
    base = repo.head.commit.hexsha
    (root / "other" / "b.tar.gz").write_bytes(bundle(add_model(), expected=X))
    assert set(_statuses(root, changed_since=base)) == {"b"}
    (root / "other" / "README.md").write_text("b's README\n")
    repo.index.add(["other/README.md"])
    repo.index.commit("a README for b's folder")
    assert set(_statuses(root, changed_since=base)) == {"b"}
    (root / "README.md").write_text("the top README\n")
    repo.index.add(["README.md"])
    repo.index.commit("a top README: every model is under it")
    assert set(_statuses(root, changed_since=base)) == {"a", "b"}


def test_cli_exit_codes_and_text(run_cli: RunCli, zoo: Path) -> None:
    run = run_cli("check-models", zoo, "--model", "good")
    assert run.exit_code == 0
    assert run.stdout == "pass   good (opset 13)  models/good.onnx: 1 test set\n"
    assert run.stderr.startswith("checked 1 of 5 models in ")
    assert run.stderr.endswith(" s: 1 pass, 0 fail, 0 error, 0 skip\n")
    run = run_cli("check-models", zoo)
    assert run.exit_code == 1
    assert run.stderr.endswith(" s: 1 pass, 1 fail, 2 error, 1 skip\n")


def test_cli_json_and_github(run_cli: RunCli, zoo: Path) -> None:
    run = run_cli("check-models", zoo, "--format", "json", "--jobs", "2")
    assert run.exit_code == 1
    report = json.loads(run.stdout)
    assert [m["status"] for m in report["models"]] == ["error", "error", "pass", "fail", "skip"]
    off = report["models"][3]
    assert off["mismatch"] == {
        "output": "y",
        "where": "at [0, 0]",
        "expected": "2.0",
        "got": "1.5",
        "max_abs_error": 0.5,
        "max_rel_error": pytest.approx(0.5 / 1.5),
    }
    assert {k: report["summary"][k] for k in ("pass", "fail", "error", "skip", "passed")} == {
        "pass": 1,
        "fail": 1,
        "error": 2,
        "skip": 1,
        "passed": False,
    }
    run = run_cli("check-models", zoo, "--model", "off", "--format", "github")
    assert run.stdout.splitlines() == [
        "::error file=models/off.onnx,title=model-fail::test_data_set_0: output 'y' at [0, 0]: "
        "expected 2.0, got 1.5 (max abs error 0.5, max rel error 0.333)",
        "fail   off (opset 13)  models/off.onnx: test_data_set_0: output 'y' at [0, 0]: "
        "expected 2.0, got 1.5 (max abs error 0.5, max rel error 0.333)",
    ]


def test_cli_usage_errors_exit_2(run_cli: RunCli, zoo: Path, tmp_path: Path) -> None:
    run = run_cli("check-models", zoo, "--model", "nope")
    assert (run.exit_code, run.stderr) == (
        2,
        "hubtools: error: --model nope: no entry of the manifest has that name\n",
    )
    run = run_cli("check-models", tmp_path / "missing")
    assert run.exit_code == 2
    assert "not a folder" in run.stderr


def test_two_entries_naming_one_file_get_a_verdict_each(tmp_path: Path) -> None:
    """Verdicts were kept by path: the second entry's replaced the first's, and the
    run said it checked two models while it showed one."""
    hub = Hub(tmp_path)
    hub.add("alone", GOOD)
    root = hub.write()
    manifest = root / "ONNX_HUB_MANIFEST.json"
    entries = json.loads(manifest.read_text())
    twin = json.loads(json.dumps(entries[0]))
    twin["model"] = "twin"
    manifest.write_text(json.dumps([*entries, twin], indent=4))
    result = check_models(root)
    assert [(v.model, v.status) for v in result.verdicts] == [("alone", "skip"), ("twin", "skip")]
