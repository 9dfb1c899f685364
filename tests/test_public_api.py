from __future__ import annotations

import subprocess
import sys

import pytest

import hubtools


@pytest.mark.parametrize("name", hubtools.__all__)
def test_every_public_name_resolves(name: str) -> None:
    assert getattr(hubtools, name) is not None


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        hubtools.nope  # type: ignore[attr-defined]  # noqa: B018


def test_import_is_light() -> None:
    code = (
        "import sys, hubtools; from hubtools import hub; "
        "print(sorted(m for m in ('onnx', 'requests', 'git', 'jsonschema') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_distribution_is_onnx_hubtools_and_the_readme_installs_it() -> None:
    """On the public index ``hubtools`` is someone else's 2011 package."""
    import re
    from importlib.metadata import version

    from tests.conftest import REPO_ROOT

    assert version("onnx-hubtools") == hubtools.__version__
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    installs = re.findall(r"pip install ([^\s&`#]+)", readme)
    assert installs
    for target in installs:
        name = target.strip("'\"").split("[")[0]
        assert name in (".", "-e", "onnx-hubtools"), target
