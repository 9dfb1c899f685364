"""The files layout (a folder of models), hubtools.toml's [generate] and
[[models]], the choice of layouts, and unlisted models."""

from __future__ import annotations

from pathlib import Path

import pytest
from onnx import TensorProto, helper

from hubtools.errors import Severity, UsageError
from hubtools.generate.modelfiles import model_stem, opset_suffix
from hubtools.generate.pipeline import GenerateResult, generate_manifest
from tests.client_support import data_bundle

from .support import TOP, make_zoo, model_bytes, pointer, zip_of, zoo_files


def _generate(root: Path, files: dict[str, bytes | str], **kwargs: object) -> GenerateResult:
    make_zoo(root, files, commit=False)
    return generate_manifest(root, **kwargs)  # type: ignore[arg-type]


def _problems(result: GenerateResult) -> list[tuple[str, str, str]]:
    return [(p.code, str(p.location), p.severity.value) for p in result.report]


@pytest.mark.parametrize(
    ("name", "opset", "model"),
    [
        ("resnet-tiny-12.onnx", 12, "resnet-tiny"),
        ("resnet-tiny-12.onnx", 13, "resnet-tiny-12"),
        ("net_7.onnx", 7, "net"),
        ("net-opset17.onnx", 17, "net"),
        ("net_Opset17.onnx", 17, "net"),
        ("net_OPSET17.tar.gz", 17, "net"),
        ("bert-mini.onnx", 11, "bert-mini"),
        ("tinycnn-12-int8.onnx", 12, "tinycnn-12-int8"),
        ("12.onnx", 12, "12"),
        ("v2-0.onnx", 0, "v2-0"),
    ],
)
def test_a_trailing_opset_suffix_goes_when_it_is_the_opset(
    name: str, opset: int, model: str
) -> None:
    assert model_stem(f"folder/{name}", opset) == model


def test_a_suffix_is_bounded_before_it_is_read() -> None:
    assert opset_suffix("net-" + "9" * 5000) is None
    assert opset_suffix("net-1001") is None
    assert opset_suffix("net-1000") == ("net", 1000)


def test_a_folder_of_models(tmp_path: Path) -> None:
    result = _generate(
        tmp_path,
        {
            "README.md": "# My models\n\nJust files.\n",
            "vision/image_classification/resnet-tiny-12.onnx": model_bytes(12),
            "vision/image_classification/resnet-tiny-12.tar.gz": data_bundle(b"test data"),
            "vision/image_classification/resnet-tiny_opset13.onnx": model_bytes(13),
            "text/bert-mini.onnx": model_bytes(11),
            "text/big-16.onnx": pointer(model_bytes(16)),
            ".cache/copy.onnx": model_bytes(12),
            "vision/test_data_set_0/model.onnx": model_bytes(12),
            "vision/.hidden.onnx": model_bytes(12),
        },
    )
    assert _problems(result) == []
    got = [
        (e.model, e.model_path, e.opset_version, e.onnx_version, e.metadata.tags)
        for e in result.manifest
    ]
    assert got == [
        ("bert-mini", "text/bert-mini.onnx", 11, "1.6.0", ("text",)),
        ("big", "text/big-16.onnx", 16, "1.11.0", ("text",)),
        (
            "resnet-tiny",
            "vision/image_classification/resnet-tiny-12.onnx",
            12,
            "1.7.0",
            ("vision", "image classification"),
        ),
        (
            "resnet-tiny",
            "vision/image_classification/resnet-tiny_opset13.onnx",
            13,
            "1.8.0",
            ("vision", "image classification"),
        ),
    ]
    bundled = result.manifest.entries[2].metadata
    assert bundled.model_with_data_path == "vision/image_classification/resnet-tiny-12.tar.gz"
    assert result.manifest.entries[0].metadata.io_ports is not None
    assert result.manifest.entries[1].metadata.io_ports is None  # a pointer
    assert result.stats.layouts == ("readme-tables", "turnkey", "files")


def test_archives_beside_no_model_of_their_stem(tmp_path: Path) -> None:
    result = _generate(
        tmp_path,
        {
            "det/tiny-13.zip": zip_of("tiny", {"tiny.onnx": model_bytes(13)}),
            "det/images.zip": zip_of("images", {"a.jpg": b"jpeg"}),  # no model: not taken
            "det/remote-14.tar.gz": pointer(b"an archive not pulled"),
            "det/two.onnx": model_bytes(9),
            "det/two.tar.gz": b"one",
            "det/two.zip": b"other",
        },
    )
    assert _problems(result) == [("ambiguous-bundle", "det/two.onnx", "warning")]
    got = {
        e.model_path: (e.model, e.opset_version, e.metadata.get("model_archive"))
        for e in result.manifest
    }
    assert got == {
        "det/remote-14.tar.gz": ("remote", 14, "tar.gz"),
        "det/tiny-13.zip": ("tiny", 13, "zip"),
        "det/two.onnx": ("two", 9, None),
    }


def test_a_pointer_without_opset_is_a_warning_naming_both_fixes(tmp_path: Path) -> None:
    result = _generate(tmp_path, {"models/large.onnx": pointer(model_bytes(14))})
    (problem,) = result.report
    assert (problem.code, str(problem.location), problem.severity) == (
        "unknown-opset",
        "models/large.onnx",
        Severity.WARNING,
    )
    assert problem.hint is not None
    assert "large-<opset>.onnx" in problem.hint
    assert "[[models]]" in problem.hint
    assert len(result.manifest) == 0
    (tmp_path / "hubtools.toml").write_text('[[models]]\npath = "models/*"\nopset = 14\n')
    result = generate_manifest(tmp_path)
    assert list(result.report) == []
    assert [(e.model, e.opset_version) for e in result.manifest] == [("large", 14)]


def test_a_model_without_a_default_domain_opset_is_left_out(tmp_path: Path) -> None:
    graph = helper.make_graph(
        [helper.make_node("Scaler", ["x"], ["y"], domain="ai.onnx.ml", scale=[2.0])],
        "ml",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("ai.onnx.ml", 1)])
    result = _generate(tmp_path, {"ml-3.onnx": model.SerializeToString()})
    assert _problems(result) == [("no-default-opset", "ml-3.onnx", "warning")]


def test_two_files_of_one_name_and_opset_are_an_error_naming_both(tmp_path: Path) -> None:
    files: dict[str, bytes | str] = {
        "a/Net-12.onnx": model_bytes(12),
        "b/net_opset12.onnx": model_bytes(12),
    }
    result = _generate(tmp_path, files)
    (error,) = result.report.errors
    assert (error.code, str(error.location)) == ("duplicate-model", "b/net_opset12.onnx")
    assert "already listed at a/Net-12.onnx" in error.message
    assert error.hint is not None
    assert "[[models]]" in error.hint
    assert "model = " in error.hint
    (tmp_path / "hubtools.toml").write_text('[[models]]\npath = "b/*"\nmodel = "{stem}-{folder}"\n')
    result = generate_manifest(tmp_path)
    assert list(result.report) == []
    assert sorted(e.model for e in result.manifest) == ["Net", "net-b"]


def test_models_rules_set_names_tags_and_metadata(tmp_path: Path) -> None:
    toml = """\
[[models]]
path = "*"
metadata = { license = "MIT", card = { url = "https://example.org" } }

[[models]]
path = "vision/**"
model = "{stem}-v2"
tags = ["vision", "{folder}"]
"""
    result = _generate(
        tmp_path,
        {
            "hubtools.toml": toml,
            "vision/cls/net-12.onnx": model_bytes(12),
            "x.onnx": model_bytes(9),
        },
    )
    assert _problems(result) == [("empty-tags", "x.onnx", "warning")]
    first, second = result.manifest
    assert (first.model, first.metadata.tags) == ("net-v2", ("vision", "cls"))
    assert first.metadata.extra == (("license", "MIT"), ("card", {"url": "https://example.org"}))
    assert list(first.metadata.to_json())[-2:] == ["license", "card"]
    assert second.model == "x"


def test_a_value_a_rule_sets_wrong_is_an_error_at_its_line(tmp_path: Path) -> None:
    toml = '[generate]\nlayouts = ["files"]\n\n[[models]]\npath = "*"\ntags = ["{folder}"]\n'
    result = _generate(tmp_path, {"hubtools.toml": toml, "net-12.onnx": model_bytes(12)})
    (error,) = result.report
    assert (error.code, str(error.location)) == ("schema-minLength", "hubtools.toml:6")
    assert error.message.startswith("metadata/tags/0 of net-12.onnx: ")
    assert "[[models]] rule at hubtools.toml:6" in (error.hint or "")


def test_globs_that_match_nothing_are_warnings_at_their_line(tmp_path: Path) -> None:
    toml = '[generate]\nexclude = ["drafts/**"]\n\n[[models]]\npath = "audio/**"\nopset = 9\n'
    result = _generate(tmp_path, {"hubtools.toml": toml, "cnn/net-12.onnx": model_bytes(12)})
    assert _problems(result) == [
        ("glob-matches-nothing", "hubtools.toml:2", "warning"),
        ("glob-matches-nothing", "hubtools.toml:5", "warning"),
    ]


def test_exclude_keeps_files_out_of_every_layout(tmp_path: Path) -> None:
    files = zoo_files()
    files["hubtools.toml"] = '[generate]\nexclude = ["*/preproc/*"]\n'
    result = _generate(tmp_path, files)
    assert list(result.report) == []
    assert [e.model for e in result.manifest] == ["Net-12", "Net"]


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[generat]\n", "hubtools.toml:1: hubtools.toml has unknown key(s) generat"),
        ("[generate]\nlayout = []\n", "hubtools.toml:2: [generate] has unknown key(s) layout"),
        ('[generate]\nlayouts = ["tables"]\n', "hubtools.toml:2: layouts: unknown layout 'tables'"),
        ("[generate]\nexclude = 'x'\n", "hubtools.toml:2: exclude must be a list of strings"),
        ("\n[[models]]\nmodel = 'x'\n", "hubtools.toml:2: needs a path glob"),
        ("[[models]]\npath = '*'\nmodle = 'x'\n", "hubtools.toml:3: [[models]] #1 has unknown"),
        ("[[models]]\npath = '*'\nopset = '12'\n", "hubtools.toml:3: opset must be a whole number"),
        (
            "[[models]]\npath = '*'\n[[models]]\npath = '*'\nmodel = '{name}'\n",
            "hubtools.toml:5: model '{name}' names {name}; a template may name only {stem}",
        ),
        ("[[models]]\npath = '*'\nmodel = '{stem'\n", "hubtools.toml:3: model '{stem' is not"),
        (
            "[[models]]\npath = '*'\nmetadata = { tags = [] }\n",
            "hubtools.toml:3: metadata key 'tags' is written by generate",
        ),
        (
            "[[models]]\npath = '*'\nmetadata = { when = 2024-01-01 }\n",
            "hubtools.toml:3: metadata 'when': datetime.date(2024, 1, 1) has no JSON form",
        ),
    ],
)
def test_a_wrong_hubtools_toml_is_a_usage_error_at_its_line(
    tmp_path: Path, toml: str, message: str
) -> None:
    make_zoo(tmp_path, {"hubtools.toml": toml, "net-12.onnx": model_bytes(12)}, commit=False)
    with pytest.raises(UsageError) as raised:
        generate_manifest(tmp_path)
    assert str(raised.value).startswith(str(tmp_path / message.split(":", 1)[0]))
    assert message.split(" ", 1)[0].split(":", 1)[1] in str(raised.value)
    assert message.split(" ", 1)[1] in str(raised.value)


def test_auto_layouts_keep_a_zoo_a_zoo_and_report_unlisted_models(tmp_path: Path) -> None:
    files = zoo_files()
    files["validated/extra/model/lone-12.onnx"] = model_bytes(12)
    result = _generate(tmp_path, files)
    assert _problems(result) == [
        ("unlisted-model", "validated/extra/model/lone-12.onnx", "warning"),
    ]
    assert result.stats.unlisted == ("validated/extra/model/lone-12.onnx",)
    assert result.stats.layouts == ("readme-tables", "turnkey")
    assert len(result.manifest) == 3
    both = generate_manifest(tmp_path, layouts=["readme-tables", "files"])
    assert list(both.report) == []
    # README rows keep their files (names, bundles); the files layout takes the rest.
    assert sorted(e.model for e in both.manifest) == ["Net", "Net-12", "Net-pre", "lone"]


def test_layouts_from_hubtools_toml_and_the_argument(tmp_path: Path) -> None:
    files = zoo_files()
    files["hubtools.toml"] = '[generate]\nlayouts = ["files"]\n'
    result = _generate(tmp_path, files)
    assert sorted(e.model for e in result.manifest) == ["net", "net", "pre"]
    assert {e.metadata.model_with_data_path is not None for e in result.manifest} == {True}
    tables = generate_manifest(tmp_path, layouts=["readme-tables"])
    assert sorted(e.model for e in tables.manifest) == ["Net", "Net-12", "Net-pre"]


def test_a_readme_that_was_not_read_accounts_for_its_models(tmp_path: Path) -> None:
    files = zoo_files()
    base = "validated/vision/classification/my_net"
    files[f"{base}/README.md"] = b"\xff not utf-8"
    result = _generate(tmp_path, files)
    assert [p.code for p in result.report] == ["readme-not-utf8"]  # not 3 unlisted models too
    assert result.stats.left_out == 3


def test_rows_that_validate_would_reject_are_errors_at_the_row(tmp_path: Path) -> None:
    base = "validated/vision/classification/my_net"
    readme = (
        "|Model|Download|ONNX version|Opset version|\n|-|-|-|-|\n"
        "|Net|[1](model/net-7.onnx)|1.2|7|\n"
        "|NET|[1](model/net-7b.onnx)|1.2|7|\n"
        "|Old|[1](model/net-18.onnx)|1.2|18|\n"
        "|Packed|[1](model/net-12.tar.gz)|1.7|12|\n"
    )
    result = _generate(
        tmp_path,
        {
            "README.md": TOP,
            f"{base}/README.md": readme,
            f"{base}/model/net-7.onnx": pointer(model_bytes(7)),
            f"{base}/model/net-7b.onnx": pointer(model_bytes(7, "y")),
            f"{base}/model/net-18.onnx": pointer(model_bytes(18)),
            f"{base}/model/net-12.tar.gz": pointer(b"an archive"),
        },
    )
    row = f"{base}/README.md"
    assert _problems(result) == [
        ("archive-without-format", f"{row}:6", "error"),
        ("onnx-version-mismatch", f"{row}:5", "warning"),
        ("duplicate-model", f"{row}:4", "error"),
    ]
    duplicate = result.report.problems[2]
    assert duplicate.message == (
        f"model of {base}/model/net-7b.onnx: model 'NET' with opset 7 is already listed at "
        f"{row}:3 (names match case-insensitively)"
    )
    assert duplicate.hint is not None
    assert "`Model` cell" in duplicate.hint


def test_an_output_type_no_one_can_tell_is_an_error_at_the_model(tmp_path: Path) -> None:
    graph = helper.make_graph(
        [helper.make_node("Mystery", ["x"], ["y"], domain="com.example")],
        "custom",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_value_info("y", helper.TypeProto())],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("com.example", 1)]
    )
    result = _generate(tmp_path, {"custom-13.onnx": model.SerializeToString()})
    (error,) = result.report
    assert (error.code, str(error.location), error.severity) == (
        "schema-pattern",
        "custom-13.onnx",
        Severity.ERROR,
    )
    assert error.message.startswith("metadata/io_ports/outputs/0/type: ")
