"""fixtures/zoo is what fixtures/build_zoo.py writes, byte for byte."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_build_zoo_reproduces_the_committed_fixture_zoo(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("build_zoo", FIXTURES / "build_zoo.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_zoo"] = module  # its dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules["build_zoo"]
    written = module.build(tmp_path)
    built = {p.relative_to(tmp_path).as_posix(): p.read_bytes() for p in written}
    committed = {
        p.relative_to(FIXTURES / "zoo").as_posix(): p.read_bytes()
        for p in (FIXTURES / "zoo").rglob("*")
        if p.is_file() and p.name != "ONNX_HUB_MANIFEST.json"
    }
    assert sorted(built) == sorted(committed)
    assert [name for name in built if built[name] != committed[name]] == []
