"""A repository's manifest as the client sees it: fetched (or kept, or shipped
with hubtools), validated once, and turned into :class:`ModelInfo` objects
that wrap the typed entries.

A manifest that can be fetched is kept in the cache for offline use; when the
network is down the kept copy is used with a warning. Entries with errors are
refused one by one, with a warning, so one bad entry does not hide the rest;
what ``onnx.hub`` used as it was is not refused: entries without ``model_sha``
or ``model_bytes`` (validate warns about them), and entries that repeat a
name and opset or a path (a warning says which one a name resolves to).
Nothing here downloads model files or decides trust.
"""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path
from typing import cast

from hubtools.client import cache, locks, transport
from hubtools.client.cache import warn_once
from hubtools.client.config import Settings
from hubtools.client.repository import Repository
from hubtools.core.files import write_atomic
from hubtools.core.manifest import JSONObject, ModelEntry
from hubtools.core.paths import check_relative_path, check_sha
from hubtools.errors import (
    DownloadError,
    ManifestError,
    ManifestUnavailableError,
    NotCachedError,
    Report,
    WrongContentError,
)

__all__ = ["ModelInfo", "load_models", "parse_manifest"]

log = logging.getLogger(__name__)


class ModelInfo:
    """A model's properties and metadata from a hub manifest, as ``onnx.hub.ModelInfo``.

    Attributes: ``model`` (name), ``model_path`` (relative to the repository
    root), ``metadata`` (the entry's metadata object), ``model_sha`` (sha256
    or None), ``tags`` (a set), ``opset`` and ``raw_model_info`` (the whole
    entry), as ``onnx.hub`` had them; plus ``entry``, the typed
    :class:`~hubtools.core.manifest.ModelEntry` (None only when the raw entry
    given does not make one). A plain class rather than a frozen dataclass,
    because ``onnx.hub`` built it from the raw entry as
    ``ModelInfo(raw_model_info)``.

    Raises KeyError when ``model``, ``model_path`` or ``opset_version`` is missing.
    """

    def __init__(self, raw_model_info: JSONObject, *, entry: ModelEntry | None = None) -> None:
        self.model = cast("str", raw_model_info["model"])
        self.model_path = cast("str", raw_model_info["model_path"])
        self.metadata = cast("JSONObject", raw_model_info.get("metadata") or {})
        self.opset = cast("int", raw_model_info["opset_version"])
        self.raw_model_info: JSONObject = raw_model_info
        if entry is None:
            try:
                entry = ModelEntry.from_json(raw_model_info)
            except ManifestError:
                entry = None  # a partial entry built by hand: the onnx.hub fields still work
        self.entry = entry
        self.model_sha: str | None = None
        self.tags: set[str] = set()
        if entry is not None:
            self.model_sha = entry.metadata.model_sha
            self.tags = set(entry.metadata.tags)
        else:
            if "model_sha" in self.metadata:
                self.model_sha = cast("str", self.metadata["model_sha"])
            if "tags" in self.metadata:
                self.tags = set(cast("list[str]", self.metadata["tags"]))

    def __str__(self) -> str:
        return (
            f"ModelInfo(model={self.model}, opset={self.opset}, "
            f"path={self.model_path}, metadata={self.metadata})"
        )

    def __repr__(self) -> str:
        return self.__str__()


#: Errors of validate that do not refuse an entry: ``onnx.hub`` used such
#: manifests as they were (a repeated name resolves to the first entry).
_TOLERATED = frozenset({"duplicate-model", "duplicate-path"})


def _refused_indices(report: Report, source: str) -> set[int]:
    """Indices of entries that have error problems (but those of :data:`_TOLERATED`);
    other errors are logged."""
    from hubtools.validate.checks import entry_index

    bad: set[int] = set()
    for problem in report.errors:
        if problem.code in _TOLERATED:
            continue
        index = entry_index(problem.location.pointer)
        if index is None:
            log.warning("%s: %s", source, problem)
        else:
            bad.add(index)
    return bad


def _check_entry(entry: ModelEntry) -> None:
    """Defense in depth: paths and digests must not be able to leave the cache."""
    md = entry.metadata
    check_relative_path(entry.model_path, "model_path")
    if md.model_sha is not None:
        check_sha(md.model_sha, "model_sha")
    if md.model_with_data_path is not None:
        check_relative_path(md.model_with_data_path, "model_with_data_path")
    if md.model_with_data_sha is not None:
        check_sha(md.model_with_data_sha, "model_with_data_sha")


def parse_manifest(text: str, source: str) -> list[ModelInfo]:
    """The usable entries of a manifest, validated; refused entries are logged as warnings.

    Runs the validator's schema and semantic checks (the text is parsed
    once), refuses entries with errors, and, as defense in depth, entries
    whose paths or sha256 could escape the cache. Raises
    :class:`~hubtools.errors.ManifestError` when the text is not a JSON array.
    """
    # Imported here: jsonschema costs ~0.1 s and only a fetched manifest needs it.
    from hubtools.core.jsonfile import parse_json
    from hubtools.validate.checks import check_document

    doc = parse_json(text, source)  # ManifestError with line and column when not JSON
    result = check_document(doc)
    data = doc.data
    if result.valid is None or not isinstance(data, list):
        shown = "; ".join(str(p) for p in result.report.errors[:5]) or "not a manifest"
        raise ManifestError(f"{source}: {shown}")
    bad = _refused_indices(result.report, source)
    infos = []
    for i, raw in enumerate(data):
        if i in bad:
            log.warning("%s: entry /%d refused: it has schema or check errors", source, i)
            continue
        try:
            entry = ModelEntry.from_json(raw, f"/{i}")
            _check_entry(entry)
        except ManifestError as err:
            log.warning("%s: entry /%d refused: %s", source, i, err)
            continue
        infos.append(ModelInfo(cast("JSONObject", raw), entry=entry))
    _warn_repeated(infos, source)
    return infos


def _warn_repeated(infos: list[ModelInfo], source: str) -> None:
    """Warn (once per process) about entries that share a name (any case) and an
    opset: all are listed, and a lookup gives the first, as in ``onnx.hub``."""
    groups: dict[tuple[str, int], list[ModelInfo]] = {}
    for info in infos:
        groups.setdefault((info.model.lower(), info.opset), []).append(info)
    for (name, opset), same in groups.items():
        if len(same) < 2:
            continue
        paths = ", ".join(repr(i.model_path) for i in same)
        warn_once(
            f"repeated:{source}:{name}:{opset}",
            "%s: %d entries are model %r at opset %d (names match in any case: %s); all "
            "are listed, and asking for it gives the first, %r at %s, as onnx.hub did; "
            "the hub should rename or remove the others",
            source,
            len(same),
            same[0].model,
            opset,
            paths,
            same[0].model,
            same[0].model_path,
        )


def _read_kept(kept: Path, *, any_error: bool = False) -> str | None:
    """The kept manifest's text; None when there is none (or, with
    ``any_error``, when it cannot be read). Raises OSError otherwise."""
    try:
        return kept.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError:
        if any_error:
            return None
        raise


def load_models(repository: Repository, settings: Settings) -> list[ModelInfo]:
    """Every usable entry of ``repository``'s manifest.

    Online, the manifest is fetched, validated and kept in the cache for
    offline use; when it cannot be fetched (network or server down after the
    retries) the kept copy is used with a warning. Offline, only the kept copy
    is read, but for a folder repository, whose manifest needs no network. A
    packaged alias reads the copy shipped with hubtools. Raises
    :class:`~hubtools.errors.ManifestUnavailableError` (a DownloadError and an
    AssertionError, as ``onnx.hub`` raised) when it cannot be fetched and no
    copy is kept, or on a 404 (with its URL), ManifestError when it is not a
    manifest, NotCachedError offline with no kept copy.
    """
    kept = cache.manifest_path(settings.cache_dir, repository.key)
    if repository.kind == "packaged":
        return _packaged_models(repository, kept)
    if settings.offline and repository.kind != "local":
        text = _read_kept(kept)
        if text is None:
            why, fix = settings.offline_reason()
            raise NotCachedError(
                f"offline ({why}) and no manifest of {repository.spec} is "
                f"kept at {kept}; run once online, or {fix}"
            )
        return parse_manifest(text, str(kept))
    try:
        text = transport.fetch_text(repository.manifest_url, settings)
    except WrongContentError as err:
        # A 404 or not a manifest: the repository changed, a kept copy would hide it.
        raise _unavailable(repository, err) from err
    except DownloadError as err:
        # The network or the server is down: what was fetched before still works,
        # as a model hub client is expected to (HUBTOOLS_OFFLINE skips the attempt).
        kept_text = _read_kept(kept)
        if kept_text is None:
            raise _unavailable(repository, err) from err
        log.warning(
            "cannot fetch the manifest of %s (%s); using the copy kept at %s",
            repository.spec,
            err,
            kept,
        )
        return parse_manifest(kept_text, str(kept))
    infos = parse_manifest(text, repository.manifest_url)
    _keep(kept, text)
    return infos


def _unavailable(repository: Repository, err: DownloadError) -> ManifestUnavailableError:
    """The error for a manifest that cannot be had, worded as ``onnx.hub`` began it."""
    return ManifestUnavailableError(f"Could not find manifest of {repository.spec}: {err}")


def _keep(kept: Path, text: str, level: int = logging.WARNING) -> None:
    """Keep ``text`` at ``kept`` for offline use, when it differs from what is kept.

    Under the file's lock, so that ``cache prune`` never removes a write in
    progress. A cache that cannot be written still lists the models: the
    copy is then not kept, with a message at ``level`` saying where and what
    to do.
    """
    if _read_kept(kept, any_error=True) == text:
        return
    try:
        with locks.locked(kept):
            write_atomic(kept, text, keep_mode=False)
    except OSError as err:
        if not cache.is_read_only(err):
            raise
        log.log(
            level,
            "cannot keep the manifest at %s for offline use: the cache is read-only (%s); "
            "make it writable, or point ONNX_HOME (--cache-dir) at a writable folder",
            kept,
            err.strerror,
        )


def _packaged_models(repository: Repository, kept: Path) -> list[ModelInfo]:
    """The entries of a manifest shipped in ``hubtools/data``; no network, works offline.

    A copy is kept in the cache like any fetched manifest, so that
    ``hubtools cache prune`` knows its files are in use.
    """
    resource = resources.files("hubtools").joinpath("data").joinpath(repository.manifest_url)
    try:
        text = resource.read_text(encoding="utf-8")
    except OSError as err:
        raise ManifestError(
            f"{repository.spec}: the manifest shipped with hubtools ({resource}) cannot "
            f"be read: {err}; reinstall hubtools"
        ) from err
    infos = parse_manifest(text, f"{repository.spec} (hubtools/data/{repository.manifest_url})")
    _keep(kept, text, logging.DEBUG)  # only for prune: the shipped copy is always there
    return infos
