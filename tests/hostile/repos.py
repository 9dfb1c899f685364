"""Hostile model repositories, built at test time in a folder the caller gives:
symlinks that lead out of the repository (to a secret file, to ``/dev/zero``,
through a chain of links, as a whole model folder), a symlink that stays
inside (allowed), FIFOs where files should be, ``turnkey_stats.yaml`` files
that amplify through aliases, nest 60,000 levels deep or carry 5000-digit
numbers, README rows with absurd opsets, and READMEs that are
huge or hold tables too wide, too long or with too many cells. Each builder
changes one thing in a :func:`base_repo`, a small clean zoo in both layouts;
nothing here is a committed binary, and nothing is written outside the
folders given.
"""

from __future__ import annotations

import hashlib
import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import git
from onnx import TensorProto, helper

from tests.client_support import data_bundle, make_tar

__all__ = [
    "DEV_ZERO_CASES",
    "FIFO_CASES",
    "MODEL_README",
    "README_CASES",
    "SECRET_LINK_CASES",
    "STATS",
    "TINYBERT",
    "TURNKEY_MODEL",
    "VALUE_CASES",
    "Secret",
    "base_repo",
    "commit",
    "inside_link",
    "make_secret",
]

LEGACY = "validated/vision/classification/net"
TINYNET = "Computer_Vision/tinynet_Opset17_timm"
TINYBERT = "Natural_Language_Processing/tinybert_Opset17_transformers"
BUNDLE = data_bundle(b"test data bundle of net-12")

#: Paths of the base repository that the builders replace, by role.
TOP_README = "README.md"
MODEL_README = f"{LEGACY}/README.md"
LEGACY_MODEL = f"{LEGACY}/model/net-12.onnx"
LEGACY_BUNDLE = f"{LEGACY}/model/net-12.tar.gz"
STATS = f"{TINYNET}/turnkey_stats.yaml"
TURNKEY_MODEL = f"{TINYNET}/tinynet_Opset17.onnx"
TURNKEY_ARCHIVE = f"{TINYBERT}/tinybert_Opset17.tar.gz"

TOP = """\
# Zoo

|Model Class |Reference |Description |
|-|-|-|
|<b>[Net](validated/vision/classification/net)</b>|[p](https://example.org)|d|
"""

TABLE_HEAD = (
    "|Model|Download|Download (with sample test data)|ONNX version|Opset version|\n|-|-|-|-|-|\n"
)
ROW = "|Net|[1 kB](model/net-12.onnx)|[1 kB](model/net-12.tar.gz)|1.7|{opset}|\n"
#: The model README: its table's header is on line 3, its one row on line 5.
NET = "# Net\n\n" + TABLE_HEAD + ROW.format(opset=12)


def stats_yaml(name: str, author: str, opset: str = "17", dims: str = "  x: [1, 3, 4, 4]\n") -> str:
    """A turnkey_stats.yaml as TurnkeyML writes it; ``opset`` and ``dims`` as raw YAML."""
    return (
        f"author: {author}\n"
        "builtin_model_script: https://example.org/turnkey/models/tiny.py\n"
        "class: Tiny\n"
        f"model_name: {name}\n"
        f"onnx_input_dimensions:\n{dims}"
        "onnx_model_information:\n"
        "  ir_version: 8\n"
        f"  opset: {opset}\n"
        "parameters: 3\n"
        "task: Computer_Vision\n"
    )


def model_bytes(opset: int) -> bytes:
    """A real one-node ONNX model importing ``opset``."""
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        f"g{opset}",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return bytes(model.SerializeToString())


def _write(root: Path, rel: str, data: bytes | str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)  # never write through a link a builder made
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def base_repo(root: Path) -> None:
    """A clean zoo with three entries: one README-table model with its bundle,
    one turnkey folder with an ``.onnx`` and one with a ``.tar.gz`` archive."""
    _write(root, TOP_README, TOP)
    _write(root, MODEL_README, NET)
    _write(root, LEGACY_MODEL, model_bytes(12))
    _write(root, LEGACY_BUNDLE, BUNDLE)
    _write(root, STATS, stats_yaml("tinynet", "timm"))
    _write(root, TURNKEY_MODEL, model_bytes(17))
    _write(root, f"{TINYBERT}/turnkey_stats.yaml", stats_yaml("tinybert", "transformers"))
    _write(root, TURNKEY_ARCHIVE, make_tar({"tinybert/tinybert_Opset17.onnx": model_bytes(17)}))


def commit(root: Path) -> git.Repo:
    """Make ``root`` a git repository with everything in it committed (symlinks as links)."""
    repo = git.Repo.init(root)
    with repo.config_writer() as config:
        config.set_value("user", "name", "hostile")
        config.set_value("user", "email", "hostile@example.org")
    repo.git.add("-A")
    repo.index.commit("hostile")
    return repo


# ---- symlinks out of the repository ---------------------------------------------


@dataclass(frozen=True)
class Secret:
    """A file outside the repository that nothing may read: random bytes under a
    distinctive name, with a six-digit size so the size itself is evidence."""

    path: Path
    content: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @property
    def size(self) -> int:
        return len(self.content)


def make_secret(folder: Path) -> Secret:
    """Write a secret file in ``folder`` (which must be outside any repository)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(os.urandom(16))
    name = f"hubtools-SECRET-{rng.getrandbits(64):016x}.key"
    content = os.urandom(rng.randint(200_000, 299_999))
    path = folder / name
    path.write_bytes(content)
    return Secret(path, content)


def _link(root: Path, rel: str, target: str | Path) -> None:
    """Replace ``root/rel`` (if any) with a symlink whose text is ``target``."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() or path.is_symlink():
        path.unlink()
    os.symlink(target, path)


def _relative_to(root: Path, rel: str, target: Path) -> str:
    """The relative link text from ``root/rel``'s folder to ``target``."""
    return os.path.relpath(target, (root / rel).parent)


Builder = Callable[[Path, Path], None]


def _absolute(rel: str) -> Builder:
    def build(root: Path, target: Path) -> None:
        _link(root, rel, target)

    return build


def _relative(rel: str) -> Builder:
    def build(root: Path, target: Path) -> None:
        _link(root, rel, _relative_to(root, rel, target))

    return build


def _chain(root: Path, target: Path) -> None:
    """The turnkey model links to a link inside the repository that links out."""
    _link(root, "links/hop", target)
    _link(root, "links/hop2", "hop")
    _link(root, TURNKEY_MODEL, _relative_to(root, TURNKEY_MODEL, root / "links/hop2"))


def _folder(root: Path, target: Path) -> None:
    """A whole model folder is a symlink to a folder outside holding a stats file
    and a model (git commits the folder as one link; a walk does not enter it)."""
    outside = target.parent / "evil_Opset17_x"
    outside.mkdir(exist_ok=True)
    (outside / "turnkey_stats.yaml").write_text(stats_yaml("evil", "x"))
    _link(outside, "evil_Opset17.onnx", target)
    _link(root, "Computer_Vision/evil_Opset17_x", outside)


#: Every way a repository file can be a link to a file outside: name -> what
#: turns a :func:`base_repo` at ``root`` into the case, given the link's target.
SECRET_LINK_CASES: dict[str, Builder] = {
    "top-readme": _absolute(TOP_README),
    "model-readme": _relative(MODEL_README),
    "stats-yaml": _absolute(STATS),
    "readme-model": _relative(LEGACY_MODEL),
    "readme-bundle": _absolute(LEGACY_BUNDLE),
    "turnkey-model": _relative(TURNKEY_MODEL),
    "turnkey-archive": _absolute(TURNKEY_ARCHIVE),
    "chain": _chain,
    "folder": _folder,
}

#: The links to ``/dev/zero`` (an endless device outside the repository).
DEV_ZERO_CASES: dict[str, Builder] = {
    name: SECRET_LINK_CASES[name]
    for name in ("model-readme", "stats-yaml", "readme-model", "turnkey-model", "turnkey-archive")
}


def inside_link(root: Path) -> bytes:
    """The turnkey model is a symlink (through another) to a model stored elsewhere
    in the repository: allowed (on a :func:`base_repo`). Returns the content the
    entry must describe."""
    content = model_bytes(17)
    _write(root, "store/tinynet.onnx", content)
    _link(root, "store/current.onnx", "tinynet.onnx")
    _link(root, TURNKEY_MODEL, _relative_to(root, TURNKEY_MODEL, root / "store/current.onnx"))
    return content


# ---- FIFOs -----------------------------------------------------------------------


def _fifo(rel: str, *, via_link: bool = False) -> Callable[[Path], None]:
    """``rel`` is a FIFO (opening it for reading blocks until a writer comes);
    ``via_link``: ``rel`` is a symlink to a FIFO inside the repository. Git does
    not commit FIFOs: on a committed repository, the tracked file is replaced."""

    def build(root: Path) -> None:
        (root / rel).unlink()
        if via_link:
            os.mkfifo(root / "pipe")
            _link(root, rel, _relative_to(root, rel, root / "pipe"))
        else:
            os.mkfifo(root / rel)

    return build


FIFO_CASES: dict[str, Callable[[Path], None]] = {
    "model-readme": _fifo(MODEL_README),
    "stats-yaml": _fifo(STATS),
    "readme-model": _fifo(LEGACY_MODEL),
    "turnkey-model": _fifo(TURNKEY_MODEL),
    "turnkey-archive": _fifo(TURNKEY_ARCHIVE, via_link=True),
}


# ---- sidecar numbers and aliases -------------------------------------------------


def alias_stats(lists: int = 40, width: int = 300) -> str:
    """A turnkey_stats.yaml whose ``onnx_input_dimensions`` repeat one long list by
    alias: a few KB of YAML that expand to ``lists * width`` ints (the anchor
    is on line 6, the first alias on line 7)."""
    items = ", ".join("1" for _ in range(width))
    dims = f"  x0: &d [{items}]\n" + "".join(f"  x{i}: *d\n" for i in range(1, lists))
    return stats_yaml("tinynet", "timm", dims=dims)


def _holding(rel: str, text: str) -> Callable[[Path], None]:
    """The builder that makes ``rel`` hold ``text``."""

    def build(root: Path) -> None:
        _write(root, rel, text)

    return build


def _stats_text(text: str) -> Callable[[Path], None]:
    return _holding(STATS, text)


def _readme_opset(opset: str) -> Callable[[Path], None]:
    return _holding(MODEL_README, "# Net\n\n" + TABLE_HEAD + ROW.format(opset=opset))


def _deep(levels: int) -> str:
    """``onnx_input_dimensions`` nested ``levels`` lists deep on line 6 (the C
    loader recurses once per level and crashes the process near 50,000)."""
    return stats_yaml("tinynet", "timm", dims=f"  x: {'[' * levels}{']' * levels}\n")


#: Values a sidecar or a README row must not be able to crash or bloat generate with.
VALUE_CASES: dict[str, Callable[[Path], None]] = {
    "yaml-alias": _stats_text(alias_stats()),
    "yaml-alias-bomb": _stats_text(alias_stats(lists=3000, width=3000)),
    "yaml-deep-nesting": _stats_text(_deep(60_000)),
    "yaml-opset-5000-digits": _stats_text(stats_yaml("tinynet", "timm", opset="9" * 5000)),
    "yaml-parameters-huge": _stats_text(
        stats_yaml("tinynet", "timm").replace("parameters: 3", "parameters: " + "7" * 40)
    ),
    "readme-opset-5000-digits": _readme_opset("9" * 5000),
    "readme-opset-huge": _readme_opset("123456"),
}


# ---- READMEs too large for the table parser --------------------------------------


def _readme(text: str) -> Callable[[Path], None]:
    return _holding(MODEL_README, text)


def _sparse_readme(size: int) -> Callable[[Path], None]:
    """A README of ``size`` bytes that takes no disk space (a sparse file)."""

    def build(root: Path) -> None:
        with open(root / MODEL_README, "r+b") as handle:
            handle.truncate(size)

    return build


def _wide(columns: int) -> str:
    head = "|" + "|".join(f"c{i}" for i in range(columns)) + "|\n"
    rule = "|" + "|".join("-" for _ in range(columns)) + "|\n"
    return NET + "\n" + head + rule + "|x|\n" * 20


def _cells_bomb(tables: int) -> str:
    """Tables of 60 columns whose short rows the parser pads to full width: each
    ``x`` line becomes 60 cells (120 tables: 270 KB of README, 7 million cells)."""
    head = "|" + "|".join("h" for _ in range(60)) + "|\n" + "|" + "-|" * 60 + "\n"
    return NET + "".join("\n" + head + "x\n" * 1000 for _ in range(tables))


#: READMEs whose tables would make the parser allocate without bound.
README_CASES: dict[str, Callable[[Path], None]] = {
    # 4 MiB of real rows, above the size limit.
    "huge": _readme(NET + ROW.format(opset=12) * 70_000),
    # 1 GiB, sparse: must be refused from its size, never read.
    "sparse-1gib": _sparse_readme(1 << 30),
    # 20,000 columns in about 100 KB.
    "wide": _readme(_wide(20_000)),
    # One table of 6,000 rows.
    "long": _readme(NET + ROW.format(opset=12) * 6_000),
    "cells-bomb": _readme(_cells_bomb(120)),
}
