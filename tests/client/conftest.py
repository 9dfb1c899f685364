"""Fixtures of the client tests: the bare transport repository and the waits
between attempts, recorded instead of slept."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hubtools.client import pacing
from tests.client_support import HubServer, serve_blob


@pytest.fixture
def server(tmp_path: Path) -> Iterator[HubServer]:
    """The repository ``o/r:main`` with :data:`~tests.client_support.BLOB`, served."""
    with serve_blob(tmp_path / "repo") as srv:
        yield srv


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits scheduled between attempts, recorded instead of slept."""
    seen: list[float] = []
    monkeypatch.setattr(pacing, "_sleep", seen.append)
    return seen
