"""hubtools.toml, the one reader: lines of keys and tables, and errors that name them."""

from __future__ import annotations

from pathlib import Path

import pytest

from hubtools.core.hubconfig import load_config, read_table
from hubtools.errors import UsageError

TEXT = """\
# A hub's settings.
[generate]
ignore = ["unlinked-readme"]   # a comment
"exclude" = []

[[models]]
path = "a/**"

[[models]]   # the second rule
path = "b/**"
  model = "{stem}"
metadata.license = "MIT"

["check-models"]
rtol = 1e-3
"""


@pytest.fixture
def config_root(tmp_path: Path) -> Path:
    (tmp_path / "hubtools.toml").write_text(TEXT)
    return tmp_path


@pytest.mark.parametrize(
    ("where", "line"),
    [
        (("generate", None, None), 2),
        (("generate", "ignore", None), 3),
        (("generate", "exclude", None), 4),  # a quoted key
        (("generate", "missing", None), 2),  # not written: the table's header
        (("models", "path", 0), 7),
        (("models", "path", 1), 10),
        (("models", "model", 1), 11),  # indented
        (("models", None, 1), 9),
        (("models", "metadata", 1), 12),  # a dotted key
        (("models", "path", 2), None),  # no third rule
        (("check-models", "rtol", None), 15),  # a quoted table name
        ((None, "generate", None), 2),  # a top-level table: its header
        ((None, "nothing", None), None),
    ],
)
def test_the_line_of_a_key(
    config_root: Path, where: tuple[str | None, str | None, int | None], line: int | None
) -> None:
    assert load_config(config_root).line(*where) == line


def test_errors_name_the_file_and_line(config_root: Path) -> None:
    config = load_config(config_root)
    assert config.at("models", "model", 1) == f"{config_root / 'hubtools.toml'}:11"
    with pytest.raises(UsageError, match=r"hubtools\.toml:3: \[generate\] has unknown key"):
        config.table("generate", known=("exclude",))
    with pytest.raises(UsageError, match=r"hubtools\.toml:11: \[\[models\]\] #2 has unknown"):
        config.array("models", known=("path", "metadata"))
    assert [m["path"] for m in config.array("models", ("path", "model", "metadata"))] == [
        "a/**",
        "b/**",
    ]


def test_no_file_is_an_empty_config(tmp_path: Path) -> None:
    assert read_table(tmp_path, "generate", known=()) == {}
    assert load_config(tmp_path).line("generate") is None


def test_not_toml_says_where(tmp_path: Path) -> None:
    (tmp_path / "hubtools.toml").write_text("[generate\n")
    with pytest.raises(UsageError, match=r"not valid TOML: .*line 1"):
        load_config(tmp_path)
