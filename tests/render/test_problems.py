"""Rendering problems and the validate verdict: text lines, JSON, GitHub
workflow commands (with their escaping) and the summary line."""

from __future__ import annotations

import json

import pytest

from hubtools.errors import Location, Problem, Report, Severity
from hubtools.render.problems import (
    counts_text,
    github_command,
    json_report,
    problem_json,
    problem_line,
    problem_lines,
    validate_summary,
    verdict_line,
)

DUPLICATE = Problem(
    "duplicate-model",
    "model 'mnist' is listed twice",
    Location("m.json", 12, 5, "/1/model"),
    hint="remove one",
)
UNSORTED = Problem("unsorted", "entries are not sorted", Location("m.json"), Severity.WARNING)
AT_ROOT = Problem("not-a-list", "expected a list", Location("m.json", 1, 1, ""))


def test_text_line() -> None:
    assert problem_line(DUPLICATE) == (
        "m.json:12:5: error duplicate-model /1/model: model 'mnist' is listed twice "
        "(fix: remove one)"
    )
    assert problem_line(UNSORTED) == "m.json: warning unsorted entries are not sorted"
    assert problem_line(AT_ROOT) == "m.json:1:1: error not-a-list /: expected a list"


def test_json_object() -> None:
    assert problem_json(DUPLICATE) == {
        "code": "duplicate-model",
        "severity": "error",
        "message": "model 'mnist' is listed twice",
        "hint": "remove one",
        "file": "m.json",
        "line": 12,
        "column": 5,
        "pointer": "/1/model",
    }
    assert problem_json(UNSORTED) == {
        "code": "unsorted",
        "severity": "warning",
        "message": "entries are not sorted",
        "hint": None,
        "file": "m.json",
        "line": None,
        "column": None,
        "pointer": None,
    }


def test_json_report() -> None:
    text = json_report([UNSORTED], {"entries": 2, "valid": True})
    assert text == (
        "{\n"
        '  "problems": [\n'
        "    {\n"
        '      "code": "unsorted",\n'
        '      "severity": "warning",\n'
        '      "message": "entries are not sorted",\n'
        '      "hint": null,\n'
        '      "file": "m.json",\n'
        '      "line": null,\n'
        '      "column": null,\n'
        '      "pointer": null\n'
        "    }\n"
        "  ],\n"
        '  "summary": {\n'
        '    "entries": 2,\n'
        '    "valid": true\n'
        "  }\n"
        "}"
    )
    assert json.loads(json_report([], {}))["problems"] == []


def test_github_command() -> None:
    assert github_command(DUPLICATE) == (
        "::error file=m.json,line=12,col=5,title=duplicate-model::"
        "/1/model: model 'mnist' is listed twice%0Aremove one"
    )
    assert (
        github_command(UNSORTED) == "::warning file=m.json,title=unsorted::entries are not sorted"
    )
    assert github_command(AT_ROOT) == (
        "::error file=m.json,line=1,col=1,title=not-a-list::/: expected a list"
    )


def test_github_command_escapes_data_and_properties() -> None:
    problem = Problem(
        "a,b:c",
        "100% sure,\r\nreally: yes",
        Location("dir:1/x,y%.json", 3),
        hint="see a:b",
    )
    assert github_command(problem) == (
        "::error file=dir%3A1/x%2Cy%25.json,line=3,title=a%2Cb%3Ac::"
        "100%25 sure,%0D%0Areally: yes%0Asee a:b"
    )


def test_problem_lines() -> None:
    assert problem_lines(UNSORTED) == ["m.json: warning unsorted entries are not sorted"]
    assert problem_lines(UNSORTED, github=True) == [
        "::warning file=m.json,title=unsorted::entries are not sorted",
        "m.json: warning unsorted entries are not sorted",
    ]


def test_counts_text() -> None:
    assert counts_text([("files", 3), ("from LFS pointers", 2)]) == "3 files, 2 from LFS pointers"
    assert counts_text([]) == ""


CHECKED = {"manifests": 2, "entries": 3, "files": 1}


@pytest.mark.parametrize(
    ("problems", "checked", "failed", "unreadable", "line"),
    [
        ([], {}, False, False, "valid: 0 errors, 0 warnings"),
        ([], {"manifests": 1}, False, False, "valid: 0 errors, 0 warnings"),
        (
            [DUPLICATE, UNSORTED],
            CHECKED,
            True,
            False,
            "invalid: 1 error, 1 warning; checked 3 entries, 1 files",
        ),
        (
            [UNSORTED, UNSORTED],
            {"entries": 1},
            False,
            False,
            "valid: 0 errors, 2 warnings; checked 1 entries",
        ),
        ([UNSORTED], {}, True, False, "invalid: 0 errors, 1 warning"),
        ([DUPLICATE, AT_ROOT], {}, True, False, "invalid: 2 errors, 0 warnings"),
        (
            [DUPLICATE],
            CHECKED,
            True,
            True,
            "not validated: a manifest could not be read; checked 3 entries, 1 files",
        ),
    ],
)
def test_verdict_line(
    problems: list[Problem], checked: dict[str, int], failed: bool, unreadable: bool, line: str
) -> None:
    report = Report(problems)
    assert verdict_line(report, checked, failed=failed, unreadable=unreadable) == line


def test_validate_summary() -> None:
    report = Report([DUPLICATE, UNSORTED, UNSORTED])
    assert validate_summary(CHECKED, report, valid=False) == {
        "manifests": 2,
        "entries": 3,
        "files": 1,
        "errors": 1,
        "warnings": 2,
        "ignored": 0,
        "valid": False,
    }
    assert validate_summary({}, Report(ignored=3), valid=True) == {
        "errors": 0,
        "warnings": 0,
        "ignored": 3,
        "valid": True,
    }


def test_counters_are_snake_case_in_json_and_words_in_text() -> None:
    assert counts_text([("from_lfs_pointers", 5), ("bytes_hashed", 3196)]) == (
        "5 from LFS pointers, 3.1 KiB hashed"
    )
    assert counts_text([("files", 7), ("hashed", 6), ("bytes_hashed", 1790)]) == (
        "7 files, 6 hashed (1.7 KiB)"
    )
