"""Rendering what the client and the cache give: tables, one model's entry,
a download's source, the cache listing, removal, verification and pruning,
and the trusted list."""

from __future__ import annotations

import json
from pathlib import Path

from hubtools.client.housekeeping import CachedFile, Owner, Removed, VerifyResult
from hubtools.client.snapshot import Snapshot, SnapshotFile
from hubtools.core.manifest import JSONObject
from hubtools.hub import Download, ModelInfo
from hubtools.render.client import (
    cache_json,
    cache_table,
    cache_total,
    download_source,
    info_json,
    info_lines,
    models_count,
    models_json,
    models_table,
    prune_lines,
    prune_summary,
    removed_json,
    removed_lines,
    removed_summary,
    snapshot_json,
    snapshot_lines,
    table,
    trust_changed_json,
    trust_json,
    trust_table,
    verify_lines,
    verify_summary,
)

SHA = "a" * 64
MNIST: JSONObject = {
    "model": "MNIST",
    "model_path": "vision/mnist/mnist-12.onnx",
    "onnx_version": "1.9",
    "opset_version": 12,
    "metadata": {
        "model_sha": SHA,
        "model_bytes": 26143,
        "tags": ["vision", "classification"],
        "io_ports": {
            "inputs": [{"name": "Input3", "shape": [1, 1, 28, 28], "type": "tensor(float)"}],
            "outputs": [
                {"name": "Plus214_Output_0", "shape": [1, "N"], "type": "tensor(float)"},
                "not a port",
            ],
        },
        "model_with_data_path": "vision/mnist/mnist-12.tar.gz",
    },
}
BARE: JSONObject = {"model": "bare", "model_path": "b.onnx", "opset_version": 7}


def test_table_pads_columns_and_strips_line_ends() -> None:
    assert table([["a", "long value", ""], ["bbb", "x", "z"]], ["H1", "H2", "H3"]) == (
        "H1   H2          H3\na    long value\nbbb  x           z"
    )
    assert table([], ["ONE", "TWO"]) == "ONE  TWO"


def test_models() -> None:
    infos = [ModelInfo(MNIST), ModelInfo(BARE)]
    assert models_table(infos) == (
        "MODEL  OPSET  TAGS                    PATH\n"
        "MNIST  12     classification, vision  vision/mnist/mnist-12.onnx\n"
        "bare   7                              b.onnx"
    )
    assert models_count(infos) == "2 model(s)"
    assert models_json(infos) == json.dumps([MNIST, BARE], indent=2)


def test_info_lines() -> None:
    assert info_lines(ModelInfo(MNIST)) == [
        "model: MNIST",
        "opset: 12",
        "path: vision/mnist/mnist-12.onnx",
        f"sha256: {SHA}",
        "size: 25.5 KiB (26143 bytes)",
        "tags: classification, vision",
        "input: Input3 tensor(float) [1, 1, 28, 28]",
        "output: Plus214_Output_0 tensor(float) [1, 'N']",
        "test data: vision/mnist/mnist-12.tar.gz",
    ]
    assert info_lines(ModelInfo(BARE)) == [
        "model: bare",
        "opset: 7",
        "path: b.onnx",
        "sha256: None",
        "size: unknown",
        "tags: ",
    ]
    assert info_json(ModelInfo(BARE)) == (
        '{\n  "model": "bare",\n  "model_path": "b.onnx",\n  "opset_version": 7\n}'
    )


def test_download_source() -> None:
    url = "https://example.org/m.onnx"
    fetched = Download("m", "v/m.onnx", Path("/c/m.onnx"), url, from_cache=False)
    assert download_source(fetched) == f"hubtools: v/m.onnx from {url}"
    cached = Download("m", "v/m.onnx", Path("/c/m.onnx"), "/c/m.onnx", from_cache=True)
    assert download_source(cached) == "hubtools: v/m.onnx from cache"


ROOT = Path("/cache")
ITEMS = [
    CachedFile(ROOT / "v" / f"{SHA}_m.onnx", 1234, "model", SHA),
    CachedFile(ROOT / "v" / "m.onnx.part", 5, "partial"),
]


OWNERS = [Owner("acme/zoo:main", "m", 12), Owner("acme/zoo:dev", "m", 12)]
DESCRIBED = [(ITEMS[0], OWNERS), (ITEMS[1], [])]


def test_cache_listing() -> None:
    assert cache_table(DESCRIBED, ROOT) == (
        "REPO                         MODEL  OPSET  SIZE     KIND     PATH\n"
        f"acme/zoo:main, acme/zoo:dev  m      12     1.2 KiB  model    v/{SHA}_m.onnx\n"
        "-                            -      -      5 B      partial  v/m.onnx.part"
    )
    assert cache_total(ITEMS, ROOT) == "total: 2 file(s), 1.2 KiB (1239 bytes) in /cache"
    assert cache_total([], ROOT) == "total: 0 file(s), 0 bytes in /cache"
    assert json.loads(cache_json(DESCRIBED, ROOT)) == {
        "cache_dir": "/cache",
        "files": [
            {
                "path": f"v/{SHA}_m.onnx",
                "size": 1234,
                "kind": "model",
                "repos": ["acme/zoo:main", "acme/zoo:dev"],
                "models": [
                    {"repo": "acme/zoo:main", "model": "m", "opset": 12},
                    {"repo": "acme/zoo:dev", "model": "m", "opset": 12},
                ],
            },
            {"path": "v/m.onnx.part", "size": 5, "kind": "partial", "repos": [], "models": []},
        ],
        "total": 1239,
    }
    assert cache_json([], ROOT) == '{\n  "cache_dir": "/cache",\n  "files": [],\n  "total": 0\n}'


def test_cache_removal() -> None:
    done = Removed([ITEMS[0]], [ITEMS[1]], [(ITEMS[0], ["acme/zoo:dev"])], matched=1)
    assert removed_lines(done, ROOT, dry_run=True) == [
        f"would remove model v/{SHA}_m.onnx (1.2 KiB)",
        "kept partial v/m.onnx.part (5 B): in use by a running download or extraction",
        f"kept model v/{SHA}_m.onnx (1.2 KiB): also in acme/zoo:dev",
    ]
    assert removed_summary(done, "m", 12, "acme/zoo:main", dry_run=False) == (
        "removed 1 item(s), 1.2 KiB, of m (opset 12) in acme/zoo:main; 1 in use, kept; "
        "1 used by another repository, kept"
    )
    assert removed_summary(Removed(), None, None, "x/y", dry_run=False) == (
        "hubtools: no kept manifest lists x/y; `hubtools cache ls` shows what the cache holds"
    )
    assert json.loads(removed_json(done, ROOT, dry_run=False))["shared"] == [
        {"path": f"v/{SHA}_m.onnx", "size": 1234, "kind": "model", "repos": ["acme/zoo:dev"]}
    ]


def test_trust_listing() -> None:
    entries = [("onnx/models", "built in (any ref)"), ("acme/zoo", "/c/trusted_repos.txt")]
    assert trust_table(entries).splitlines() == [
        "ENTRY        FROM",
        "onnx/models  built in (any ref)",
        "acme/zoo     /c/trusted_repos.txt",
        "(and any folder named as the repository: your own files)",
    ]
    assert json.loads(trust_json(entries))[1] == {
        "entry": "acme/zoo",
        "from": "/c/trusted_repos.txt",
    }


def test_cache_verification() -> None:
    bad = "b" * 64
    results = [
        VerifyResult(ROOT / f"{SHA}_ok.onnx", SHA, SHA, ok=True),
        VerifyResult(ROOT / "v" / f"{SHA}_bad.onnx", SHA, bad, ok=False),
    ]
    assert verify_lines(results, ROOT) == [
        f"v/{SHA}_bad.onnx: got sha256 {bad}, name says {SHA}; removed"
    ]
    assert verify_summary(results) == "2 file(s) checked, 1 corrupt"
    assert (verify_lines([], ROOT), verify_summary([])) == ([], "0 file(s) checked, 0 corrupt")


def test_cache_pruning() -> None:
    assert prune_lines(ITEMS, ROOT, dry_run=False) == [
        f"removed model v/{SHA}_m.onnx (1.2 KiB)",
        "removed partial v/m.onnx.part (5 B)",
    ]
    assert prune_lines(ITEMS[1:], ROOT, dry_run=True) == [
        "would remove partial v/m.onnx.part (5 B)"
    ]
    assert prune_summary(ITEMS, dry_run=False) == "removed 2 item(s), 1.2 KiB"
    assert prune_summary([], dry_run=True) == "would remove 0 item(s), 0 B"


def test_snapshot_json_lists_every_file_and_what_was_fetched() -> None:
    done = Snapshot(
        Path("/snap"),
        Path("/snap/ONNX_HUB_MANIFEST.json"),
        2,
        (SnapshotFile("MNIST", 12, "m/mnist-12.onnx", True), SnapshotFile("a", 7, "a.onnx", False)),
    )
    assert json.loads(snapshot_json(done)) == {
        "dest": "/snap",
        "manifest": "/snap/ONNX_HUB_MANIFEST.json",
        "entries": 2,
        "fetched": 1,
        "kept": 1,
        "files": [
            {"model": "MNIST", "opset": 12, "path": "m/mnist-12.onnx", "fetched": True},
            {"model": "a", "opset": 7, "path": "a.onnx", "fetched": False},
        ],
    }
    assert snapshot_lines(done) == [
        "fetched MNIST (opset 12) m/mnist-12.onnx",
        "kept a (opset 7) a.onnx",
    ]


def test_trust_changes_as_json() -> None:
    where = Path("/c/trusted_repos.txt")
    assert json.loads(trust_changed_json("o/n", where, added=True)) == {
        "entry": "o/n",
        "trusted_file": "/c/trusted_repos.txt",
        "added": True,
    }
    assert json.loads(trust_changed_json("o/n", where, removed=False)) == {
        "entry": "o/n",
        "trusted_file": "/c/trusted_repos.txt",
        "removed": False,
    }
