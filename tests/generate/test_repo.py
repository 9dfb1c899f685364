"""Tracked-file walk, plain walk, changes since a ref, and link safety."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import git
import pytest

from hubtools.errors import (
    LinkError,
    LinkEscapesError,
    LinkIsURLError,
    Problem,
    Severity,
    UsageError,
)
from hubtools.generate.repo import (
    ChangeSet,
    _may_be_in_git,
    changed_since,
    list_files,
    repo_file,
    resolve_link,
)


def _repo(root: Path, files: dict[str, str]) -> git.Repo:
    repo = git.Repo.init(root)
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    repo.index.add(list(files))
    repo.index.commit("init")
    return repo


def test_list_files_gives_tracked_files_only(tmp_path: Path) -> None:
    _repo(tmp_path, {"README.md": "x", "a/b.onnx": "y"})
    (tmp_path / "untracked.onnx").write_text("z")
    files = list_files(tmp_path)
    assert files.is_git
    assert files.files == frozenset({"README.md", "a/b.onnx"})
    assert "a/b.onnx" in files


def test_list_files_of_a_subfolder_is_relative_to_it(tmp_path: Path) -> None:
    _repo(tmp_path, {"zoo/README.md": "x", "zoo/m/a.onnx": "y", "other.txt": "z"})
    assert list_files(tmp_path / "zoo").files == frozenset({"README.md", "m/a.onnx"})


def test_plain_walk_outside_git(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "a.onnx").write_text("y")
    (tmp_path / "README.md").write_text("x")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "c.pyc").write_text("")
    files = list_files(tmp_path)
    assert not files.is_git
    assert files.files == frozenset({"README.md", "m/a.onnx"})


def test_git_dir_in_the_environment_is_left_to_gitpython(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    _repo(repo, {"README.md": "x"})
    plain = tmp_path / "plain"
    plain.mkdir()
    assert not _may_be_in_git(plain)
    assert _may_be_in_git(repo / "sub" / "folder")  # .git above, even if not there yet
    monkeypatch.setenv("GIT_DIR", str(repo / ".git"))
    assert _may_be_in_git(plain)


def test_generating_a_plain_folder_loads_neither_gitpython_nor_yaml_nor_onnx(
    tmp_path: Path,
) -> None:
    # Start-up time: these imports cost ~60, ~20 and ~200 ms and are not needed here.
    (tmp_path / "README.md").write_text("# zoo\n")
    code = (
        "import sys\n"
        "from hubtools.generate.pipeline import generate_manifest\n"
        "assert len(generate_manifest(sys.argv[1]).manifest) == 0\n"
        "print(sorted(m for m in ('git', 'yaml', 'onnx') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True
    )
    assert out.stdout == "[]\n"


def test_list_files_of_a_file_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    with pytest.raises(UsageError, match="not a folder"):
        list_files(tmp_path / "f")


def test_changed_since_sees_add_modify_delete_rename(tmp_path: Path) -> None:
    repo = _repo(
        tmp_path,
        {"keep.txt": "k", "mod.txt": "m", "gone.txt": "g", "old.bin": "same content " * 20},
    )
    (tmp_path / "mod.txt").write_text("changed")
    (tmp_path / "new.txt").write_text("n")
    repo.index.add(["mod.txt", "new.txt"])
    repo.index.remove(["gone.txt"], working_tree=True)
    repo.git.mv("old.bin", "renamed.bin")
    repo.index.commit("changes")
    (tmp_path / "keep.txt").write_text("uncommitted edit")
    changes = changed_since(tmp_path, "HEAD~1")
    assert changes == ChangeSet(
        added=frozenset({"new.txt"}),
        modified=frozenset({"mod.txt", "keep.txt"}),
        deleted=frozenset({"gone.txt"}),
        renamed=(("old.bin", "renamed.bin"),),
    )
    assert changes.touched == frozenset(
        {"new.txt", "mod.txt", "keep.txt", "gone.txt", "old.bin", "renamed.bin"}
    )


def test_changed_since_bad_ref_or_no_repo(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="needs a git repository"):
        changed_since(tmp_path, "HEAD")
    _repo(tmp_path, {"a": "a"})
    with pytest.raises(UsageError, match="'nope' is not a known git revision"):
        changed_since(tmp_path, "nope")


def test_resolve_link(tmp_path: Path) -> None:
    assert resolve_link(tmp_path, "v/c/m", "model/a.onnx") == "v/c/m/model/a.onnx"
    assert resolve_link(tmp_path, "v/c/m", "./model/../model/a.onnx#x") == "v/c/m/model/a.onnx"
    assert resolve_link(tmp_path, "v/c/m", "/top/a.onnx") == "top/a.onnx"
    assert resolve_link(tmp_path, "", "validated/x") == "validated/x"


@pytest.mark.parametrize(
    ("href", "kind", "message"),
    [
        ("../../x.onnx", LinkEscapesError, "leaves the repository"),
        ("../../../etc/passwd", LinkEscapesError, "leaves the repository"),
        ("https://example.org/a.onnx", LinkIsURLError, "is a URL"),
        ("#section", LinkError, "has no file part"),
    ],
)
def test_resolve_link_refuses(
    tmp_path: Path, href: str, kind: type[LinkError], message: str
) -> None:
    """Callers tell the cases apart by type, never by message text."""
    with pytest.raises(kind, match=message) as caught:
        resolve_link(tmp_path, "a", href)
    assert type(caught.value) is kind


def test_resolve_link_refuses_symlink_outside(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.onnx").write_text("secret")
    root = tmp_path / "repo"
    (root / "m").mkdir(parents=True)
    os.symlink(outside / "x.onnx", root / "m" / "x.onnx")
    with pytest.raises(LinkEscapesError, match="through a symlink"):
        resolve_link(root, "m", "x.onnx")
    (root / "real.onnx").write_text("ok")
    os.symlink("../real.onnx", root / "m" / "alias.onnx")
    assert resolve_link(root, "m", "alias.onnx") == "m/alias.onnx"  # a symlink inside is fine


def test_repo_file_follows_links_only_to_regular_files_inside(tmp_path: Path) -> None:
    root = tmp_path / "zoo"
    (root / "m").mkdir(parents=True)
    (root / "m" / "real.onnx").write_bytes(b"x")
    (tmp_path / "secret.key").write_bytes(b"s")
    os.symlink("real.onnx", root / "m" / "inside.onnx")
    os.symlink("inside.onnx", root / "m" / "chain.onnx")
    os.symlink(tmp_path / "secret.key", root / "m" / "absolute.onnx")
    os.symlink("../../secret.key", root / "m" / "relative.onnx")
    os.symlink("../m/relative.onnx", root / "m" / "chain-out.onnx")
    os.symlink("/dev/zero", root / "m" / "zero.onnx")
    os.mkfifo(root / "m" / "pipe.onnx")
    assert repo_file(root, "m/real.onnx") == root / "m" / "real.onnx"
    assert repo_file(root, "m/chain.onnx") == root / "m" / "chain.onnx"
    assert repo_file(root, "m/missing.onnx") == root / "m" / "missing.onnx"  # the reader says
    for name in ("absolute", "relative", "chain-out", "zero"):
        refused = repo_file(root, f"m/{name}.onnx")
        assert isinstance(refused, Problem)
        assert (refused.code, str(refused.location)) == ("link-outside", f"m/{name}.onnx")
        assert "secret" not in refused.message
        assert "zero" not in refused.message
        assert refused.severity is Severity.WARNING
    for rel, kind in (("m/pipe.onnx", "a FIFO"), ("m", "a directory")):
        refused = repo_file(root, rel, "the row was skipped")
        assert isinstance(refused, Problem)
        assert refused.code == "not-a-regular-file"
        assert (
            refused.message
            == f"is {kind}, not a regular file; it was not read and the row was skipped"
        )
