"""The generator end to end: file facts, reuse from a previous manifest and
--changed-since, custom collectors, bad files, and the real zoo."""

from __future__ import annotations

import dataclasses
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from hubtools.core.diff import diff_manifests
from hubtools.core.jsonfile import parse_json
from hubtools.core.manifest import IOPort, IOPorts, Manifest, ModelEntry
from hubtools.errors import Location, UsageError
from hubtools.generate.pipeline import (
    Candidate,
    CollectResult,
    generate_manifest,
    write_manifest,
)
from hubtools.generate.repo import RepoFiles
from hubtools.validate.checks import check_document

# make_zoo, model_bytes, pointer and zoo_files are imported from this module by
# the CLI tests too: keep them importable here.
from tests.client_support import data_bundle

from .support import NET, TOP, make_zoo, model_bytes, pointer, sha, zoo_files


def _with_metadata(entry: ModelEntry, **changes: Any) -> ModelEntry:
    """A copy of ``entry`` with the given metadata fields replaced."""
    return dataclasses.replace(entry, metadata=dataclasses.replace(entry.metadata, **changes))


def test_pointer_zoo_gives_exact_manifest(tmp_path: Path) -> None:
    make_zoo(tmp_path, zoo_files())
    result = generate_manifest(tmp_path)
    assert [str(p) for p in result.report] == []
    base = "validated/vision/classification/my_net"
    expected = [
        {
            "model": "Net-12",
            "model_path": f"{base}/model/net-12.onnx",
            "onnx_version": "1.9",
            "opset_version": 12,
            "metadata": {
                "model_sha": sha(model_bytes(12)),
                "model_bytes": len(model_bytes(12)),
                "tags": ["vision", "classification", "my net"],
                "model_with_data_path": f"{base}/model/net-12.tar.gz",
                "model_with_data_sha": sha(b"bundle-12"),
                "model_with_data_bytes": 9,
            },
        },
        {
            "model": "Net",
            "model_path": f"{base}/model/net-7.onnx",
            "onnx_version": "1.2",
            "opset_version": 7,
            "metadata": {
                "model_sha": sha(model_bytes(7)),
                "model_bytes": len(model_bytes(7)),
                "tags": ["vision", "classification", "my net"],
                "model_with_data_path": f"{base}/model/net-7.tar.gz",
                "model_with_data_sha": sha(b"bundle-7"),
                "model_with_data_bytes": 8,
            },
        },
        {
            "model": "Net-pre",
            "model_path": f"{base}/preproc/pre-18.onnx",
            "onnx_version": "1.13.1",
            "opset_version": 18,
            "metadata": {
                "model_sha": sha(model_bytes(18)),
                "model_bytes": len(model_bytes(18)),
                "tags": ["vision", "classification", "my net", "preprocessing"],
                "model_with_data_path": f"{base}/preproc/pre-18.tar.gz",
                "model_with_data_sha": sha(b"bundle-18"),
                "model_with_data_bytes": 9,
            },
        },
    ]
    assert result.manifest.dumps() == json.dumps(expected, indent=4)
    stats = result.stats
    assert (stats.entries, stats.from_pointers, stats.files_hashed, stats.bytes_hashed) == (
        3,
        6,
        0,
        0,
    )
    assert stats.io_ports_missing == tuple(e["model_path"] for e in expected)
    assert stats.new_entries == stats.io_ports_missing
    assert stats.is_git


def test_previous_supplies_io_ports_and_extra_ports_by_sha(tmp_path: Path) -> None:
    make_zoo(tmp_path, zoo_files())
    first = generate_manifest(tmp_path).manifest
    ports = IOPorts(
        (IOPort("x", ("N", 4), "tensor(float)"),), (IOPort("y", ("N", 4), "tensor(float)"),)
    )
    # The previous manifest knew net-7 under another path: matched by sha.
    old = _with_metadata(first.entries[1], io_ports=ports, extra_ports={"features": []})
    moved = Manifest((old.__class__(**{**old.__dict__, "model_path": "old/place.onnx"}),))
    result = generate_manifest(tmp_path, previous=moved)
    entry = result.manifest.entries[1]
    assert entry.metadata.io_ports == ports
    assert entry.metadata.extra_ports == {"features": []}
    assert result.stats.io_ports_reused == 1
    assert len(result.stats.io_ports_missing) == 2
    assert list(entry.metadata.to_json()) == [
        "model_sha",
        "model_bytes",
        "tags",
        "io_ports",
        "extra_ports",
        "model_with_data_path",
        "model_with_data_sha",
        "model_with_data_bytes",
    ]


def test_plain_folder_is_walked(tmp_path: Path) -> None:
    make_zoo(tmp_path, zoo_files(), commit=False)
    result = generate_manifest(tmp_path)
    assert not result.stats.is_git
    assert len(result.manifest) == 3


def test_unreadable_model_is_a_warning(tmp_path: Path) -> None:
    files = zoo_files()
    make_zoo(tmp_path, files)
    target = tmp_path / "validated/vision/classification/my_net/model/net-7.onnx"
    target.chmod(0)
    try:
        if os.access(target, os.R_OK):
            pytest.skip("running as a user who can read anything")
        result = generate_manifest(tmp_path)
    finally:
        target.chmod(stat.S_IRUSR | stat.S_IWUSR)
    assert [(str(p.location), p.code) for p in result.report] == [
        ("validated/vision/classification/my_net/README.md:5", "unreadable-file")
    ]
    assert len(result.manifest) == 2


def test_non_regular_files_are_refused_and_never_counted(tmp_path: Path) -> None:
    base = "validated/vision/classification/my_net"
    files = zoo_files()
    files[f"{base}/model/net-7.onnx"] = model_bytes(7)
    make_zoo(tmp_path, files, commit=False)
    os.unlink(tmp_path / base / "model/net-7.tar.gz")
    os.mkfifo(tmp_path / base / "model/net-7.tar.gz")
    os.unlink(tmp_path / base / "model/net-12.onnx")
    os.mkfifo(tmp_path / base / "model/net-12.onnx")
    totals: list[int] = []
    result = generate_manifest(tmp_path, on_total=totals.append)
    assert [(str(p.location), p.code, p.message) for p in result.report] == [
        (
            f"{base}/README.md:5",
            "not-a-regular-file",
            f"{base}/model/net-7.tar.gz: is a FIFO, not a regular file; it was not read "
            "and the entry was written without it",
        ),
        (
            f"{base}/README.md:6",
            "not-a-regular-file",
            f"{base}/model/net-12.onnx: is a FIFO, not a regular file; it was not read "
            "and the entry was skipped",
        ),
    ]
    net7 = result.manifest.entries[0]
    assert (net7.model_path, net7.metadata.model_with_data_path) == (
        f"{base}/model/net-7.onnx",
        None,
    )
    # What the progress bar is told: the real model and the pointers, no FIFO.
    pointers = sum(
        len(files[f"{base}/{p}"])
        for p in ("model/net-12.tar.gz", "preproc/pre-18.onnx", "preproc/pre-18.tar.gz")
    )
    assert totals == [len(model_bytes(7)) + pointers]


def test_custom_collector_protocol(tmp_path: Path) -> None:
    make_zoo(tmp_path, {"m/a.onnx": pointer(b"abc")})

    class OneModel:
        name = "one"

        def collect(self, repo: RepoFiles) -> CollectResult:
            assert "m/a.onnx" in repo
            candidate = Candidate("A", "m/a.onnx", "1.0", 9, ("t",), None, Location("x.yaml", 1))
            return CollectResult((candidate,), (), ("x.yaml",))

    result = generate_manifest(tmp_path, collectors=[OneModel()])
    assert [e.to_json() for e in result.manifest] == [
        {
            "model": "A",
            "model_path": "m/a.onnx",
            "onnx_version": "1.0",
            "opset_version": 9,
            "metadata": {"model_sha": sha(b"abc"), "model_bytes": 3, "tags": ["t"]},
        }
    ]


def test_usage_errors(tmp_path: Path) -> None:
    make_zoo(tmp_path, zoo_files())
    with pytest.raises(UsageError, match="needs the previous manifest"):
        generate_manifest(tmp_path, changed_since="HEAD")
    with pytest.raises(UsageError, match="at least 1"):
        generate_manifest(tmp_path, jobs=0)
    with pytest.raises(UsageError, match="not a folder"):
        generate_manifest(tmp_path / "nope")


def test_compare_and_write(tmp_path: Path) -> None:
    make_zoo(tmp_path, zoo_files())
    new = generate_manifest(tmp_path).manifest
    old = Manifest((_with_metadata(new.entries[0], model_bytes=1), new.entries[2]))
    changes = diff_manifests(old, new)
    assert [e.model_path for e in changes.added] == [new.entries[1].model_path]
    assert changes.removed == ()
    assert [(c.new.model_path, [f.pointer for f in c.fields]) for c in changes.changed] == [
        (new.entries[0].model_path, ["/metadata/model_bytes"])
    ]
    assert diff_manifests(new, new).same
    out = tmp_path / "out.json"
    write_manifest(out, new.dumps())
    assert out.read_text() == new.dumps()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []
    assert stat.S_IMODE(out.stat().st_mode) == 0o644


# ---- the real zoo -----------------------------------------------------------


AGE_GENDER = "validated/vision/body_analysis/age_gender/models/"


def count_new_layout_folders(root: Path) -> int:
    """turnkey_stats.yaml folders not under a skip/ folder, counted from the files."""
    return sum(1 for p in root.rglob("turnkey_stats.yaml") if "skip" not in p.parts)


@pytest.mark.shared
def test_real_zoo_fresh_run_reproduces_every_official_field(real_zoo: Path) -> None:
    official = json.loads((real_zoo / "ONNX_HUB_MANIFEST.json").read_text())
    assert len(official) == 184
    result = generate_manifest(real_zoo)
    got = {e.model_path: e.to_json() for e in result.manifest}
    for want in official:
        entry = got[want["model_path"]]
        assert isinstance(entry["metadata"], dict)
        entry["metadata"].pop("io_ports", None)
        want["metadata"].pop("io_ports", None)
        want["metadata"].pop("extra_ports", None)
        assert entry == want
    extra = sorted(set(got) - {e["model_path"] for e in official})
    new_layout = [p for p in extra if not p.startswith("validated/")]
    assert len(new_layout) == count_new_layout_folders(real_zoo)
    assert [p for p in extra if p.startswith("validated/")] == [
        AGE_GENDER + name
        for name in (
            "age_googlenet.onnx",
            "gender_googlenet.onnx",
            "vgg_ilsvrc_16_age_chalearn_iccv2015.onnx",
            "vgg_ilsvrc_16_age_imdb_wiki.onnx",
            "vgg_ilsvrc_16_gender_imdb_wiki.onnx",
        )
    ]
    assert [(str(p.location), p.code) for p in result.report] == [
        ("validated/text/machine_comprehension/gpt2-bs/README.md:13", "unlinked-readme")
    ]
    assert result.stats.files_hashed == 0
    assert result.stats.from_pointers == 184 * 2 + 5 + len(new_layout)


@pytest.mark.shared
def test_real_zoo_with_previous_is_byte_identical(real_zoo: Path) -> None:
    # How long this takes is measured by the generate benchmark, not asserted here.
    official_text = (real_zoo / "ONNX_HUB_MANIFEST.json").read_text()
    official = Manifest.loads(official_text)
    result = generate_manifest(real_zoo, previous=official)
    paths = {e.model_path for e in official}
    restricted = Manifest(tuple(e for e in result.manifest if e.model_path in paths))
    assert restricted.dumps() == official_text
    legacy_new = [p for p in result.stats.new_entries if p.startswith("validated/")]
    assert legacy_new == [p for p in legacy_new if AGE_GENDER in p]
    assert len(legacy_new) == 5
    assert result.stats.io_ports_reused == 162


@pytest.mark.shared
def test_real_zoo_output_passes_the_validator(real_zoo: Path) -> None:
    official = Manifest.load(real_zoo / "ONNX_HUB_MANIFEST.json")
    text = generate_manifest(real_zoo, previous=official).manifest.dumps()
    result = check_document(parse_json(text, "generated.json"))
    assert result.manifest is not None
    assert [str(p) for p in result.report.errors] == []


# ---- content and --changed-since --------------------------------------------------


def content_files() -> dict[str, bytes | str]:
    base = "validated/vision/classification/my_net"
    return {
        "README.md": TOP,
        f"{base}/README.md": NET,
        f"{base}/model/net-7.onnx": model_bytes(7),
        f"{base}/model/net-7.tar.gz": data_bundle(b"bundle-7" * 100),
        f"{base}/model/net-12.onnx": model_bytes(12),
        f"{base}/model/net-12.tar.gz": data_bundle(b"bundle-12" * 100),
        f"{base}/preproc/pre-18.onnx": model_bytes(18),
        f"{base}/preproc/pre-18.tar.gz": pointer(b"bundle-18"),
    }


def test_content_gives_io_ports_in_one_pass_and_jobs_agree(tmp_path: Path) -> None:
    make_zoo(tmp_path, content_files())
    one = generate_manifest(tmp_path)
    two = generate_manifest(tmp_path, jobs=3)
    assert one.manifest.dumps() == two.manifest.dumps()
    assert list(one.report) == []
    port = {"name": "x", "shape": ["N", 4], "type": "tensor(float)"}
    out = {"name": "y", "shape": ["N", 4], "type": "tensor(float)"}
    for entry in one.manifest:
        assert entry.metadata.io_ports is not None
        assert entry.metadata.io_ports.to_json() == {"inputs": [port], "outputs": [out]}
    stats = one.stats
    assert (stats.files_hashed, stats.from_pointers, stats.io_ports_missing) == (5, 1, ())
    bundles = len(data_bundle(b"bundle-7" * 100)) + len(data_bundle(b"bundle-12" * 100))
    assert stats.bytes_hashed == sum(len(model_bytes(o)) for o in (7, 12, 18)) + bundles


def test_invalid_model_content_is_a_warning(tmp_path: Path) -> None:
    files = content_files()
    files["validated/vision/classification/my_net/model/net-12.onnx"] = b"\xff\xfe not onnx"
    make_zoo(tmp_path, files)
    result = generate_manifest(tmp_path)
    assert [(str(p.location), p.code) for p in result.report] == [
        ("validated/vision/classification/my_net/README.md:6", "invalid-model")
    ]
    assert [e.model for e in result.manifest] == ["Net", "Net-pre"]


def test_changed_since_equals_a_full_run(tmp_path: Path) -> None:
    base = tmp_path / "validated/vision/classification/my_net"
    repo = make_zoo(tmp_path, content_files())
    assert repo is not None
    previous = generate_manifest(tmp_path).manifest
    ref = repo.head.commit.hexsha
    readme = base / "README.md"
    text = readme.read_text()
    # modified model file (committed), edited README cell, renamed bundle, deleted
    # model + its row, an added model with a new bundle (uncommitted).
    (base / "model/net-12.onnx").write_bytes(model_bytes(12, name="z"))
    text = text.replace("|1.9|12", "|1.10|12")
    repo.git.mv(
        "validated/vision/classification/my_net/model/net-7.tar.gz",
        "validated/vision/classification/my_net/model/net-7-data.tar.gz",
    )
    text = text.replace("model/net-7.tar.gz", "model/net-7-data.tar.gz")
    repo.index.remove(
        ["validated/vision/classification/my_net/preproc/pre-18.onnx"], working_tree=True
    )
    text = "\n".join(line for line in text.splitlines() if "pre-18" not in line) + "\n"
    readme.write_text(text)
    repo.git.add("-A")
    repo.index.commit("changes")
    (base / "model/net-15.onnx").write_bytes(model_bytes(15))
    (base / "model/net-15.tar.gz").write_bytes(data_bundle(b"bundle-15"))
    new_row = "|Net-15|[1](model/net-15.onnx)|[1](model/net-15.tar.gz)|1.16|15|\n"
    readme.write_text(text.split("> Footnote")[0] + new_row)
    repo.git.add("-A")  # tracked, not committed
    full = generate_manifest(tmp_path)
    incremental = generate_manifest(tmp_path, previous=previous, changed_since=ref)
    assert list(full.report) == []
    assert list(incremental.report) == []
    assert incremental.manifest.dumps() == full.manifest.dumps()
    assert [e.model_path.rsplit("/", 1)[1] for e in full.manifest] == [
        "net-12.onnx",
        "net-15.onnx",
        "net-7.onnx",
    ]
    # Only what changed was read again: net-12, net-15 and its bundle, the renamed bundle.
    assert incremental.stats.files_hashed == 4
    assert incremental.stats.facts_reused == 2
    assert full.stats.files_hashed == 6
    changes = diff_manifests(previous, full.manifest)
    assert [e.model_path for e in changes.removed] == [
        "validated/vision/classification/my_net/preproc/pre-18.onnx"
    ]
    assert [e.model_path for e in changes.added] == [
        "validated/vision/classification/my_net/model/net-15.onnx"
    ]
