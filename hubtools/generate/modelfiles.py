"""Which of a repository's files are models, and what their names say: an
``.onnx`` file or a model archive (``.tar.gz``, ``.tgz``, ``.zip``), outside
hidden folders, ``test_data_set_*`` folders and the ``exclude`` globs of
``hubtools.toml``; a name's stem, its trailing opset suffix (``-12``,
``_opset12``) and its folder. Pure functions over repository paths: it never
reads a file.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from collections.abc import Iterable

from hubtools.core.archives import archive_format, strip_archive_suffix
from hubtools.generate.collectors.base import MAX_OPSET

__all__ = [
    "MODEL_SUFFIX",
    "folder_of",
    "glob_matches",
    "is_archive",
    "is_left_out",
    "model_stem",
    "name_stem",
    "opset_suffix",
]

MODEL_SUFFIX = ".onnx"

# A trailing -N, _N, -opsetN or _opsetN (any case); the digits are bounded
# before int() sees them (an opset has at most as many digits as MAX_OPSET).
_SUFFIX = re.compile(r"(?P<base>.+?)[-_](?:opset)?(?P<number>[0-9]{1,4})", re.IGNORECASE)


def glob_matches(path: str, pattern: str) -> bool:
    """Whether the repository path ``path`` matches the ``hubtools.toml`` glob
    ``pattern``: shell-style and case-sensitive, ``*`` also crossing ``/`` (as the
    ``[check-models]`` globs), so ``vision/**`` is everything under ``vision/``."""
    return fnmatch.fnmatchcase(path, pattern)


def is_left_out(path: str, exclude: Iterable[str] = ()) -> bool:
    """Whether a file is never a model of the hub: under a hidden folder (or
    hidden itself), in a ``test_data_set_*`` folder, or matching an ``exclude`` glob."""
    parts = path.split("/")
    if any(part.startswith(".") for part in parts):
        return True
    if any(part.startswith("test_data_set_") for part in parts[:-1]):
        return True
    return any(glob_matches(path, pattern) for pattern in exclude)


def is_archive(path: str) -> bool:
    """Whether ``path`` is named like a model archive (``.tar.gz``, ``.tgz``, ``.zip``)."""
    return archive_format(path, model_archive=True) is not None


def name_stem(path: str) -> str:
    """The file name without ``.onnx`` or its archive suffix."""
    name = posixpath.basename(path)
    if name.endswith(MODEL_SUFFIX):
        return name[: -len(MODEL_SUFFIX)]
    return strip_archive_suffix(name) or name


def opset_suffix(stem: str) -> tuple[str, int] | None:
    """``(base, opset)`` when ``stem`` ends in an opset suffix (``resnet-12``,
    ``net_Opset17``), else None."""
    match = _SUFFIX.fullmatch(stem)
    if match is None:
        return None
    number = int(match["number"])
    if not 1 <= number <= MAX_OPSET:
        return None
    return match["base"], number


def model_stem(path: str, opset: int) -> str:
    """The file's stem without its opset suffix when the suffix says ``opset``:
    ``resnet-tiny-12.onnx`` at opset 12 is ``resnet-tiny``, at opset 13 ``resnet-tiny-12``."""
    stem = name_stem(path)
    split = opset_suffix(stem)
    return split[0] if split is not None and split[1] == opset else stem


def folder_of(path: str) -> str:
    """The name of the folder holding ``path`` (empty at the root)."""
    return posixpath.basename(posixpath.dirname(path))
