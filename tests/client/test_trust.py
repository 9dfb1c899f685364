"""Trust that is remembered: a yes at the prompt is recorded in the trusted list
in the cache folder and holds in later processes; `hubtools trust ls|add|rm`
manage the list; a folder the user names is trusted; `silent=True` never
stands for a yes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hubtools import hub
from hubtools.errors import UntrustedRepositoryError
from hubtools.hub import Hub
from tests.client_support import REPO_ROOT, Nobody, Person, Zoo, serve_zoo
from tests.conftest import RunCli


@pytest.fixture
def zoo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Zoo]:
    with serve_zoo(tmp_path, monkeypatch) as z:
        monkeypatch.delenv("HUBTOOLS_TRUSTED_REPOS")
        yield z


def _load_in_another_process(zoo: Zoo) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUBTOOLS_")}
    env.update(zoo.env())
    del env["HUBTOOLS_TRUSTED_REPOS"]
    code = f"from hubtools import hub; print(hub.load('resnet18', {zoo.repo!r}) is not None)"
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )


def test_a_yes_is_remembered_across_processes(zoo: Zoo) -> None:
    trusted = zoo.cache / "trusted_repos.txt"
    person = Person(answer=True)
    assert Hub(prompt=person).load("mnist", zoo.repo) is not None
    assert "a yes is remembered in" in person.asked[0]
    assert "trusted_repos.txt" in person.asked[0]
    assert trusted.read_text() == "acme/zoo\n"
    # Nobody to ask now, in this process and in another one: the list says yes.
    assert Hub(prompt=Nobody()).load("mnist", zoo.repo, opset=8) is not None
    run = _load_in_another_process(zoo)
    assert run.stdout.strip() == "True", run.stderr
    assert trusted.read_text() == "acme/zoo\n"  # recorded once


def test_a_no_and_silent_are_not_remembered(zoo: Zoo) -> None:
    trusted = zoo.cache / "trusted_repos.txt"
    assert Hub(prompt=Person(answer=False)).load("mnist", zoo.repo) is None
    for silent in (False, True):  # silent=True never grants trust (CVE-2026-28500)
        with pytest.raises(UntrustedRepositoryError, match="hubtools trust add acme/zoo"):
            Hub(prompt=Nobody()).load("mnist", zoo.repo, silent=silent)
    assert not trusted.exists()
    run = _load_in_another_process(zoo)
    assert "UntrustedRepositoryError" in run.stderr


def test_a_folder_the_user_names_is_trusted(zoo: Zoo) -> None:
    assert Hub(prompt=Nobody()).load("resnet18", str(zoo.root)) is not None
    assert Hub(prompt=Nobody()).load("resnet18", zoo.root.as_uri(), force_reload=True) is not None
    with pytest.raises(UntrustedRepositoryError):
        Hub(prompt=Nobody()).load("resnet18", zoo.base_url, force_reload=True)  # not a folder


def test_trust_ls_add_rm(run_cli: RunCli, zoo: Zoo, monkeypatch: pytest.MonkeyPatch) -> None:
    trusted = zoo.cache / "trusted_repos.txt"
    run = run_cli("trust", "add", "acme/zoo")
    assert run.exit_code == 0, run.stderr
    assert "acme/zoo is trusted from now on" in run.stderr
    assert "was trusted already" in run_cli("trust", "add", "ACME/zoo").stderr
    assert run_cli("trust", "add", "other/repo:dev").exit_code == 0
    assert trusted.read_text() == "acme/zoo\nother/repo:dev\n"
    assert hub.load("mnist", zoo.repo) is not None  # no prompt needed now
    monkeypatch.setenv("HUBTOOLS_TRUSTED_REPOS", "env/one")
    rows = [ln.split(None, 1) for ln in run_cli("trust", "ls").stdout.splitlines()]
    assert rows[:5] == [
        ["ENTRY", "FROM"],
        ["onnx/models", "built in (any ref)"],
        ["env/one", "HUBTOOLS_TRUSTED_REPOS"],
        ["acme/zoo", str(trusted)],
        ["other/repo:dev", str(trusted)],
    ]
    listed = json.loads(run_cli("trust", "ls", "--format", "json").stdout)
    assert {"entry": "acme/zoo", "from": str(trusted)} in listed
    trusted.write_text("# ours\nacme/zoo  # the fixture zoo\nother/repo:dev\n")
    run = run_cli("trust", "rm", "acme/zoo")
    assert run.exit_code == 0
    assert "acme/zoo is no longer trusted" in run.stderr
    assert trusted.read_text() == "# ours\nother/repo:dev\n"  # comments and others kept
    run = run_cli("trust", "rm", "acme/zoo")
    assert run.exit_code == 1
    assert "is not in" in run.stderr
    run = run_cli("trust", "add", "not a repo")
    assert run.exit_code == 2
    assert "is not owner/name[:ref]" in run.stderr
