"""The ``[[models]]`` rules of ``hubtools.toml`` applied to the candidates of
every layout: each rule whose ``path`` glob matches a candidate's
``model_path`` sets, in order, its ``model`` (a template of ``{stem}`` and
``{folder}``), replaces its tags, and adds metadata keys after the standard
ones; the candidate keeps where each field came from, so a problem with it
is reported at the rule's line. A rule that matches nothing is a warning. It
must not read files (the files layout takes a rule's ``opset`` itself).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

from hubtools.core.manifest import JSONValue
from hubtools.errors import Location, Problem, Severity
from hubtools.generate.collectors.base import Candidate
from hubtools.generate.config import Glob, ModelRule
from hubtools.generate.modelfiles import folder_of, glob_matches, model_stem

__all__ = ["apply_rules", "unmatched_glob"]


def unmatched_glob(glob: Glob, what: str) -> Problem:
    """The warning that a ``hubtools.toml`` glob matches no ``what``."""
    return Problem(
        "glob-matches-nothing",
        f"{glob.pattern!r} matches no {what}, so it does nothing",
        glob.where,
        Severity.WARNING,
        "fix the glob: it is matched against paths from the repository root, "
        "with `*` also crossing `/` (`vision/**` is everything under vision/)",
    )


def apply_rules(
    candidates: Iterable[Candidate], rules: Sequence[ModelRule]
) -> tuple[list[Candidate], list[Problem]]:
    """The candidates with the rules applied, and a warning for each rule
    whose ``path`` matched none of them."""
    used = [False] * len(rules)
    out = []
    for candidate in candidates:
        matching = []
        for index, rule in enumerate(rules):
            if glob_matches(candidate.model_path, rule.path.pattern):
                used[index] = True
                matching.append(rule)
        out.append(_applied(candidate, matching) if matching else candidate)
    unmatched = [
        unmatched_glob(rule.path, "entry's model_path")
        for rule, hit in zip(rules, used, strict=True)
        if not hit
    ]
    return out, unmatched


def _applied(candidate: Candidate, rules: Iterable[ModelRule]) -> Candidate:
    values = {
        "stem": model_stem(candidate.model_path, candidate.opset_version),
        "folder": folder_of(candidate.model_path),
    }
    model, tags, rename = candidate.model, candidate.tags, candidate.rename
    metadata: dict[str, JSONValue] = dict(candidate.metadata)
    origins: dict[str, Location] = dict(candidate.origins)
    for rule in rules:
        if rule.model is not None:
            model = rule.model.render(values)
            origins["model"] = rule.where("model")
            rename = (
                f"change the `model` template of the [[models]] rule at {origins['model']}, "
                "or add a rule for one of the files"
            )
        if rule.tags is not None:
            tags = tuple(tag.render(values) for tag in rule.tags)
            origins["tags"] = rule.where("tags")
        for key, value in rule.metadata:
            metadata[key] = value
            origins[f"metadata/{key}"] = rule.where("metadata")
    return dataclasses.replace(
        candidate,
        model=model,
        tags=tags,
        metadata=tuple(metadata.items()),
        rename=rename,
        origins=tuple(origins.items()),
    )
