"""The one relative-path policy: what it refuses, strictly (paths that become
cache file names) and after normalising (archive members), and the lengths a
file system can hold."""

from __future__ import annotations

import random

import pytest

from hubtools.core.paths import (
    MAX_PART_BYTES,
    MAX_PATH_BYTES,
    _judged,
    check_relative_path,
    quote_path,
    unsafe_reason,
)
from hubtools.errors import UnsafePathError


@pytest.mark.parametrize(
    ("path", "strict", "loose"),
    [
        ("a/b.onnx", None, None),
        ("a/./b", "has an empty, '.' or '..' part", None),
        ("a/../../b", "has an empty, '.' or '..' part", "leaves its folder"),
        (".hubtools/x.onnx", "starts with a dot folder", None),
        (".git/x", "starts with a dot folder", None),
        ("a/.hidden/x", None, None),
        ("", "is empty", "is empty"),
        ("a\x00b", "contains a NUL byte", "contains a NUL byte"),
        ("a\\b", "contains a backslash", "contains a backslash"),
        ("/a", "is absolute", "is absolute"),
        ("C:/a", "has a URL scheme or drive letter", "has a URL scheme or drive letter"),
        ("a/\ud800.onnx", "contains a lone surrogate", "contains a lone surrogate"),
    ],
)
def test_reasons(path: str, strict: str | None, loose: str | None) -> None:
    for found, wanted in (
        (unsafe_reason(path), strict),
        (unsafe_reason(path, strict=False), loose),
    ):
        assert (found is None) == (wanted is None), (path, found)
        assert wanted is None or (found is not None and found.startswith(wanted))


@pytest.mark.parametrize("strict", [True, False])
def test_lengths_are_bounded_in_utf8_bytes(strict: bool) -> None:
    part = "é" * (MAX_PART_BYTES // 2)  # 254 bytes
    assert unsafe_reason(f"a/{part}", strict=strict) is None
    reason = unsafe_reason(f"a/{part}é", strict=strict)
    assert reason is not None
    assert reason.startswith("has a part of 256 bytes")
    assert unsafe_reason("a" * 300, strict=strict) is not None
    under = "/".join(["d"] * (MAX_PATH_BYTES // 2))  # 4095 bytes
    assert unsafe_reason(under, strict=strict) is None
    assert unsafe_reason(under + "dd", strict=strict) == (
        f"is 4097 bytes long, more than the {MAX_PATH_BYTES} a path may have"
    )


def test_check_relative_path_says_why_on_one_short_line() -> None:
    with pytest.raises(UnsafePathError, match="could escape the cache"):
        check_relative_path("../x")
    with pytest.raises(UnsafePathError) as info:
        check_relative_path("m/" + "n" * 300, "model_with_data_path")
    message = str(info.value)
    assert message.startswith("model_with_data_path 'm/nnnn")
    assert "(302 characters) has a part of 300 bytes" in message
    assert message.endswith("no file system can hold it, so the entry is refused")
    assert len(message) < 300
    assert str(check_relative_path("a/b.onnx")) == "a/b.onnx"


def test_quote_path_cuts_long_paths() -> None:
    assert quote_path("a/b") == "'a/b'"
    assert quote_path("x" * 100) == f"{'x' * 60!r}... (100 characters)"


def test_the_fast_path_for_plain_paths_agrees_with_every_rule() -> None:
    """unsafe_reason accepts most paths with one regular expression: for any path,
    it must say what the rules one by one say."""
    rng = random.Random(20261130)
    alphabet = ["a", "Z", "0", "_", "-", "+", ".", "..", "/", "\\", ":", " ", "é", "\x00", "\n"]
    tricky = ["a", ".a", "a/.", "a/..", "a/./b", "a//b", "a/", "/a", "c:/a", "a:b", "-a/+b",
              "a/.b", "a/..b", "a/b.", "a" * 255, "a" * 256, "a/" + "b" * 254, "a\n"]  # fmt: skip
    paths = tricky + [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))) for _ in range(20_000)
    ]
    accepted = 0
    for path in paths:
        for strict in (True, False):
            assert unsafe_reason(path, strict=strict) == _judged(path, strict), (path, strict)
        accepted += unsafe_reason(path) is None
    assert accepted > 1_000
