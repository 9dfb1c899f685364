"""A sample of the onnx wheel's operator test cases, written out as a hub at test
time: tensors, sequences, optionals, strings, the small float types, and the
verdicts the whole run gives them (``benchmarks/check_operator_cases.py`` runs
all ~1,900 and checks every fail and error against onnxruntime's own backend)."""

from __future__ import annotations

from pathlib import Path

from hubtools.check.suite import check_models
from tests.check.opcases import collect, write_hub

EXPECTED = {
    "test_abs": "pass",
    "test_add_bcast": "pass",
    "test_sequence_insert_at_back": "pass",
    "test_split_to_sequence_1": "pass",
    "test_if_seq": "pass",
    "test_loop11": "pass",
    "test_identity_opt": "pass",
    "test_string_concat": "pass",
    "test_equal_string": "pass",
    "test_regex_full_match_basic": "pass",
    "test_isnan": "pass",
    "test_cast_FLOAT_to_FLOAT8E4M3FN": "pass",
    "test_cast_FLOAT8E4M3FN_to_FLOAT": "pass",
    "test_cast_FLOAT_to_BFLOAT16": "pass",
    "test_cast_FLOAT_to_INT4": "pass",
    "test_unique_sorted_with_axis": "pass",
    # onnxruntime has no kernel for OptionalGetElement on a sequence
    "test_optional_get_element_sequence": "error",
    # onnxruntime's Python binding cannot take int4 inputs from numpy
    "test_cast_INT4_to_FLOAT": "error",
    # random: onnxruntime's dropout mask differs from the reference's
    "test_training_dropout": "fail",
}


def test_operator_cases_sample(tmp_path: Path) -> None:
    write_hub(tmp_path, collect(set(EXPECTED)))
    result = check_models(tmp_path, jobs=2)
    found = {v.model: v.status for v in result.verdicts}
    assert found == EXPECTED
