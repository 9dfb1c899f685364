"""Generate's own output through the validator's schema and semantic checks
(:func:`~hubtools.validate.checks.check_document`), so that generate never
writes what ``validate`` rejects: each problem found is moved to its source,
the README row, ``turnkey_stats.yaml``, model file or ``hubtools.toml`` line
that gave the value, with the entries it names given by their sources too.
Errors stay errors (the run fails), warnings stay warnings. It checks the
manifest in memory; it must not read the repository's files.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from hubtools.core.manifest import Manifest
from hubtools.errors import Location, Problem
from hubtools.generate.collectors.base import Candidate

__all__ = ["SOURCE", "problems_at_source"]

#: The name the generated manifest is checked under (it is not a file yet).
SOURCE = "<generated manifest>"


def problems_at_source(
    manifest: Manifest, text: str, sources: Mapping[str, Candidate]
) -> list[Problem]:
    """The validator's problems with ``manifest`` (none for an empty one), whose
    written form is ``text``, each at its source; ``sources`` gives the
    candidate of each ``model_path``."""
    entries = list(manifest)
    if not entries:
        return []
    from hubtools.core.jsonfile import parse_json
    from hubtools.validate.checks import check_document, entry_index

    named = [_where(sources[e.model_path]) for e in entries]
    result = check_document(parse_json(text, SOURCE), entry_name=named.__getitem__)
    found = []
    for problem in result.report:
        index = entry_index(problem.location.pointer)
        if index is None:  # the manifest as a whole: generate always writes an array
            found.append(problem)
            continue
        entry = entries[index]
        found.append(_moved(problem, sources[entry.model_path], entry.model_path, index))
    return found


def _where(candidate: Candidate) -> str:
    return str(candidate.location)


def _moved(problem: Problem, candidate: Candidate, model_path: str, index: int) -> Problem:
    """``problem`` (at a pointer into entry ``index``) at the source of that value."""
    pointer = problem.location.pointer or f"/{index}"
    field = pointer.split("/", 2)[2] if pointer.count("/") >= 2 else ""
    location = _source_of(field, candidate, model_path)
    what = field or "entry"
    about = what if location.file == model_path else f"{what} of {model_path}"
    hint = candidate.rename if problem.code == "duplicate-model" else problem.hint
    origin = dict(candidate.origins)
    if location != candidate.location and location in origin.values():
        hint = f"{hint} (the value comes from the [[models]] rule at {location})"
    return dataclasses.replace(
        problem, message=f"{about}: {problem.message}", location=location, hint=hint
    )


def _source_of(field: str, candidate: Candidate, model_path: str) -> Location:
    """Where an entry's ``field`` (a JSON pointer inside it, without the index) was set."""
    parts = field.split("/")
    if parts[0] == "model":
        return candidate.origin("model")
    if parts[0] != "metadata" or len(parts) < 2:
        return candidate.location
    if parts[1] == "tags":
        return candidate.origin("tags")
    if parts[1] == "io_ports":
        return Location(model_path)  # read from the file itself
    return candidate.origin(f"metadata/{parts[1]}")
