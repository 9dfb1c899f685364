"""The GitHub Action, run the way GitHub runs a composite action: each step of
``action.yml`` in order, ``if:`` and ``${{ }}`` expressions evaluated, bash
started as ``bash --noprofile --norc -eo pipefail``, with the environment
GitHub sets (``GITHUB_OUTPUT`` per step, ``GITHUB_STEP_SUMMARY``,
``GITHUB_BASE_REF``, ``GITHUB_WORKSPACE``, ``GITHUB_ACTION_PATH``,
``RUNNER_TEMP``), on a real git repository with a base branch and a pull
request's commit. Four pull requests: a good one, a stale manifest, a wrong
sha256, a bad README row."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import git
import pytest
import yaml

from tests.check.support import add_model
from tests.conftest import FIXTURES, REPO_ROOT

ACTION: dict[str, Any] = yaml.safe_load((REPO_ROOT / "action.yml").read_text(encoding="utf-8"))
MODEL = "hub/validated/vision/classification/tiny_cnn/model/tinycnn-7.onnx"
README = "hub/validated/vision/classification/tiny_cnn/README.md"
_EXPR = re.compile(r"\$\{\{\s*([^}]+?)\s*\}\}")


@dataclass
class ActionRun:
    ok: bool
    stdout: str
    outputs: dict[str, str]
    summary: str
    steps: dict[str, dict[str, str]]


def _lookup(name: str, context: dict[str, Any]) -> str:
    value: Any = context
    for part in name.split("."):
        value = value.get(part, "") if isinstance(value, dict) else ""
    return str(value)


def _evaluate(text: str, context: dict[str, Any]) -> str:
    return _EXPR.sub(lambda m: _lookup(m.group(1), context), text)


def _condition(expression: str, context: dict[str, Any]) -> bool:
    match = re.fullmatch(r"([\w.-]+)\s*==\s*'([^']*)'", expression.strip())
    assert match, f"the test runner does not know this condition: {expression}"
    return _lookup(match.group(1), context) == match.group(2)


def _read_outputs(path: Path) -> dict[str, str]:
    outputs: dict[str, str] = {}
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, i + 1)
            outputs[name] = "\n".join(lines[i + 1 : end])
            i = end + 1
            continue
        name, _, value = line.partition("=")
        outputs[name] = value
        i += 1
    return outputs


def run_action(workspace: Path, inputs: dict[str, str], base_ref: str, temp: Path) -> ActionRun:
    given = {k: str(v.get("default", "")) for k, v in ACTION["inputs"].items()} | inputs
    context: dict[str, Any] = {"inputs": given, "steps": {}, "github": {}}
    summary = temp / "step_summary.md"
    summary.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "RUNNER_"))}
    env |= {
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_ACTION_PATH": str(REPO_ROOT),
        "GITHUB_BASE_REF": base_ref,
        "GITHUB_STEP_SUMMARY": str(summary),
        "RUNNER_TEMP": str(temp),
    }
    stdout = []
    for index, step in enumerate(ACTION["runs"]["steps"]):
        step_id = step.get("id", f"step{index}")
        if "if" in step and not _condition(step["if"], context):
            continue
        output_file = temp / f"output_{index}"
        output_file.write_text("")
        script = temp / f"step_{index}.sh"
        script.write_text(step["run"])
        step_env = {k: _evaluate(str(v), context) for k, v in step.get("env", {}).items()}
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=workspace,
            env=env | step_env | {"GITHUB_OUTPUT": str(output_file)},
            capture_output=True,
            text=True,
            check=False,
        )
        stdout.append(proc.stdout)
        context["steps"][step_id] = {"outputs": _read_outputs(output_file)}
        if proc.returncode != 0:
            outputs = {k: _evaluate(v["value"], context) for k, v in ACTION["outputs"].items()}
            return ActionRun(False, "".join(stdout), outputs, summary.read_text(), context["steps"])
    outputs = {k: _evaluate(v["value"], context) for k, v in ACTION["outputs"].items()}
    return ActionRun(True, "".join(stdout), outputs, summary.read_text(), context["steps"])


@pytest.fixture
def pull_request(tmp_path: Path) -> tuple[Path, git.Repo]:
    """A hub in the sub-folder ``hub`` of a repository whose ``origin`` has the
    base branch ``main``; the workspace is on a PR branch with nothing new yet."""
    origin_dir = tmp_path / "origin"
    seed = git.Repo.init(tmp_path / "seed", initial_branch="main")
    shutil.copytree(FIXTURES / "zoo", tmp_path / "seed" / "hub")
    seed.index.add(
        [str(p.relative_to(seed.working_dir)) for p in Path(seed.working_dir, "hub").rglob("*")]
    )
    seed.index.commit("the hub")
    seed.clone(origin_dir, bare=True)
    workspace = git.Repo.clone_from(origin_dir, tmp_path / "workspace")
    workspace.git.checkout("-b", "pr")
    (tmp_path / "temp").mkdir()
    return Path(workspace.working_dir), workspace


def _commit(repo: git.Repo, message: str) -> None:
    repo.git.add("-A")
    repo.index.commit(message)


def _annotations(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("::")]


def test_a_good_pull_request(pull_request: tuple[Path, git.Repo], tmp_path: Path) -> None:
    root, repo = pull_request
    (root / MODEL).write_bytes(add_model(7).SerializeToString())
    subprocess.run(["hubtools", "generate", "hub"], cwd=root, check=True, capture_output=True)
    _commit(repo, "a better tinycnn-7, manifest regenerated")
    run = run_action(root, {"install": "false", "hub": "hub"}, "main", tmp_path / "temp")
    assert run.ok, run.stdout
    assert _annotations(run.stdout) == []
    assert run.outputs["changed"] == "true"
    assert run.outputs["errors"] == "0"
    assert run.summary.startswith(
        "### ONNX_HUB_MANIFEST.json: 0 added, 0 removed, 1 changed, 0 resolution changes\n"
    )
    assert (
        "| changed | `Tiny CNN` | 7 | validated/vision/classification/tiny_cnn/model/"
        in run.summary
    )
    assert "| sha, size, io_ports |" in run.summary
    assert run.outputs["summary"] == run.summary.rstrip("\n")


def test_a_stale_manifest(pull_request: tuple[Path, git.Repo], tmp_path: Path) -> None:
    root, repo = pull_request
    (root / MODEL).write_bytes(add_model(7).SerializeToString())
    _commit(repo, "a new tinycnn-7, manifest forgotten")
    run = run_action(root, {"install": "false", "hub": "hub"}, "main", tmp_path / "temp")
    assert not run.ok
    assert run.steps["generate"]["outputs"]["status"] == "1"
    errors = [a for a in _annotations(run.stdout) if a.startswith("::error ")]
    assert any(
        a.startswith("::error file=hub/ONNX_HUB_MANIFEST.json,line=") and "title=sha-mismatch" in a
        for a in errors
    ), errors
    assert run.outputs["errors"] == str(len(errors))
    assert run.outputs["changed"] == "false"


def test_a_wrong_sha(pull_request: tuple[Path, git.Repo], tmp_path: Path) -> None:
    root, repo = pull_request
    manifest = root / "hub" / "ONNX_HUB_MANIFEST.json"
    data = json.loads(manifest.read_text())
    index = next(i for i, e in enumerate(data) if e["model_path"].endswith("tinycnn-7.onnx"))
    data[index]["metadata"]["model_sha"] = "0" * 64
    manifest.write_text(json.dumps(data, indent=4))
    _commit(repo, "a typo in a sha")
    run = run_action(root, {"install": "false", "hub": "hub"}, "main", tmp_path / "temp")
    assert not run.ok
    errors = [a for a in _annotations(run.stdout) if a.startswith("::error ")]
    assert len(errors) == 1
    assert re.fullmatch(
        r"::error file=hub/ONNX_HUB_MANIFEST\.json,line=\d+,col=\d+,title=sha-mismatch::"
        rf"/{index}/metadata/model_sha: manifest says {'0' * 64}, the file "
        r"'validated/vision/classification/tiny_cnn/model/tinycnn-7\.onnx' has [0-9a-f]{64}"
        r"%0Arun `hubtools generate` to recompute it",
        errors[0],
    ), errors[0]
    assert run.outputs["changed"] == "true"
    assert "| changed | `Tiny CNN` | 7 |" in run.summary


def test_a_bad_readme_row(pull_request: tuple[Path, git.Repo], tmp_path: Path) -> None:
    root, repo = pull_request
    readme = root / README
    lines = readme.read_text().splitlines(keepends=True)
    row = next(i for i, line in enumerate(lines) if "tinycnn-7.onnx" in line)
    lines[row] = re.sub(r"\|\s*7\s*\|", "| seven |", lines[row])
    readme.write_text("".join(lines))
    _commit(repo, "opset written out")
    run = run_action(root, {"install": "false", "hub": "hub"}, "main", tmp_path / "temp")
    assert not run.ok
    assert run.steps["generate"]["outputs"]["status"] == "1"
    assert _annotations(run.stdout) == [
        f"::error file={README},line={row + 1},title=opset-not-a-number::opset version 'seven' "
        "is not a whole number, so the row cannot be used%0Awrite the opset as a whole number "
        "such as 12"
    ]


def test_check_models_on_the_changed_models(
    pull_request: tuple[Path, git.Repo], tmp_path: Path
) -> None:
    root, repo = pull_request
    with (root / README).open("a") as readme:
        readme.write("\nA note on the tiny CNNs.\n")
    _commit(repo, "a note in tiny_cnn's README")
    inputs = {"install": "false", "hub": "hub", "check-models": "true"}
    run = run_action(root, inputs, "main", tmp_path / "temp")
    assert run.ok, run.stdout
    assert run.steps["models"]["outputs"]["status"] == "0"
    assert run.outputs["changed"] == "false"
    passed = "pass   Tiny CNN (opset 7)  validated/vision/classification/tiny_cnn/model/"
    assert passed in run.stdout
    checked = [line for line in run.stdout.splitlines() if line.startswith(("pass ", "skip "))]
    assert all("tiny_cnn" in line for line in checked)
    assert len(checked) == 4  # tinycnn-7, -12, -12-int8 and the preprocessing model


def test_the_layouts_input_chooses_what_generate_collects(
    pull_request: tuple[Path, git.Repo], tmp_path: Path
) -> None:
    """The fixture hub has README-table and turnkey entries: both layouts (in
    either separator) keep its manifest up to date; one alone would drop the
    other's entries; a layout that does not exist is a usage error."""
    root, _ = pull_request
    runs = {}
    for name, layouts in (("both", "readme-tables, turnkey"), ("one", "readme-tables"),
                          ("bogus", "nonsense")):  # fmt: skip
        temp = tmp_path / name
        temp.mkdir()
        runs[name] = run_action(
            root, {"install": "false", "hub": "hub", "layouts": layouts}, "main", temp
        )
    assert runs["both"].ok, runs["both"].stdout
    assert not runs["one"].ok
    assert runs["one"].steps["generate"]["outputs"]["status"] == "1"
    assert runs["one"].steps["validate"]["outputs"]["status"] == "0"
    assert runs["bogus"].steps["generate"]["outputs"]["status"] == "2"
