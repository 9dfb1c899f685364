"""The ``onnx.hub``-compatible face of hubtools: ``from hubtools import hub``.

Change ``from onnx import hub`` to ``from hubtools import hub`` and the same
calls work: :func:`load`, :func:`list_models`, :func:`get_model_info`,
:func:`download_model_with_test_data`, :func:`load_composite_model`,
:func:`set_dir`, :func:`get_dir` and :class:`ModelInfo` keep the names,
parameters and defaults of ``onnx.hub`` in onnx 1.20; the README lists what
differs on purpose. This module stays thin: each function builds a
:class:`~hubtools.client.hub.Hub` and makes one call; the work is in
:mod:`hubtools.client`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from hubtools.client import config
from hubtools.client.config import ARCHIVE_REPO, DEFAULT_REPO, Settings
from hubtools.client.hub import Download, Hub, last_download
from hubtools.client.manifests import ModelInfo
from hubtools.client.repository import Repository, parse_repo

if TYPE_CHECKING:
    import onnx

__all__ = [
    "ARCHIVE_REPO",
    "DEFAULT_REPO",
    "Download",
    "Hub",
    "ModelInfo",
    "Repository",
    "download_model_with_test_data",
    "get_dir",
    "get_model_info",
    "last_download",
    "list_models",
    "load",
    "load_composite_model",
    "parse_repo",
    "set_dir",
]


# ---- the onnx.hub API -------------------------------------------------------


def _hub(repo: str, mirrors: Sequence[str] | None) -> Hub:
    """A client with ``mirrors`` (if given) as the mirror list of ``repo``."""
    if mirrors is None:
        return Hub()
    if isinstance(mirrors, str):
        mirrors = [mirrors]
    return Hub(mirrors={repo: list(mirrors)})


def set_dir(new_dir: str | os.PathLike[str]) -> None:
    """Sets the current ONNX hub cache location (wins over ``$ONNX_HOME`` and ``$XDG_CACHE_HOME``).

    Raises nothing.
    """
    config.set_dir(new_dir)


def get_dir() -> str:
    """Gets the current ONNX hub cache location. Raises nothing.

    After :func:`set_dir`, the value it was given, unchanged, as ``onnx.hub``
    returned it (a trailing ``/`` kept, a ``Path`` still a ``Path``);
    otherwise the folder the environment gives, resolved now.
    """
    given = config.given_dir()
    if given is not None:
        return cast("str", given)
    return str(config.default_cache_dir())


def list_models(
    repo: str = DEFAULT_REPO,
    model: str | None = None,
    tags: list[str] | None = None,
) -> list[ModelInfo]:
    """Gets the list of model info consistent with a given name and tags.

    ``model`` matches names case-insensitively (None: all); ``tags`` keeps
    models having any of them (None: no filter). Raises
    ManifestUnavailableError (an AssertionError and a urllib URLError, as
    ``onnx.hub`` raised) when the manifest cannot be fetched and no copy is
    kept, ManifestError (a ValueError) when it is unusable, NotCachedError
    offline without a kept manifest, UsageError for a bad repo.
    """
    return Hub().list_models(repo, model, tags)


def get_model_info(model: str, repo: str = DEFAULT_REPO, opset: int | None = None) -> ModelInfo:
    """Gets the model info matching the given name and opset (None: the highest).

    Raises ModelNotFoundError (an AssertionError) when no model has that
    name, or none has that opset (the message lists the valid ones), plus
    what :func:`list_models` raises.
    """
    return Hub().get_model_info(model, repo, opset)


def load(
    model: str,
    repo: str = DEFAULT_REPO,
    opset: int | None = None,
    force_reload: bool = False,
    silent: bool = False,
    *,
    trust_repo: bool = False,
    mirrors: Sequence[str] | None = None,
) -> onnx.ModelProto | None:
    """Downloads a model by name from the model hub (or takes it from the cache) and loads it.

    ``mirrors`` replaces the payload mirrors of ``repo`` for this call
    (``"default"`` in the list stands for the configured ones); afterwards
    :func:`last_download` says which source served the file. An archive
    entry (``model_archive`` in its metadata) is extracted and loaded with
    its external data. Returns None when the user answered no to the trust
    prompt. Each error keeps the type ``onnx.hub`` raised: raises
    ChecksumMismatchError (an AssertionError) when the bytes do not match the
    manifest (WrongFileError when a Git LFS pointer or a page came instead),
    NotServedError or HTTPStatusError (a ``urllib.error.HTTPError``, with
    ``code`` and ``url``) when the repository's host answered with an error
    status, UnreachableError (a ``urllib.error.URLError``) when no source could
    be reached, UntrustedRepositoryError (a PermissionError and an EOFError)
    when the repository is not trusted and there is no terminal to ask,
    NotCachedError (offline), ModelNotFoundError (an AssertionError),
    ManifestUnavailableError, ManifestError, UsageError, FileWriteError when
    the cache is read-only and something must be fetched or extracted.
    """
    return _hub(repo, mirrors).load(model, repo, opset, force_reload, silent, trust_repo=trust_repo)


def download_model_with_test_data(
    model: str,
    repo: str = DEFAULT_REPO,
    opset: int | None = None,
    force_reload: bool = False,
    silent: bool = False,
    *,
    trust_repo: bool = False,
    mirrors: Sequence[str] | None = None,
) -> str | None:
    """Downloads a model with its test data and returns the folder they were extracted to.

    ``mirrors`` is as for :func:`load`.

    The folder holds the ``.onnx`` file and ``test_data_set_*`` folders.
    Returns None when the user answered no to the trust prompt. Raises
    ExtractionRefusedError (an UnsafeArchiveError and a tarfile.TarError, as
    ``onnx.hub`` raised) for a tarball with unsafe members, NoTestDataError (a
    KeyError, as ``onnx.hub`` raised) when the entry has no test data, and
    what :func:`load` raises.
    """
    folder = _hub(repo, mirrors).download_model_with_test_data(
        model, repo, opset, force_reload, silent, trust_repo=trust_repo
    )
    return None if folder is None else str(folder)


def load_composite_model(
    network_model: str,
    preprocessing_model: str,
    network_repo: str = DEFAULT_REPO,
    preprocessing_repo: str = DEFAULT_REPO,
    opset: int | None = None,
    force_reload: bool = False,
    silent: bool = False,
    *,
    trust_repo: bool = False,
) -> onnx.ModelProto | None:
    """Builds one model from a preprocessing model followed by a network.

    The default-domain opsets are converted to the higher of the two; the
    preprocessing outputs feed the network inputs in order. Raises
    RuntimeError when either model could not be loaded (trust declined),
    ValueError when another domain has different versions, and what
    :func:`load` raises.
    """
    import onnx
    import onnx.compose
    import onnx.version_converter

    client = Hub(Settings.resolve())  # one resolution of the settings for both models
    preprocessing = client.load(
        preprocessing_model, preprocessing_repo, opset, force_reload, silent, trust_repo=trust_repo
    )
    if preprocessing is None:
        raise RuntimeError(f"Could not load the preprocessing model: {preprocessing_model}")
    network = client.load(
        network_model, network_repo, opset, force_reload, silent, trust_repo=trust_repo
    )
    if network is None:
        raise RuntimeError(f"Could not load the network model: {network_model}")

    def versions(m: onnx.ModelProto) -> dict[str, int]:
        return {(e.domain or "ai.onnx"): int(e.version) for e in m.opset_import}

    net_versions, pre_versions = versions(network), versions(preprocessing)
    for domain in set(net_versions) & set(pre_versions) - {"ai.onnx"}:
        # onnx.hub compared the preprocessing version with itself here, so it never fired.
        if net_versions[domain] != pre_versions[domain]:
            raise ValueError(
                f"Can not merge {preprocessing_model} and {network_model} because they contain "
                f"different opset versions for domain {domain} ({pre_versions[domain]}) "
                f"and {net_versions[domain]}). Only the default domain can be "
                "automatically converted to the highest version of the two."
            )
    pre_opset = pre_versions.get("ai.onnx", -1)
    net_opset = net_versions.get("ai.onnx", -1)
    if pre_opset > net_opset:
        network = onnx.version_converter.convert_version(network, pre_opset)
        network.ir_version = preprocessing.ir_version
        onnx.checker.check_model(network)
    elif net_opset > pre_opset:
        preprocessing = onnx.version_converter.convert_version(preprocessing, net_opset)
        preprocessing.ir_version = network.ir_version
        onnx.checker.check_model(preprocessing)
    io_map = [
        (out.name, inp.name)
        for out, inp in zip(preprocessing.graph.output, network.graph.input, strict=False)
    ]
    merged: onnx.ModelProto = onnx.compose.merge_models(preprocessing, network, io_map=io_map)
    return merged
