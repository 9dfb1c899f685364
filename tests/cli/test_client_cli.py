"""`hubtools list/info/download/cache` as a user types them."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.client_support import (
    Fault,
    FixtureModel,
    Zoo,
    build_repo,
    serve_zoo,
    tiny_model_bytes,
)
from tests.conftest import RunCli


@pytest.fixture
def zoo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Zoo]:
    with serve_zoo(tmp_path, monkeypatch) as z:
        monkeypatch.setenv("HUBTOOLS_REPO", z.repo)
        yield z


def test_list_table_and_json(run_cli: RunCli, zoo: Zoo) -> None:
    run = run_cli("list")
    assert run.exit_code == 0
    lines = run.stdout.splitlines()
    assert lines[0].split() == ["MODEL", "OPSET", "TAGS", "PATH"]
    assert [ln.split()[:2] for ln in lines[1:]] == [
        ["MNIST", "8"],
        ["MNIST", "12"],
        ["ResNet18", "13"],
    ]
    run = run_cli("list", "--tag", "resnet", "--format", "json")
    assert [e["model"] for e in json.loads(run.stdout)] == ["ResNet18"]
    run = run_cli("list", "--model", "mnist", "--format", "json")
    assert [e["opset_version"] for e in json.loads(run.stdout)] == [8, 12]


def test_info(run_cli: RunCli, zoo: Zoo) -> None:
    run = run_cli("info", "mnist", "--opset", "8")
    assert run.exit_code == 0
    assert "opset: 8" in run.stdout
    assert f"sha256: {zoo.model('MNIST', 8).sha}" in run.stdout
    assert "input: x tensor(float) [1, 4]" in run.stdout
    run = run_cli("info", "mnist", "--opset", "9")
    assert run.exit_code == 2
    assert "Valid opsets: [8, 12]" in run.stderr


def test_download_prints_the_local_path(run_cli: RunCli, zoo: Zoo) -> None:
    run = run_cli("download", "mnist")
    assert run.exit_code == 0, run.stderr
    path = Path(run.stdout.strip())
    assert path.read_bytes() == zoo.model("MNIST", 12).data
    assert path.name == f"{zoo.model('MNIST', 12).sha}_mnist-12.onnx"
    run = run_cli("download", "mnist", "--opset", "8", "--with-test-data")
    folder = Path(run.stdout.strip())
    assert (folder / "model.onnx").is_file()
    assert (folder / "test_data_set_0").is_dir()


def test_download_from_a_mirror_says_which_source_served_it(
    run_cli: RunCli, zoo: Zoo, tmp_path: Path
) -> None:
    m = zoo.model("MNIST", 12)
    zoo.server.fault(m.model_path, Fault("lfs_pointer", times=-1))
    mirror = tmp_path / "mirror"
    build_repo(mirror)
    run = run_cli("download", "mnist", "--mirror", mirror.as_uri())
    assert run.exit_code == 0, run.stderr
    assert Path(run.stdout.strip()).read_bytes() == m.data
    assert f"hubtools: {m.model_path} from {mirror.as_uri()}/{m.model_path}" in run.stderr
    run = run_cli("download", "mnist")
    assert run.exit_code == 0, run.stderr
    assert f"hubtools: {m.model_path} from cache" in run.stderr
    run = run_cli("download", "mnist", "--opset", "8", "--mirror", "ftp://nope")
    assert run.exit_code == 2
    assert "mirror 'ftp://nope' is not an http(s)://" in run.stderr


def test_download_errors_exit_2_with_a_message(
    run_cli: RunCli, zoo: Zoo, monkeypatch: pytest.MonkeyPatch
) -> None:
    zoo.server.fault(zoo.model("MNIST", 12).model_path, Fault("lfs_pointer", times=-1))
    run = run_cli("download", "mnist")
    assert run.exit_code == 2
    assert "hubtools: error:" in run.stderr
    assert "no longer serves" in run.stderr
    monkeypatch.delenv("HUBTOOLS_TRUSTED_REPOS")
    run = run_cli("download", "resnet18")
    assert run.exit_code == 2
    assert "not trusted" in run.stderr
    assert "--trust" in run.stderr
    assert run_cli("download", "resnet18", "--trust").exit_code == 0


def test_offline_flag(run_cli: RunCli, zoo: Zoo) -> None:
    run = run_cli("list", "--offline")
    assert run.exit_code == 2
    assert "no manifest of acme/zoo:main" in run.stderr
    assert run_cli("download", "mnist").exit_code == 0
    assert run_cli("download", "mnist", "--offline").exit_code == 0
    run = run_cli("download", "resnet18", "--offline")
    assert run.exit_code == 2
    assert "not in the cache" in run.stderr


def test_cache_ls_verify_prune(run_cli: RunCli, zoo: Zoo) -> None:
    path = Path(run_cli("download", "mnist").stdout.strip())
    run = run_cli("cache", "ls")
    assert run.exit_code == 0
    rows = [ln.split("  ") for ln in run.stdout.splitlines()]
    rows = [[cell.strip() for cell in row if cell.strip()] for row in rows]
    assert rows[0] == ["REPO", "MODEL", "OPSET", "SIZE", "KIND", "PATH"]
    size = path.stat().st_size
    assert [
        "acme/zoo:main",
        "MNIST",
        "12",
        f"{size} B",
        "model",
        str(path.relative_to(zoo.cache)),
    ] in rows
    manifest = next(row for row in rows if "manifest" in row)
    assert manifest[:3] == ["acme/zoo:main", "-", "-"]
    assert manifest[4] == "manifest"
    assert manifest[3].endswith(" KiB")
    total = sum(p.stat().st_size for p in zoo.cache.rglob("*") if p.is_file())
    assert rows[-1][0].startswith("total: 2 file(s),")
    assert run.stdout.splitlines()[-1].endswith(f"KiB ({total} bytes) in {zoo.cache}")
    listed = json.loads(run_cli("cache", "ls", "--format", "json").stdout)
    assert listed["total"] == sum(f["size"] for f in listed["files"]) == total
    (model,) = [f for f in listed["files"] if f["kind"] == "model"]
    assert model["repos"] == ["acme/zoo:main"]
    assert model["models"] == [{"repo": "acme/zoo:main", "model": "MNIST", "opset": 12}]
    assert run_cli("cache", "verify").exit_code == 0
    path.write_bytes(b"corrupt")
    run = run_cli("cache", "verify")
    assert run.exit_code == 1
    assert "removed" in run.stdout
    assert not path.exists()
    stray = path.with_name(path.name + ".partial")
    stray.write_bytes(b"half")
    run = run_cli("cache", "prune", "--dry-run")
    assert run.exit_code == 0
    assert "would remove partial" in run.stdout
    assert stray.exists()
    run = run_cli("cache", "prune")
    assert "removed partial" in run.stdout
    assert not stray.exists()


def test_options_show_their_environment_variables(run_cli: RunCli) -> None:
    help_text = run_cli("download", "--help").stdout
    for var in ("HUBTOOLS_REPO", "HUBTOOLS_OFFLINE", "HUBTOOLS_NO_PROGRESS"):
        assert var in help_text


def test_no_lock_file_stays_beside_cached_files(run_cli: RunCli, zoo: Zoo) -> None:
    assert run_cli("download", "mnist", "--with-test-data").exit_code == 0
    assert run_cli("download", "resnet18").exit_code == 0
    assert run_cli("cache", "verify").exit_code == 0
    assert not list(zoo.cache.rglob("*.lock"))
    assert "lock" not in {ln.split()[1] for ln in run_cli("cache", "ls").stdout.splitlines()[1:-1]}


def test_prune_lists_what_it_kept_because_a_download_holds_it(run_cli: RunCli, zoo: Zoo) -> None:
    from hubtools.client.locks import locked

    target = zoo.cache / "vision" / f"{'ab' * 32}_m.onnx"
    target.parent.mkdir(parents=True)
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(b"half")
    taken, done = threading.Event(), threading.Event()

    def download() -> None:
        with locked(target):
            taken.set()
            done.wait(10)

    thread = threading.Thread(target=download)
    thread.start()
    taken.wait(5)
    try:
        run = run_cli("cache", "prune")
    finally:
        done.set()
        thread.join(5)
    assert run.exit_code == 0
    assert run.stdout == (
        f"kept partial vision/{partial.name} (4 B): in use by a running download or extraction\n"
    )
    assert run.stderr == "removed 0 item(s), 0 B; 1 in use, kept\n"
    assert run_cli("cache", "prune").stdout == f"removed partial vision/{partial.name} (4 B)\n"


def test_cache_rm_a_model_an_opset_or_a_repository(run_cli: RunCli, zoo: Zoo) -> None:
    assert run_cli("download", "mnist", "--opset", "8", "--with-test-data").exit_code == 0
    assert run_cli("download", "mnist").exit_code == 0
    assert run_cli("download", "resnet18").exit_code == 0
    mnist8, mnist12 = zoo.model("MNIST", 8), zoo.model("MNIST", 12)

    def cached() -> list[str]:
        return sorted(str(p.relative_to(zoo.cache)) for p in zoo.cache.rglob("*") if p.is_file())

    before = cached()
    run = run_cli("cache", "rm", "MNIST", "--opset", "8", "--dry-run")
    assert run.exit_code == 0
    assert cached() == before
    lines = run.stdout.splitlines()
    assert [ln.split()[:2] for ln in lines] == [["would", "remove"]] * 3
    assert [ln.split()[2] for ln in lines] == ["model", "extracted", "extracted"]
    assert "mnist-8.tar.gz" in lines[0]
    assert run.stderr.startswith("would remove 3 item(s), ")
    assert run.stderr.endswith("of MNIST (opset 8)\n")
    removed = json.loads(run_cli("cache", "rm", "mnist", "--opset", "8", "--format", "json").stdout)
    assert removed["dry_run"] is False
    assert removed["matched"] == 1
    assert [f["kind"] for f in removed["removed"]] == ["model", "extracted", "extracted"]
    assert not [f for f in cached() if "mnist-8" in f]
    assert [f for f in cached() if mnist12.sha in f]
    assert hub_files(zoo, mnist8.sha) == []
    run = run_cli("cache", "rm", "mnist")  # every opset
    assert run.exit_code == 0
    assert not [f for f in cached() if "mnist" in f]
    run = run_cli("cache", "rm", "--repo", "acme/zoo:main")
    assert run.exit_code == 0
    assert run.stdout.splitlines()[-1].startswith("removed manifest .hubtools/manifests/")
    assert cached() == []
    run = run_cli("cache", "rm", "nope")
    assert run.exit_code == 1
    assert "no kept manifest lists nope" in run.stderr
    run = run_cli("cache", "rm")
    assert run.exit_code == 2
    assert "name a MODEL, a --repo, or both" in run.stderr


def hub_files(zoo: Zoo, sha: str) -> list[Path]:
    """Files and folders of the cache whose name starts with ``sha``."""
    return list(zoo.cache.rglob(f"*{sha}*"))


def test_cache_rm_of_a_repository_keeps_files_another_one_names(run_cli: RunCli, zoo: Zoo) -> None:
    zoo.server.add_repo("acme", "zoo", "dev", zoo.root)
    assert run_cli("download", "resnet18").exit_code == 0
    assert run_cli("list", "--repo", "acme/zoo:dev").exit_code == 0  # the same files
    run = run_cli("cache", "rm", "--repo", "acme/zoo:main")
    assert run.exit_code == 0
    resnet = zoo.model("ResNet18", 13)
    assert "also in acme/zoo:dev" in run.stdout
    assert "used by another repository, kept" in run.stderr
    assert hub_files(zoo, resnet.sha)
    listed = json.loads(run_cli("cache", "ls", "--format", "json").stdout)
    assert {r for f in listed["files"] for r in f["repos"]} == {"acme/zoo:dev"}


# Control sequences a manifest could carry: clear the screen, set the window
# title (OSC ... BEL), colours, a C1 CSI, and a right-to-left override.
EVIL_NAME = "evil\x1b[2J\x1b]0;owned\x07\u202eman"
EVIL_TAGS = ["red\x1b[31m", "\x9b1;1H"]
EVIL_PATH = "vision/m\u202egnp\x85.onnx"


@pytest.fixture
def evil_zoo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Zoo]:
    root = tmp_path / "evil"
    build_repo(root, [FixtureModel(EVIL_NAME, 12, EVIL_PATH, tiny_model_bytes(12), EVIL_TAGS)])
    with serve_zoo(tmp_path, monkeypatch) as z:
        z.server.add_repo("acme", "evil", "main", root)
        monkeypatch.setenv("HUBTOOLS_TRUSTED_REPOS", "acme/evil")
        yield z


def test_list_and_info_escape_what_the_manifest_says(run_cli: RunCli, evil_zoo: Zoo) -> None:
    run = run_cli("list", "--repo", "acme/evil:main")
    assert run.exit_code == 0, run.stderr
    assert run.stdout == (
        "MODEL                                 OPSET  TAGS                   PATH\n"
        "evil\\x1b[2J\\x1b]0;owned\\x07\\u202eman  12     red\\x1b[31m, \\x9b1;1H  "
        "vision/m\\u202egnp\\x85.onnx\n"
    )
    run = run_cli("info", EVIL_NAME, "--repo", "acme/evil:main")
    assert run.stdout.splitlines()[:3] == [
        "model: evil\\x1b[2J\\x1b]0;owned\\x07\\u202eman",
        "opset: 12",
        "path: vision/m\\u202egnp\\x85.onnx",
    ]
    assert "tags: red\\x1b[31m, \\x9b1;1H" in run.stdout
    for out in (run_cli("list", "--repo", "acme/evil:main").stdout, run.stdout):
        assert not set(out) & {"\x1b", "\x07", "\x9b", "\x85", "\u202e"}
    # JSON escapes them its own way (json.dumps' ensure_ascii) and stays valid JSON.
    for args in (("list",), ("info", EVIL_NAME)):
        run = run_cli(*args, "--repo", "acme/evil:main", "--format", "json")
        assert run.stdout.isascii()
        assert "\\u001b[2J" in run.stdout
        data = json.loads(run.stdout)
        entry = data[0] if isinstance(data, list) else data
        assert (entry["model"], entry["model_path"]) == (EVIL_NAME, EVIL_PATH)


def test_download_and_cache_commands_escape_paths(run_cli: RunCli, evil_zoo: Zoo) -> None:
    run = run_cli("download", EVIL_NAME, "--repo", "acme/evil:main")
    assert run.exit_code == 0, run.stderr
    assert run.stdout.endswith("_m\\u202egnp\\x85.onnx\n")
    assert "hubtools: vision/m\\u202egnp\\x85.onnx from http://" in run.stderr
    for args in (("cache", "ls"), ("cache", "verify"), ("cache", "prune", "--dry-run")):
        out = run_cli(*args)
        assert not set(out.stdout + out.stderr) & {"\x85", "\u202e"}, args
    assert "_m\\u202egnp\\x85.onnx" in run_cli("cache", "ls").stdout


def test_download_and_cache_commands_speak_json(run_cli: RunCli, zoo: Zoo) -> None:
    m = zoo.model("MNIST", 12)
    got = json.loads(run_cli("download", "mnist", "--repo", zoo.repo, "--format", "json").stdout)
    assert got["model_path"] == m.model_path
    assert got["from_cache"] is False
    assert got["path"].endswith(f"{m.sha}_mnist-12.onnx")
    again = json.loads(run_cli("download", "mnist", "--repo", zoo.repo, "--format", "json").stdout)
    assert again["from_cache"] is True
    Path(got["path"]).write_bytes(b"corrupt")
    run = run_cli("cache", "verify", "--format", "json")
    assert run.exit_code == 1
    verified = json.loads(run.stdout)
    assert [c["kind"] for c in verified["corrupt"]] == ["model"]
    assert verified["corrupt"][0]["expected"] == m.sha
    pruned = json.loads(run_cli("cache", "prune", "--dry-run", "--format", "json").stdout)
    assert pruned["dry_run"] is True
    assert set(pruned) == {"cache_dir", "dry_run", "removed", "removed_bytes", "in_use"}
