"""The property of issue 14: whenever ``generate`` exits 0, ``validate
--repo`` exits 0 on what it wrote, over random repositories (see
:mod:`tests.generate.trees`; ``benchmarks/property_generate.py`` runs it longer)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from .trees import check_tree, trees


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(trees())
def test_what_generate_writes_validate_accepts(files: dict[str, bytes]) -> None:
    outcome = check_tree(files)
    if outcome.generate == 0:
        assert outcome.validate == 0, outcome.problems
