"""A drop-in successor of ``onnx.hub`` (removed from the ``onnx`` package in 2026).

Change ``from onnx import hub`` to ``from hubtools import hub`` and the same
calls work: :func:`load`, :func:`list_models`, :func:`get_model_info`,
:func:`download_model_with_test_data`, :func:`load_composite_model`,
:func:`set_dir`, :func:`get_dir` and :class:`ModelInfo` keep the names,
parameters, defaults and behaviour of ``onnx.hub`` in onnx 1.20. Errors come
from the hubtools tree and still inherit ``AssertionError`` where ``onnx.hub``
raised one. What changed, on purpose:

* downloads are verified while streaming and renamed into place only when
  their size and sha256 match, with retries, resume, a lock per file and a
  progress bar; cached files are re-verified on every load;
* ``silent=True`` only silences messages: it never trusts a repository
  (CVE-2026-28500). Trust comes from ``trust_repo=True``, the
  ``HUBTOOLS_TRUSTED_REPOS`` variable, the ``trusted_repos.txt`` file in the
  cache folder, or a "y" typed on a terminal; ``onnx/models`` (any ref) is
  always trusted;
* test-data tarballs are extracted safely (CVE-2024-5187);
* repositories may also be a local folder, a ``file://`` URL or an
  ``http(s)://`` base URL; ``HUBTOOLS_OFFLINE=1`` works from the cache alone;
* messages go to the ``hubtools`` logger instead of ``print``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from hubtools import archive, config, transport
from hubtools import cache as _cache
from hubtools.config import Settings
from hubtools.errors import (
    ManifestError,
    ModelNotFoundError,
    NotCachedError,
    Report,
    UntrustedRepositoryError,
    UsageError,
)
from hubtools.manifest import MANIFEST_NAME, JSONObject, JSONValue, ModelEntry

if TYPE_CHECKING:
    import onnx

__all__ = [
    "DEFAULT_REPO",
    "Hub",
    "ModelInfo",
    "Repository",
    "download_model_with_test_data",
    "get_dir",
    "get_model_info",
    "list_models",
    "load",
    "load_composite_model",
    "parse_repo",
    "set_dir",
]

log = logging.getLogger(__name__)

DEFAULT_REPO = "onnx/models:main"
_GITHUB_RE = re.compile(r"^([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)(?::([^\s?#]+))?$")


class ModelInfo:
    """A model's properties and metadata from a hub manifest, as ``onnx.hub.ModelInfo``.

    Attributes: ``model`` (name), ``model_path`` (relative to the repository
    root), ``metadata`` (the entry's metadata object), ``model_sha`` (sha256
    or None), ``tags`` (a set), ``opset`` and ``raw_model_info`` (the whole
    entry). A plain class rather than a frozen dataclass, because ``onnx.hub``
    built it from the raw entry as ``ModelInfo(raw_model_info)``.

    Raises KeyError when ``model``, ``model_path`` or ``opset_version`` is missing.
    """

    def __init__(self, raw_model_info: JSONObject) -> None:
        self.model = cast("str", raw_model_info["model"])
        self.model_path = cast("str", raw_model_info["model_path"])
        self.metadata = cast("JSONObject", raw_model_info.get("metadata") or {})
        self.model_sha: str | None = None
        if "model_sha" in self.metadata:
            self.model_sha = cast("str", self.metadata["model_sha"])
        self.tags: set[str] = set()
        if "tags" in self.metadata:
            self.tags = set(cast("list[str]", self.metadata["tags"]))
        self.opset = cast("int", raw_model_info["opset_version"])
        self.raw_model_info: JSONObject = raw_model_info

    def __str__(self) -> str:
        return (
            f"ModelInfo(model={self.model}, opset={self.opset}, "
            f"path={self.model_path}, metadata={self.metadata})"
        )

    def __repr__(self) -> str:
        return self.__str__()


@dataclass(frozen=True)
class Repository:
    """Where a manifest and its files come from.

    ``kind`` is ``github`` (``owner/name[:ref]``), ``url`` (an ``http(s)://``
    base) or ``local`` (a folder, given as a path or ``file://`` URL).
    ``key`` names it in the cache (with its ref); ``trust_names`` are the
    spellings a trusted-list entry may use for it.
    """

    spec: str
    kind: str
    key: str
    manifest_url: str
    payload_base: str
    trust_names: tuple[str, ...]
    official: bool = False

    def payload_url(self, model_path: str) -> str:
        """URL of a file of the repository, given its manifest path."""
        return self.payload_base + urllib.parse.quote(model_path, safe="/")


def parse_repo(spec: str, settings: Settings | None = None) -> Repository:
    """Read a repository specification.

    ``http(s)://...`` is a base URL; ``file://...``, an absolute path or one
    starting with ``.``/``~`` is a local folder; ``owner/name[:ref]`` (ref
    defaults to ``main``) is a GitHub repository, unless it names an existing
    folder and does not look like one. Raises
    :class:`~hubtools.errors.UsageError` when ``spec`` is none of these, or
    names a folder that does not exist.
    """
    settings = settings or Settings.resolve()
    if spec.startswith(("http://", "https://")):
        base = spec.rstrip("/") + "/"
        return Repository(spec, "url", base, base + MANIFEST_NAME, base, (spec.rstrip("/"),))
    path: Path | None = None
    if spec.startswith("file:"):
        path = Path(urllib.request.url2pathname(urllib.parse.urlsplit(spec).path))
    elif spec.startswith((".", "~")) or os.path.isabs(spec):
        path = Path(spec).expanduser()
    else:
        match = _GITHUB_RE.match(spec)
        if match:
            owner, name, ref = match.group(1), match.group(2), match.group(3) or "main"
            where = f"{owner}/{name}/{urllib.parse.quote(ref, safe='/')}"
            return Repository(
                spec=spec,
                kind="github",
                key=f"github:{owner}/{name}:{ref}",
                manifest_url=f"{settings.github_raw}/{where}/{MANIFEST_NAME}",
                payload_base=f"{settings.github_media}/{where}/",
                trust_names=(f"{owner}/{name}".lower(), f"{owner}/{name}:{ref}".lower()),
                official=(owner.lower(), name.lower()) == ("onnx", "models"),
            )
        if Path(spec).is_dir():
            path = Path(spec)
    if path is None:
        raise UsageError(
            f"repository {spec!r} is not owner/name[:ref], an http(s):// URL or a folder"
        )
    if not path.is_dir():
        raise UsageError(f"repository folder {path} does not exist")
    path = path.resolve()
    base = path.as_uri() + "/"
    return Repository(spec, "local", base, base + MANIFEST_NAME, base, (str(path), base))


def _ask(message: str) -> bool:
    """Ask a yes/no question on the terminal (the one place the library talks to a user)."""
    sys.stderr.write(f"{message} Continue? [y/N] ")
    sys.stderr.flush()
    try:
        return input().strip().lower() in {"y", "yes"}
    except EOFError:
        return False


def _interactive() -> bool:
    return sys.stdin.isatty() and sys.stderr.isatty()


def _load_checker() -> Callable[[str, str], tuple[object, Report]] | None:
    """``hubtools.checks.check_manifest_text`` when that module is there."""
    import importlib

    try:
        module = importlib.import_module("hubtools.checks")
    except ImportError:
        return None
    return cast(
        "Callable[[str, str], tuple[object, Report]] | None",
        getattr(module, "check_manifest_text", None),
    )


def _refused_indices(report: Report, source: str) -> set[int]:
    """Indices of entries that have error problems; other errors are logged."""
    bad: set[int] = set()
    for problem in report.errors:
        pointer = problem.location.pointer or ""
        head = pointer.split("/")[1] if pointer.count("/") else ""
        if head.isdigit():
            bad.add(int(head))
        else:
            log.warning("%s: %s", source, problem)
    return bad


def parse_manifest(text: str, source: str) -> list[ModelInfo]:
    """The usable entries of a manifest, validated; refused entries are logged as warnings.

    Uses the schema and semantic checks of :mod:`hubtools.checks` when it is
    available; in any case refuses entries of the wrong shape and entries
    whose paths or sha256 could escape the cache. Raises
    :class:`~hubtools.errors.ManifestError` when the text is not a JSON array.
    """
    bad: set[int] = set()
    checker = _load_checker()
    if checker is not None:
        manifest, report = checker(text, source)
        if manifest is None:
            shown = "; ".join(str(p) for p in report.errors[:5]) or "not a manifest"
            raise ManifestError(f"{source}: {shown}")
        bad = _refused_indices(report, source)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ManifestError(f"{source}: line {err.lineno} column {err.colno}: {err.msg}") from err
    if not isinstance(data, list):
        raise ManifestError(f"{source}: expected a JSON array of entries")
    infos = []
    for i, raw in enumerate(cast("list[JSONValue]", data)):
        if i in bad:
            log.warning("%s: entry /%d refused: it has schema or check errors", source, i)
            continue
        try:
            entry = ModelEntry.from_json(raw, f"/{i}")
            _check_entry(entry)
        except ManifestError as err:
            log.warning("%s: entry /%d refused: %s", source, i, err)
            continue
        infos.append(ModelInfo(cast("JSONObject", raw)))
    return infos


def _check_entry(entry: ModelEntry) -> None:
    """Defense in depth: paths and digests must not be able to leave the cache."""
    md = entry.metadata
    _cache.check_relative_path(entry.model_path, "model_path")
    if md.model_sha is not None:
        _cache.check_sha(md.model_sha, "model_sha")
    if md.model_with_data_path is not None:
        _cache.check_relative_path(md.model_with_data_path, "model_with_data_path")
    if md.model_with_data_sha is not None:
        _cache.check_sha(md.model_with_data_sha, "model_with_data_sha")


def _opt_str(value: JSONValue) -> str | None:
    return value if isinstance(value, str) else None


def _opt_int(value: JSONValue) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class Hub:
    """The client behind the module functions, with explicit settings.

    ``Hub()`` resolves :class:`~hubtools.config.Settings` at each call;
    ``Hub(settings)`` uses the given ones. ``confirm`` asks the user whether
    to trust a repository (default: a prompt on the terminal).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        confirm: Callable[[str], bool] | None = None,
    ) -> None:
        self._settings = settings
        self._confirm = confirm or _ask

    @property
    def settings(self) -> Settings:
        """The settings of this call."""
        return self._settings or Settings.resolve()

    # -- manifest ---------------------------------------------------------

    def models(self, repo: str = DEFAULT_REPO) -> list[ModelInfo]:
        """Every usable entry of ``repo``'s manifest, fetched (or, offline, from the cache).

        Online, the manifest is validated and then kept in the cache for
        offline use. Raises :class:`~hubtools.errors.DownloadError` when it
        cannot be fetched (404 with its URL), ManifestError when it is not a
        manifest, NotCachedError offline with no kept copy, UsageError for a
        bad ``repo``.
        """
        settings = self.settings
        repository = parse_repo(repo, settings)
        kept = _cache.manifest_path(settings.cache_dir, repository.key)
        if settings.offline:
            try:
                text = kept.read_text(encoding="utf-8")
            except FileNotFoundError:
                raise NotCachedError(
                    f"offline (HUBTOOLS_OFFLINE is set) and no manifest of {repo} is kept "
                    f"at {kept}; run once online, or unset HUBTOOLS_OFFLINE"
                ) from None
            return parse_manifest(text, str(kept))
        text = transport.fetch_text(repository.manifest_url, settings)
        infos = parse_manifest(text, repository.manifest_url)
        kept.parent.mkdir(parents=True, exist_ok=True)
        _cache.write_text_atomic(kept, text)
        return infos

    def list_models(
        self, repo: str = DEFAULT_REPO, model: str | None = None, tags: list[str] | None = None
    ) -> list[ModelInfo]:
        """Models named ``model`` (any case) having any of ``tags``; see :func:`list_models`."""
        matching = [
            m for m in self.models(repo) if model is None or m.model.lower() == model.lower()
        ]
        if tags is None:
            return matching
        wanted = {t.lower() for t in tags}
        return [m for m in matching if wanted & {t.lower() for t in m.tags}]

    def get_model_info(
        self, model: str, repo: str = DEFAULT_REPO, opset: int | None = None
    ) -> ModelInfo:
        """The entry of ``model`` with ``opset`` (highest when None); see :func:`get_model_info`."""
        matching = self.list_models(repo, model)
        if not matching:
            raise ModelNotFoundError(
                f"No models found with name {model} in {repo}; "
                "`hubtools list` shows the models it has"
            )
        if opset is None:
            return max(matching, key=lambda m: m.opset)
        selected = [m for m in matching if m.opset == opset]
        if not selected:
            valid = sorted({m.opset for m in matching})
            raise ModelNotFoundError(
                f"{model} has no version with opset {opset}. Valid opsets: {valid}"
            )
        return selected[0]

    # -- files --------------------------------------------------------------

    def _trusted(self, repository: Repository, trust_repo: bool) -> bool:
        if trust_repo or repository.official:
            return True
        settings = self.settings
        entries = set(settings.trusted_repos) | _cache.read_trusted(settings.cache_dir)
        if "*" in entries:
            return True
        names = {n.lower() for n in repository.trust_names}
        for entry in entries:
            if entry.lower().rstrip("/") in names:
                return True
            if repository.kind == "local" and Path(entry).expanduser().resolve() == Path(
                repository.trust_names[0]
            ):
                return True
        return False

    def _ensure_trust(self, repository: Repository, trust_repo: bool) -> bool:
        """True to go on, False when the user said no; raises when nobody can be asked."""
        if self._trusted(repository, trust_repo):
            return True
        name = repository.trust_names[0]
        trusted_list = _cache.trusted_file(self.settings.cache_dir)
        if _interactive():
            message = (
                f"The model repository {repository.spec} is not trusted and may contain "
                "security vulnerabilities. Only continue if you trust it."
            )
            if self._confirm(message):
                return True
            log.warning("not downloading from untrusted repository %s", repository.spec)
            return False
        raise UntrustedRepositoryError(
            f"repository {repository.spec} is not trusted and there is no terminal to ask; "
            f"trust it with trust_repo=True (hubtools download --trust), "
            f"HUBTOOLS_TRUSTED_REPOS={name}, or a line {name!r} in {trusted_list}"
        )

    def fetch(
        self,
        repo: str,
        model: str,
        path: str,
        sha: str | None,
        size: int | None,
        *,
        force_reload: bool = False,
        silent: bool = False,
        trust_repo: bool = False,
    ) -> Path | None:
        """The verified cache file of ``path`` in ``repo``, downloaded when needed.

        Returns None when the user declined to trust the repository. Raises
        ChecksumMismatchError (bytes do not match; nothing is kept under the
        final name), DownloadError, NotCachedError (offline and absent),
        UntrustedRepositoryError, ManifestError (unsafe path or sha).
        """
        settings = self.settings
        repository = parse_repo(repo, settings)
        target = _cache.cached_path(settings.cache_dir, path, sha)
        say = log.debug if silent else log.info
        if not force_reload and self._verified(target, sha, size, model):
            say("Using cached %s model from %s", model, target)
            return target
        if settings.offline:
            raise NotCachedError(
                f"offline (HUBTOOLS_OFFLINE is set) and {model} ({path}) is not in the cache "
                f"at {target}; unset HUBTOOLS_OFFLINE to download it"
            )
        if not self._ensure_trust(repository, trust_repo):
            return None
        url = repository.payload_url(path)
        with _cache.locked(target):
            # Another process may have fetched it while this one waited for the lock.
            if not force_reload and self._verified(target, sha, size, model):
                say("Using cached %s model from %s", model, target)
                return target
            say("Downloading %s to local path %s", model, target)

            def fetch(temp: Path) -> tuple[int, str]:
                got = transport.download_to(
                    url, temp, settings, expected_size=size, desc=Path(path).name
                )
                return got.size, got.sha256

            _cache.fetch_into_cache(target, fetch, sha=sha, size=size, what=f"{model} ({url})")
        return target

    def _verified(self, target: Path, sha: str | None, size: int | None, model: str) -> bool:
        """True when ``target`` exists and matches; a mismatching file is deleted."""
        from hubtools.errors import ChecksumMismatchError

        if not target.is_file():
            return False
        try:
            _cache.verify_file(target, sha, size, what=f"cached {model} ({target})")
        except ChecksumMismatchError as err:
            if self.settings.offline:
                raise
            log.warning("%s", err)
            return False
        return True

    def download_model(
        self,
        model: str,
        repo: str = DEFAULT_REPO,
        opset: int | None = None,
        force_reload: bool = False,
        silent: bool = False,
        *,
        trust_repo: bool = False,
    ) -> Path | None:
        """The verified cached ``.onnx`` file of ``model``; None when trust was declined.

        Raises what :meth:`get_model_info` and :meth:`fetch` raise.
        """
        info = self.get_model_info(model, repo, opset)
        return self.fetch(
            repo,
            info.model,
            info.model_path,
            info.model_sha,
            _opt_int(info.metadata.get("model_bytes")),
            force_reload=force_reload,
            silent=silent,
            trust_repo=trust_repo,
        )

    def download_model_with_test_data(
        self,
        model: str,
        repo: str = DEFAULT_REPO,
        opset: int | None = None,
        force_reload: bool = False,
        silent: bool = False,
        *,
        trust_repo: bool = False,
    ) -> Path | None:
        """Fetch and safely extract the test-data tarball; the folder with ``model.onnx``.

        Returns None when trust was declined. Raises ModelNotFoundError when
        the entry has no ``model_with_data_path``, UnsafeArchiveError for an
        unsafe or unreadable tarball, and what :meth:`fetch` raises.
        """
        info = self.get_model_info(model, repo, opset)
        path = _opt_str(info.metadata.get("model_with_data_path"))
        if path is None:
            raise ModelNotFoundError(
                f"{info.model} (opset {info.opset}) has no model_with_data_path in the "
                "manifest, so it has no test data"
            )
        archive_path = self.fetch(
            repo,
            info.model,
            path,
            _opt_str(info.metadata.get("model_with_data_sha")),
            _opt_int(info.metadata.get("model_with_data_bytes")),
            force_reload=force_reload,
            silent=silent,
            trust_repo=trust_repo,
        )
        if archive_path is None:
            return None
        name = archive_path.name
        for suffix in (".tar.gz", ".tgz", ".tar"):
            if name.endswith(suffix):
                name = name[: -len(suffix)]
                break
        else:
            name += ".d"
        dest = archive_path.with_name(name)
        with _cache.locked(dest):
            if force_reload or not dest.is_dir():
                archive.safe_extract(archive_path, dest)
        return archive.find_model_folder(dest)

    def load(
        self,
        model: str,
        repo: str = DEFAULT_REPO,
        opset: int | None = None,
        force_reload: bool = False,
        silent: bool = False,
        *,
        trust_repo: bool = False,
    ) -> onnx.ModelProto | None:
        """The model as an ``onnx.ModelProto``; None when trust was declined.

        Raises what :meth:`download_model` raises.
        """
        path = self.download_model(model, repo, opset, force_reload, silent, trust_repo=trust_repo)
        if path is None:
            return None
        import onnx

        return onnx.load(str(path))


# ---- the onnx.hub API -------------------------------------------------------


def set_dir(new_dir: str) -> None:
    """Sets the current ONNX hub cache location (wins over ``$ONNX_HOME`` and ``$XDG_CACHE_HOME``).

    Raises nothing.
    """
    config.set_dir(new_dir)


def get_dir() -> str:
    """Gets the current ONNX hub cache location, resolved now. Raises nothing."""
    return str(config.default_cache_dir())


def list_models(
    repo: str = DEFAULT_REPO,
    model: str | None = None,
    tags: list[str] | None = None,
) -> list[ModelInfo]:
    """Gets the list of model info consistent with a given name and tags.

    ``model`` matches names case-insensitively (None: all); ``tags`` keeps
    models having any of them (None: no filter). Raises DownloadError when
    the manifest cannot be fetched, ManifestError when it is unusable,
    NotCachedError offline without a kept manifest, UsageError for a bad repo.
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
) -> onnx.ModelProto | None:
    """Downloads a model by name from the model hub (or takes it from the cache) and loads it.

    Returns None when the user answered no to the trust prompt. Raises
    ChecksumMismatchError (an AssertionError) when the bytes do not match the
    manifest, UntrustedRepositoryError when the repository is not trusted and
    there is no terminal to ask, DownloadError, NotCachedError (offline),
    ModelNotFoundError, ManifestError, UsageError.
    """
    return Hub().load(model, repo, opset, force_reload, silent, trust_repo=trust_repo)


def download_model_with_test_data(
    model: str,
    repo: str = DEFAULT_REPO,
    opset: int | None = None,
    force_reload: bool = False,
    silent: bool = False,
    *,
    trust_repo: bool = False,
) -> str | None:
    """Downloads a model with its test data and returns the folder they were extracted to.

    The folder holds the ``.onnx`` file and ``test_data_set_*`` folders.
    Returns None when the user answered no to the trust prompt. Raises
    UnsafeArchiveError for a tarball with unsafe members, ModelNotFoundError
    when the entry has no test data, and what :func:`load` raises.
    """
    folder = Hub().download_model_with_test_data(
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

    preprocessing = load(
        preprocessing_model, preprocessing_repo, opset, force_reload, silent, trust_repo=trust_repo
    )
    if preprocessing is None:
        raise RuntimeError(f"Could not load the preprocessing model: {preprocessing_model}")
    network = load(network_model, network_repo, opset, force_reload, silent, trust_repo=trust_repo)
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
