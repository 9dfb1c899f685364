from __future__ import annotations

from pathlib import Path

import pytest

from hubtools.generate.collectors.turnkey import YamlError, load_stats, read_folder
from hubtools.inspect.releases import onnx_release_for_opset

STATS = """\
author: timm
builds:
  x86_ort:
    all_build_stages:
    - export_pytorch
    iterations: 100
builtin_model_script: https://example.org/models/timm/resnet50.py
class: ResNet
hash: 0123abcd
model_name: resnet50
onnx_input_dimensions:
  x:
  - 1
  - 3
  - 224
  - 224
onnx_model_information:
  ir_version: 8
  opset: 17
  size on disk (KiB): 100.5
onnx_ops_counter:
  Conv: 53
parameters: 25557032
system_info:
  Python Packages:
  - onnx==1.15.0
  - 'weird: {yaml'
task: Computer_Vision
"""
FOLDER = "Computer_Vision/resnet50_Opset17_timm"


def test_reads_a_folder_into_a_model() -> None:
    files = [f"{FOLDER}/resnet50_Opset17.onnx", f"{FOLDER}/turnkey_stats.yaml"]
    model, problems = read_folder(f"{FOLDER}/turnkey_stats.yaml", STATS, files)
    assert problems == []
    assert model is not None
    assert (model.model, model.opset_version, model.onnx_version) == ("resnet50_timm", 17, "1.12.0")
    assert model.model_path == f"{FOLDER}/resnet50_Opset17.onnx"
    assert model.tags == ("computer vision", "timm", "ResNet")
    assert model.metadata == (
        ("author", "timm"),
        ("model_class", "ResNet"),
        ("parameters", 25557032),
        ("ir_version", 8),
        ("input_dimensions", {"x": [1, 3, 224, 224]}),
        ("source", "https://example.org/models/timm/resnet50.py"),
    )
    assert model.archive is None


def test_archive_artifact_is_marked() -> None:
    files = [f"{FOLDER}/resnet50_Opset17.tar.gz"]
    model, _ = read_folder(f"{FOLDER}/turnkey_stats.yaml", STATS, files)
    assert model is not None
    assert model.archive == "tar.gz"
    assert model.metadata[-1] == ("model_archive", "tar.gz")


def test_fast_and_full_parse_agree() -> None:
    import yaml

    full = yaml.safe_load(STATS)
    fast = load_stats(STATS)
    assert {k: full[k] for k in fast} == fast
    assert "system_info" not in fast


def test_malformed_yaml_is_a_warning_with_its_line() -> None:
    broken = STATS.replace("  opset: 17", "  opset: [17")
    model, problems = read_folder(f"{FOLDER}/turnkey_stats.yaml", broken, [f"{FOLDER}/a.onnx"])
    assert model is None
    assert [(p.code, p.location.line) for p in problems] == [("yaml-invalid", 20)]
    assert str(problems[0]).startswith(f"{FOLDER}/turnkey_stats.yaml:20: warning yaml-invalid")
    with pytest.raises(YamlError):
        load_stats("- just\n- a list\n")


@pytest.mark.parametrize(
    ("files", "code"),
    [([], "turnkey-artifact"), ([f"{FOLDER}/a.onnx", f"{FOLDER}/b.zip"], "turnkey-artifact")],
)
def test_artifact_problems(files: list[str], code: str) -> None:
    model, problems = read_folder(f"{FOLDER}/turnkey_stats.yaml", STATS, files)
    assert model is None
    assert [p.code for p in problems] == [code]


def test_folder_name_is_cross_checked() -> None:
    folder = "Computer_Vision/resnet50_Opset16_timm"
    model, problems = read_folder(f"{folder}/turnkey_stats.yaml", STATS, [f"{folder}/a.onnx"])
    assert model is not None
    assert model.opset_version == 17  # the YAML wins, and the mismatch is said
    assert [p.code for p in problems] == ["turnkey-folder-mismatch"]


@pytest.mark.parametrize(
    ("opset", "release"), [(1, "1.0"), (8, "1.3"), (16, "1.11.0"), (17, "1.12.0"), (18, "1.13.0")]
)
def test_release_for_opset_comes_from_onnx(opset: int, release: str) -> None:
    assert onnx_release_for_opset(opset) == release


def test_unknown_future_opset() -> None:
    assert onnx_release_for_opset(10_000) is None


def test_collector_skips_skip_folders_unless_asked(tmp_path: Path) -> None:
    from hubtools.generate.collectors.turnkey import TurnkeyCollector
    from hubtools.generate.repo import list_files

    for folder in (FOLDER, "Computer_Vision/skip/resnet50_Opset17_timm"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "turnkey_stats.yaml").write_text(STATS)
        (tmp_path / folder / "resnet50_Opset17.onnx").write_bytes(b"x")
    repo = list_files(tmp_path)
    found = TurnkeyCollector().collect(repo)
    assert [c.model_path for c in found.candidates] == [f"{FOLDER}/resnet50_Opset17.onnx"]
    assert found.notes == (
        "1 model folder under skip/ was left out (--include-skipped takes them)",
    )
    both = TurnkeyCollector(include_skipped=True).collect(repo)
    assert len(both.candidates) == 2
    assert both.notes == ()
    # Same name and opset twice: the validator's duplicate-model check is what catches it.
    assert {c.model for c in both.candidates} == {"resnet50_timm"}


def test_two_folders_sharing_name_and_opset_are_an_error_at_the_later(tmp_path: Path) -> None:
    from hubtools.generate.pipeline import generate_manifest

    for folder in (FOLDER, "Computer_Vision/skip/resnet50_Opset17_timm"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "turnkey_stats.yaml").write_text(STATS)
        (tmp_path / folder / "resnet50_Opset17.onnx").write_bytes(
            b"version https://git-lfs.github.com/spec/v1\noid sha256:" + b"a" * 64 + b"\nsize 9\n"
        )
    result = generate_manifest(tmp_path, include_skipped=True)
    assert len(result.manifest) == 2
    skipped = "Computer_Vision/skip/resnet50_Opset17_timm/turnkey_stats.yaml"
    (error,) = result.report.errors
    assert (error.code, error.location.file) == ("duplicate-model", skipped)  # the later one
    assert f"already listed at {FOLDER}/turnkey_stats.yaml" in error.message
    assert error.hint == "change model_name or author in one of the turnkey_stats.yaml files"


@pytest.mark.parametrize(
    ("text", "code", "line"),
    [
        # An alias, even outside the keys read, wherever it is.
        (STATS.replace("  x:\n", "  x: &dims\n") + "again: *dims\n", "yaml-alias", 29),
        (STATS.replace("- 'weird: {yaml'", "- *undefined"), "yaml-alias", 27),
        (STATS.replace("opset: 17", "opset: " + "9" * 5000), "yaml-number", 19),
        (
            STATS.replace("parameters: 25557032", "parameters: 9223372036854775808"),
            "yaml-number",
            23,
        ),
        (STATS.replace("  ir_version: 8", "  ir_version: 0x1" + "0" * 16), "yaml-number", 18),
        (STATS.replace("hash: 0123abcd", "hash: " + "[" * 1001 + "]" * 1001), "yaml-too-deep", 9),
        (
            STATS.replace("task: Computer_Vision", "task:\n" + "- " * 1001 + "x"),
            "yaml-too-deep",
            29,
        ),
    ],
    ids=["anchor-alias", "alias-in-skipped-key", "opset", "parameters", "hex", "flow", "block"],
)
def test_refusals_before_and_while_loading_name_the_line(text: str, code: str, line: int) -> None:
    files = [f"{FOLDER}/resnet50_Opset17.onnx"]
    model, problems = read_folder(f"{FOLDER}/turnkey_stats.yaml", text, files)
    assert model is None
    assert [(p.code, p.location.line) for p in problems] == [(code, line)]
    (problem,) = problems
    assert problem.message.endswith("; the folder was skipped")
    assert len(problem.message) < 200
    assert problem.hint


def test_numbers_up_to_64_bits_are_read() -> None:
    text = STATS.replace("parameters: 25557032", "parameters: 9223372036854775807")
    assert load_stats(text)["parameters"] == 2**63 - 1


def test_collector_reads_no_oversized_or_non_utf8_file(tmp_path: Path) -> None:
    from hubtools.generate.collectors.turnkey import MAX_STATS_BYTES, TurnkeyCollector
    from hubtools.generate.repo import list_files

    for name, data in (
        ("big", STATS.encode() + b"#" * MAX_STATS_BYTES),
        ("latin", b"caf\xe9: 1\n"),
    ):
        folder = tmp_path / f"Computer_Vision/{name}_Opset17_x"
        folder.mkdir(parents=True)
        (folder / "turnkey_stats.yaml").write_bytes(data)
        (folder / f"{name}_Opset17.onnx").write_bytes(b"x")
    found = TurnkeyCollector().collect(list_files(tmp_path))
    assert [(p.code, p.location.file) for p in found.problems] == [
        ("yaml-too-large", "Computer_Vision/big_Opset17_x/turnkey_stats.yaml"),
        ("yaml-not-utf8", "Computer_Vision/latin_Opset17_x/turnkey_stats.yaml"),
    ]
    assert "256 KiB" in found.problems[0].message
