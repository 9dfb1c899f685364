"""Every hostile archive of tests/hostile/archives.py gets one verdict from every
command: the client's ``safe_extract`` refuses it before writing anything,
``check_archive`` refuses it with the very same message, ``hubtools inspect``
exits 1 with that message on one line, and ``validate --repo`` reports
``unsafe-archive`` at the pointer of the entry that names it, as a model
archive or as a test-data bundle; ``generate`` leaves such a bundle out of the
entry it writes, so that what it writes passes ``validate --repo``. The benign
archives pass everywhere."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from hubtools.core import archive_policy
from hubtools.core.archives import check_archive, judged_digest, safe_extract
from hubtools.errors import UnsafeArchiveError
from tests.conftest import RunCli
from tests.hostile.archives import BENIGN, CASES, HostileArchive
from tests.validate.support import entry, model_bytes


@pytest.fixture(params=CASES, ids=lambda c: c.name)
def case(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> HostileArchive:
    hostile: HostileArchive = request.param
    if hostile.limits is not None:  # kept small so that the case stays cheap to build
        monkeypatch.setattr(archive_policy, "DEFAULT_LIMITS", hostile.limits)
    return hostile


@pytest.fixture(params=BENIGN, ids=lambda c: c.name)
def benign(request: pytest.FixtureRequest) -> HostileArchive:
    fine: HostileArchive = request.param
    return fine


def _write(case: HostileArchive, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{case.name}{case.suffix}"
    path.write_bytes(case.build())
    return path


def _refusal(call: object) -> str:
    with pytest.raises(UnsafeArchiveError) as info:
        call()  # type: ignore[operator]
    return str(info.value)


def test_extraction_refuses_before_any_write(case: HostileArchive, tmp_path: Path) -> None:
    path = _write(case, tmp_path / "cache")
    before = sorted(tmp_path.rglob("*"))
    message = _refusal(lambda: safe_extract(path, tmp_path / "cache" / "out"))
    assert case.refusal in message
    assert message.startswith(f"{path.name}: ")
    assert "\n" not in message
    assert sorted(tmp_path.rglob("*")) == before


def test_check_archive_gives_the_clients_verdict(case: HostileArchive, tmp_path: Path) -> None:
    path = _write(case, tmp_path)
    extracting = _refusal(lambda: safe_extract(path, tmp_path / "out"))
    assert _refusal(lambda: check_archive(path)) == extracting
    assert _refusal(lambda: check_archive(path, source="x/y")) == extracting.replace(
        path.name, "x/y", 1
    )


def test_inspect_exits_1_with_the_refusal_on_one_line(
    run_cli: RunCli, case: HostileArchive, tmp_path: Path
) -> None:
    path = _write(case, tmp_path)
    run = run_cli("inspect", path)
    assert run.exit_code == 1, run.stdout
    assert "Traceback" not in run.stdout + run.stderr
    (line,) = run.stderr.splitlines()
    assert line.startswith(f"hubtools: error: {path}: ")
    assert case.refusal in line
    assert run.stdout == ""


def _manifest(tmp_path: Path, entries: list[dict[str, object]]) -> Path:
    path = tmp_path / "ONNX_HUB_MANIFEST.json"
    path.write_text(json.dumps(entries, indent=4))
    return path


def _as_model_archive(case: HostileArchive, root: Path) -> dict[str, object]:
    path = _write(case, root / "m")
    archived = entry(f"m/{path.name}", path.read_bytes())
    archived["metadata"]["model_archive"] = case.suffix[1:]  # type: ignore[index]
    return archived


def _as_bundle(case: HostileArchive, root: Path) -> dict[str, object]:
    path = _write(case, root / "m")
    (root / "m" / "model.onnx").write_bytes(model_bytes())
    return entry("m/model.onnx", model_bytes(), (f"m/{path.name}", path.read_bytes()))


@pytest.mark.parametrize(
    ("place", "pointer"),
    [(_as_model_archive, "/0/model_path"), (_as_bundle, "/0/metadata/model_with_data_path")],
    ids=["model-archive", "bundle"],
)
def test_validate_repo_reports_unsafe_archive_at_the_entry(
    run_cli: RunCli, case: HostileArchive, tmp_path: Path, place: object, pointer: str
) -> None:
    root = tmp_path / "repo"
    manifest = _manifest(tmp_path, [place(case, root)])  # type: ignore[operator]
    run = run_cli("validate", "--format", "json", manifest, "--repo", root)
    assert run.exit_code == 1, run.stdout + run.stderr
    (problem,) = json.loads(run.stdout)["problems"]
    assert (problem["code"], problem["pointer"]) == ("unsafe-archive", pointer)
    assert problem["line"]
    assert problem["column"]
    assert problem["hint"]
    assert case.refusal in problem["message"]
    assert problem["message"].startswith(f"m/{case.name}{case.suffix}: ")
    assert str(tmp_path) not in problem["message"]


def test_generate_leaves_a_hostile_bundle_out_of_what_it_writes(
    run_cli: RunCli, case: HostileArchive, tmp_path: Path
) -> None:
    """A model and an archive of its stem beside it (the files layout's bundle):
    generate warns, writes the entry without the bundle, and validate --repo of
    what it wrote passes (it wrote the bundle, and validate refused it)."""
    root = tmp_path / "repo"
    (root / "m").mkdir(parents=True)
    (root / "m" / "net-13.onnx").write_bytes(model_bytes(13))
    (root / "m" / f"net-13{case.suffix}").write_bytes(case.build())
    run = run_cli("generate", root, "--format", "json")
    assert run.exit_code == 0, run.stdout + run.stderr
    (problem,) = json.loads(run.stdout)["problems"]
    assert (problem["code"], problem["severity"], problem["file"]) == (
        "unsafe-archive",
        "warning",
        "m/net-13.onnx",
    )
    assert problem["message"].startswith(f"m/net-13{case.suffix}: ")
    assert case.refusal in problem["message"]
    assert problem["message"].endswith("; the entry was written without it")
    (written,) = json.loads((root / "ONNX_HUB_MANIFEST.json").read_text())
    assert written["model_path"] == "m/net-13.onnx"
    assert "model_with_data_path" not in written["metadata"]
    run = run_cli("validate", root / "ONNX_HUB_MANIFEST.json", "--repo", root)
    assert run.exit_code == 0, run.stdout + run.stderr


def test_benign_archives_pass_everywhere(
    run_cli: RunCli, benign: HostileArchive, tmp_path: Path
) -> None:
    root = tmp_path / "repo"
    path = _write(benign, root / "m")
    check_archive(path)
    assert (safe_extract(path, tmp_path / "out") / "m" / "model.onnx").is_file()
    assert run_cli("inspect", path).exit_code == 0
    for place in (_as_model_archive, _as_bundle):
        manifest = _manifest(tmp_path, [place(benign, root)])
        run = run_cli("validate", manifest, "--repo", root)
        assert (run.exit_code, run.stdout) == (0, "")


def test_generate_keeps_a_benign_bundle(
    run_cli: RunCli, benign: HostileArchive, tmp_path: Path
) -> None:
    root = tmp_path / "repo"
    (root / "m").mkdir(parents=True)
    (root / "m" / "net-13.onnx").write_bytes(model_bytes(13))
    (root / "m" / f"net-13{benign.suffix}").write_bytes(benign.build())
    run = run_cli("generate", root, "--format", "json")
    assert (run.exit_code, json.loads(run.stdout)["problems"]) == (0, [])
    (written,) = json.loads((root / "ONNX_HUB_MANIFEST.json").read_text())
    assert written["metadata"]["model_with_data_path"] == f"m/net-13{benign.suffix}"
    assert run_cli("validate", root / "ONNX_HUB_MANIFEST.json", "--repo", root).exit_code == 0


def test_judging_and_hashing_in_one_read_gives_the_files_sha256(
    benign: HostileArchive, tmp_path: Path
) -> None:
    """judged_digest hashes each byte as the judging reads it (a zip's directory
    is read first, from the end; a tar.gz once, front to back)."""
    path = _write(benign, tmp_path)
    found = judged_digest(path)
    data = path.read_bytes()
    assert (found.sha256, found.size) == (hashlib.sha256(data).hexdigest(), len(data))


def test_judging_in_one_read_refuses_what_check_archive_refuses(
    case: HostileArchive, tmp_path: Path
) -> None:
    path = _write(case, tmp_path)
    assert _refusal(lambda: judged_digest(path)) == _refusal(lambda: check_archive(path))
