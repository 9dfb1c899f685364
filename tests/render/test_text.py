"""The helpers every renderer shares: sizes in one style, control characters
escaped."""

from __future__ import annotations

import pytest

from hubtools.render.text import escape_control, human_size, size_text


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (None, ""),
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (26454, "25.8 KiB"),
        (97_800_000, "93.3 MiB"),
        (5 << 30, "5.0 GiB"),
        (3 << 40, "3.0 TiB"),
        (2000 << 40, "2000.0 TiB"),
        (-1500, "-1.5 KiB"),
        (-7, "-7 B"),
    ],
)
def test_human_size_is_binary_units_with_one_decimal(size: int | None, text: str) -> None:
    assert human_size(size) == text


def test_size_text_gives_the_exact_bytes_beside_the_units() -> None:
    assert [size_text(n) for n in (None, 217, 1023, 27136)] == [
        "unknown",
        "217 bytes",
        "1023 bytes",
        "26.5 KiB (27136 bytes)",
    ]


def test_escape_control_writes_controls_and_bidi_as_escapes() -> None:
    assert escape_control("a\x1b[2Jb\u202ec\td") == "a\\x1b[2Jb\\u202ec\\x09d"
