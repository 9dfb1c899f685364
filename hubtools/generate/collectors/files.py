"""The collector of the files layout, for a hub that is just a folder of
models: every ``.onnx`` file, and every ``.tar.gz``/``.tgz``/``.zip`` holding
an ``.onnx`` with its external data that no ``.onnx`` of the same stem sits
beside (one that does is that model's test-data bundle), outside hidden and
``test_data_set_*`` folders and the ``exclude`` globs of ``hubtools.toml``.
A model's opset, and so its name and onnx_version, come from its content once
the generator has read it (:attr:`~hubtools.generate.collectors.base.Candidate.finish`).
It must not raise on bad input; of a model file it reads nothing but the
member names at the start of an archive.
"""

from __future__ import annotations

import dataclasses
import posixpath
from collections import defaultdict
from collections.abc import Sequence

from hubtools.core.archives import archive_format
from hubtools.errors import Location, Problem
from hubtools.generate.collectors.base import Candidate, CollectResult
from hubtools.generate.collectors.base import warning as _warning
from hubtools.generate.config import ModelRule
from hubtools.generate.modelfiles import (
    MODEL_SUFFIX,
    glob_matches,
    is_archive,
    is_left_out,
    model_stem,
    name_stem,
    opset_suffix,
)
from hubtools.generate.repo import RepoFiles, repo_file
from hubtools.inspect.members import archive_holds_onnx
from hubtools.inspect.releases import onnx_release_for_opset

__all__ = ["FilesCollector"]

_RENAME = (
    "give one of them its own name with a [[models]] rule in hubtools.toml "
    '(path = "<its path>", model = "<a name>"), or rename one of the files'
)


class FilesCollector:
    """The :class:`~hubtools.generate.collectors.base.Collector` of a plain folder of models.

    Entries (also described in the README, under "What `generate` collects"):

    * ``model``: the file's stem, without a trailing ``-N``, ``_N``,
      ``-opsetN`` or ``_opsetN`` (any case) whose number is the model's opset;
    * ``opset_version``: the highest default-domain opset the content imports;
      for a Git LFS pointer, the number of the name's opset suffix, else the
      ``opset`` of the last ``[[models]]`` rule matching it, else a warning;
    * ``onnx_version``: the first ONNX release whose opset reaches it;
    * ``tags``: the folders from the root to the file, ``_`` read as a space;
    * an archive of the same stem beside an ``.onnx`` is its
      ``model_with_data`` bundle; an archive without one is a model archive
      (``metadata.model_archive``).

    Its candidates are weak: a file another layout lists is that layout's.
    """

    name = "files"

    def __init__(self, *, exclude: Sequence[str] = (), rules: Sequence[ModelRule] = ()) -> None:
        self.exclude = tuple(exclude)
        self.rules = tuple(rules)

    def collect(self, repo: RepoFiles) -> CollectResult:
        """One candidate per model file; never raises on bad input."""
        onnx: dict[tuple[str, str], str] = {}
        archives: dict[tuple[str, str], list[str]] = defaultdict(list)
        for path in sorted(repo.files):
            if is_left_out(path, self.exclude):
                continue
            key = (posixpath.dirname(path), name_stem(path))
            if path.endswith(MODEL_SUFFIX):
                onnx[key] = path
            elif is_archive(path):
                archives[key].append(path)
        candidates: list[Candidate] = []
        problems: list[Problem] = []
        for key, path in onnx.items():
            bundles = archives.get(key, [])
            if len(bundles) > 1:
                problems.append(
                    _warning(
                        "ambiguous-bundle",
                        f"{len(bundles)} archives of its stem sit beside it "
                        f"({', '.join(bundles)}); none was taken as its test-data bundle",
                        path,
                        None,
                        "keep one, or list the others in `exclude` of [generate] in hubtools.toml",
                    )
                )
            candidates.append(self._candidate(path, bundles[0] if len(bundles) == 1 else None))
        for key, paths in archives.items():
            if key in onnx:
                continue
            for path in paths:
                if self._holds_model(repo, path) is not False:
                    candidates.append(self._candidate(path, None))
        return CollectResult(tuple(candidates), tuple(problems), matched=bool(candidates))

    @staticmethod
    def _holds_model(repo: RepoFiles, path: str) -> bool | None:
        """Whether an archive holds an ``.onnx`` (None: unknown, taken; the
        generator's read of it says what is wrong)."""
        fmt = archive_format(path, model_archive=True)
        full = repo_file(repo.root, path)
        if fmt is None or isinstance(full, Problem):
            return None
        return archive_holds_onnx(full, fmt.name)

    def _candidate(self, path: str, bundle: str | None) -> Candidate:
        fmt = None if path.endswith(MODEL_SUFFIX) else archive_format(path, model_archive=True)
        archive = fmt.name if fmt is not None else None
        candidate = Candidate(
            model=name_stem(path),
            model_path=path,
            onnx_version="",
            opset_version=0,
            tags=tuple(part.replace("_", " ") for part in path.split("/")[:-1]),
            model_with_data_path=bundle,
            location=Location(path),
            metadata=(("model_archive", archive),) if archive is not None else (),
            archive=archive,
            rename=_RENAME,
            weak=True,
        )
        return dataclasses.replace(
            candidate, finish=lambda opset, content: self._finish(candidate, opset, content)
        )

    def _finish(
        self, candidate: Candidate, opset: int | None, content: bool
    ) -> Candidate | Problem:
        """The candidate once its file's facts are known: ``opset`` is the
        default-domain opset the content imports, None when ``content`` was
        not read (a Git LFS pointer) or imports none."""
        path = candidate.model_path
        if opset is None and content:
            return _warning(
                "no-default-opset",
                "imports no default-domain (ai.onnx) opset, which hub clients choose "
                "models by; it was left out",
                path,
                None,
                "list it in `exclude` of [generate] in hubtools.toml, or re-export it "
                "with an ai.onnx opset import",
            )
        if opset is None:
            opset = self._pointer_opset(path)
        if opset is None:
            return _warning(
                "unknown-opset",
                "is a Git LFS pointer (content not pulled) whose name has no opset suffix, "
                "so its opset is unknown; it was left out",
                path,
                None,
                f"name it {name_stem(path)}-<opset>{_extension(path)}, "
                'or set opset in a [[models]] rule of hubtools.toml matching it (path = "...", '
                f"opset = 12), or `git lfs pull --include={path}`",
            )
        release = onnx_release_for_opset(opset)
        if release is None:
            return _warning(
                "opset-unknown",
                f"opset {opset} is newer than every release the installed onnx knows; "
                "it was left out",
                path,
                None,
                "upgrade the onnx package",
            )
        return dataclasses.replace(
            candidate,
            model=model_stem(path, opset),
            opset_version=opset,
            onnx_version=release,
            finish=None,
        )

    def _pointer_opset(self, path: str) -> int | None:
        """A pointer's opset: its name's suffix, else the last matching rule's ``opset``."""
        suffix = opset_suffix(name_stem(path))
        if suffix is not None:
            return suffix[1]
        found = None
        for rule in self.rules:
            if rule.opset is not None and glob_matches(path, rule.path.pattern):
                found = rule.opset
        return found


def _extension(path: str) -> str:
    """``.onnx``, ``.tar.gz``, ...: what follows the stem in the file's name."""
    name = posixpath.basename(path)
    return name[len(name_stem(path)) :]
