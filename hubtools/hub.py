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
* files come from the first source that serves them: the repository's own
  host, then its mirrors (for ``onnx/models``, whose GitHub LFS files are
  gone, the Hugging Face copy of the zoo is built in); see
  :mod:`hubtools.client.config` to add or replace mirrors. :func:`last_download`
  says which source served a file, and it is logged at INFO;
* ``repo="onnx/models:archive"`` lists the whole archived zoo (legacy and
  new-layout models) from a manifest shipped with hubtools, without network;
* entries whose file is an archive (metadata ``"model_archive": "tar.gz"`` or
  ``"zip"``, ``model_path`` naming the archive, ``model_sha``/``model_bytes``
  its digest and size) are downloaded, verified, extracted safely beside the
  archive in the cache, and loaded from their single ``.onnx`` file with its
  external data;
* messages go to the ``hubtools`` logger instead of ``print``.
"""

from __future__ import annotations

import contextvars
import logging
import os
import re
import sys
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from hubtools.client import cache as _cache
from hubtools.client import config, transport
from hubtools.client.config import ARCHIVE_REPO, DEFAULT_REPO, Settings
from hubtools.core import archives as archive
from hubtools.core.files import write_atomic
from hubtools.core.manifest import MANIFEST_NAME, JSONObject, JSONValue, ModelEntry
from hubtools.core.paths import check_relative_path, check_sha
from hubtools.errors import (
    ChecksumMismatchError,
    DownloadError,
    HubtoolsError,
    ManifestError,
    ModelNotFoundError,
    NotCachedError,
    NoTestDataError,
    Report,
    UntrustedRepositoryError,
    UsageError,
    WrongContentError,
)

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

log = logging.getLogger(__name__)

#: Repository aliases served from package data: spec -> (file under hubtools/data, payload ref).
_PACKAGED = {"onnx/models:archive": ("onnx-models-archive.json", "main")}
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
    base), ``local`` (a folder, given as a path or ``file://`` URL) or
    ``packaged`` (an alias such as ``onnx/models:archive`` whose manifest
    ships with hubtools: ``manifest_url`` is then the file's name under
    ``hubtools/data``). ``key`` names it in the cache (with its ref);
    ``trust_names`` are the spellings a trusted-list entry may use for it;
    ``mirrors`` are the payload mirrors tried after ``payload_base``.
    """

    spec: str
    kind: str
    key: str
    manifest_url: str
    payload_base: str
    trust_names: tuple[str, ...]
    official: bool = False
    mirrors: tuple[str, ...] = ()

    def payload_url(self, model_path: str) -> str:
        """URL of a file of the repository on its own host, given its manifest path."""
        return self.payload_base + urllib.parse.quote(model_path, safe="/")

    def payload_urls(self, model_path: str) -> tuple[str, ...]:
        """The sources of a file, in the order they are tried: own host, then mirrors."""
        quoted = urllib.parse.quote(model_path, safe="/")
        urls = [self.payload_url(model_path)]
        for mirror in self.mirrors:
            if "{model_path}" in mirror:
                urls.append(mirror.replace("{model_path}", quoted))
            else:
                urls.append(f"{mirror.rstrip('/')}/{quoted}")
        return tuple(dict.fromkeys(urls))


def parse_repo(spec: str, settings: Settings | None = None) -> Repository:
    """Read a repository specification.

    ``http(s)://...`` is a base URL; ``file://...``, an absolute path or one
    starting with ``.``/``~`` is a local folder; ``owner/name[:ref]`` (ref
    defaults to ``main``) is a GitHub repository, unless it names an existing
    folder that holds a manifest, or names a folder and does not look like one. Raises
    :class:`~hubtools.errors.UsageError` when ``spec`` is none of these, or
    names a folder that does not exist.
    """
    settings = settings or Settings.resolve()
    if spec.startswith(("http://", "https://")):
        base = spec.rstrip("/") + "/"
        names: tuple[str, ...] = (spec.rstrip("/"),)
        mirrors = settings.mirrors_for(*names)
        return Repository(spec, "url", base, base + MANIFEST_NAME, base, names, False, mirrors)
    packaged = _PACKAGED.get(spec.strip().lower())
    if packaged is not None:
        resource, payload_ref = packaged
        owner_name, _, alias = spec.strip().lower().partition(":")
        return Repository(
            spec=spec,
            kind="packaged",
            key=f"packaged:{owner_name}:{alias}",
            manifest_url=resource,
            payload_base=f"{settings.github_media}/{owner_name}/{payload_ref}/",
            trust_names=(owner_name, f"{owner_name}:{alias}"),
            official=owner_name == "onnx/models",
            mirrors=settings.mirrors_for(f"{owner_name}:{alias}", owner_name),
        )
    path: Path | None = None
    if spec.startswith("file:"):
        path = Path(urllib.request.url2pathname(urllib.parse.urlsplit(spec).path))
    elif spec.startswith((".", "~")) or os.path.isabs(spec):
        path = Path(spec).expanduser()
    elif (Path(spec) / MANIFEST_NAME).is_file():
        # A folder that holds a manifest wins over the GitHub reading of the same
        # words: `hubtools list --repo fixtures/zoo` means the folder.
        log.info("using the local folder %s (it holds %s)", spec, MANIFEST_NAME)
        path = Path(spec)
    else:
        match = _GITHUB_RE.match(spec)
        if match:
            owner, name, ref = match.group(1), match.group(2), match.group(3) or "main"
            where = f"{owner}/{name}/{urllib.parse.quote(ref, safe='/')}"
            names = (f"{owner}/{name}".lower(), f"{owner}/{name}:{ref}".lower())
            return Repository(
                spec=spec,
                kind="github",
                key=f"github:{owner}/{name}:{ref}",
                manifest_url=f"{settings.github_raw}/{where}/{MANIFEST_NAME}",
                payload_base=f"{settings.github_media}/{where}/",
                trust_names=names,
                official=(owner.lower(), name.lower()) == ("onnx", "models"),
                mirrors=settings.mirrors_for(names[1], names[0]),
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
    names = (str(path), base)
    mirrors = settings.mirrors_for(*names, spec)
    return Repository(spec, "local", base, base + MANIFEST_NAME, base, names, False, mirrors)


@dataclass(frozen=True)
class Download:
    """Where a file of a repository came from, as :meth:`Hub.fetch_file` returns it.

    ``path`` is the verified file in the cache; ``source`` the URL that
    served it (for a file already cached: the cache path, with
    ``from_cache`` True); ``skipped`` one line per source tried before it
    that did not serve the file (404, Git LFS pointer, HTML page, wrong size
    or sha256, network failure).
    """

    model: str
    model_path: str
    path: Path
    source: str
    from_cache: bool
    skipped: tuple[str, ...] = ()


_last_download: contextvars.ContextVar[Download | None] = contextvars.ContextVar(
    "hubtools_last_download", default=None
)


def last_download() -> Download | None:
    """The :class:`Download` of the last file this thread (or task) fetched or found cached.

    After ``hub.load("mnist")``, ``hub.last_download().source`` is the URL
    that served the model (or the cache path). None before any fetch.
    Raises nothing.
    """
    return _last_download.get()


def _note(err: BaseException) -> str:
    """The first clause of an error message: a one-line note about a skipped source."""
    return str(err).split("; ", 1)[0]


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


def _refused_indices(report: Report, source: str) -> set[int]:
    """Indices of entries that have error problems; other errors are logged."""
    from hubtools.validate.checks import entry_index

    bad: set[int] = set()
    for problem in report.errors:
        index = entry_index(problem.location.pointer)
        if index is None:
            log.warning("%s: %s", source, problem)
        else:
            bad.add(index)
    return bad


def parse_manifest(text: str, source: str) -> list[ModelInfo]:
    """The usable entries of a manifest, validated; refused entries are logged as warnings.

    Runs the schema and semantic checks of :mod:`hubtools.validate.checks` (the text is
    parsed once), refuses entries with errors, and, as defense in depth, entries
    whose paths or sha256 could escape the cache. Raises
    :class:`~hubtools.errors.ManifestError` when the text is not a JSON array.
    """
    # Imported here: jsonschema costs ~0.1 s and only a fetched manifest needs it.
    from hubtools.core.jsonfile import parse_json
    from hubtools.validate.checks import check_document

    doc = parse_json(text, source)  # ManifestError with line and column when not JSON
    result = check_document(doc)
    data = doc.data
    if result.manifest is None or not isinstance(data, list):
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
        infos.append(ModelInfo(cast("JSONObject", raw)))
    return infos


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


def _archive_kind(info: ModelInfo) -> str | None:
    """``tar.gz`` or ``zip`` for an archive entry, None for a plain ``.onnx`` one.

    Raises ManifestError for another ``model_archive`` value.
    """
    kind = info.metadata.get("model_archive")
    if kind is None:
        return None
    if kind not in archive.MODEL_ARCHIVE_FORMATS:
        raise ManifestError(
            f"{info.model} ({info.model_path}): metadata model_archive {kind!r} is not one "
            f"of {', '.join(archive.MODEL_ARCHIVE_FORMATS)}; hubtools cannot unpack it"
        )
    return str(kind)


def _opt_str(value: JSONValue) -> str | None:
    return value if isinstance(value, str) else None


def _opt_int(value: JSONValue) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class Hub:
    """The client behind the module functions, with explicit settings.

    ``Hub()`` resolves :class:`~hubtools.client.config.Settings` at each call;
    ``Hub(settings)`` uses the given ones. ``confirm`` asks the user whether
    to trust a repository (default: a prompt on the terminal). ``mirrors``
    maps repositories to payload mirror lists, over every other setting (see
    :mod:`hubtools.client.config`; ``"default"`` in a list stands for the mirrors it
    replaces). ``last_download`` is the :class:`Download` of this client's
    last fetch.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        confirm: Callable[[str], bool] | None = None,
        mirrors: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self._settings = settings
        self._confirm = confirm or _ask
        self._mirrors = dict(mirrors) if mirrors is not None else None
        self.last_download: Download | None = None

    @property
    def settings(self) -> Settings:
        """The settings of this call. Raises UsageError for an unusable setting."""
        if self._settings is None:
            return Settings.resolve(mirrors=self._mirrors)
        if self._mirrors is not None:
            return self._settings.with_mirrors(self._mirrors, "mirrors argument")
        return self._settings

    # -- manifest ---------------------------------------------------------

    def models(self, repo: str = DEFAULT_REPO) -> list[ModelInfo]:
        """Every usable entry of ``repo``'s manifest, fetched (or, offline, from the cache).

        Online, the manifest is validated and then kept in the cache for
        offline use; when it cannot be fetched (network down, server error after
        the retries), the kept copy is used with a warning. Raises
        :class:`~hubtools.errors.DownloadError` when it cannot be fetched and no
        copy is kept, or on a 404 (with its URL), ManifestError when it is not a
        manifest, NotCachedError offline with no kept copy, UsageError for a
        bad ``repo``.
        """
        settings = self.settings
        repository = parse_repo(repo, settings)
        kept = _cache.manifest_path(settings.cache_dir, repository.key)
        if repository.kind == "packaged":
            return self._packaged_models(repository, kept)
        if settings.offline:
            try:
                text = kept.read_text(encoding="utf-8")
            except FileNotFoundError:
                raise NotCachedError(
                    f"offline (HUBTOOLS_OFFLINE is set) and no manifest of {repo} is kept "
                    f"at {kept}; run once online, or unset HUBTOOLS_OFFLINE"
                ) from None
            return parse_manifest(text, str(kept))
        try:
            text = transport.fetch_text(repository.manifest_url, settings)
        except WrongContentError:
            raise  # a 404 or not a manifest: the repository changed, a kept copy would hide it
        except DownloadError as err:
            # The network or the server is down: what was fetched before still works,
            # as a model hub client is expected to (HUBTOOLS_OFFLINE skips the attempt).
            try:
                text = kept.read_text(encoding="utf-8")
            except FileNotFoundError:
                raise err from None
            log.warning(
                "cannot fetch the manifest of %s (%s); using the copy kept at %s",
                repo,
                err,
                kept,
            )
            return parse_manifest(text, str(kept))
        infos = parse_manifest(text, repository.manifest_url)
        kept.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(kept, text, keep_mode=False)
        return infos

    def _packaged_models(self, repository: Repository, kept: Path) -> list[ModelInfo]:
        """The entries of a manifest shipped in ``hubtools/data``; no network, works offline.

        A copy is kept in the cache like any fetched manifest, so that
        ``hubtools cache prune`` knows its files are in use.
        """
        from importlib import resources

        resource = resources.files("hubtools").joinpath("data").joinpath(repository.manifest_url)
        try:
            text = resource.read_text(encoding="utf-8")
        except OSError as err:
            raise ManifestError(
                f"{repository.spec}: the manifest shipped with hubtools ({resource}) cannot "
                f"be read: {err}; reinstall hubtools"
            ) from err
        infos = parse_manifest(text, f"{repository.spec} (hubtools/data/{repository.manifest_url})")
        try:
            same = kept.read_text(encoding="utf-8") == text
        except OSError:
            same = False
        if not same:
            try:
                kept.parent.mkdir(parents=True, exist_ok=True)
                write_atomic(kept, text, keep_mode=False)
            except OSError as err:  # a read-only cache still lists the models
                log.debug("cannot keep %s: %s", kept, err)
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

    def fetch_file(
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
    ) -> Download | None:
        """Make sure the cache holds ``path`` of ``repo`` with ``sha``; say where it came from.

        The sources are tried in order (the repository's own host, then its
        mirrors); one that does not serve the file is skipped with a one-line
        note in the log, and the first whose bytes have the manifest's size
        and sha256 wins. The result is also kept as :attr:`last_download`
        and returned by :func:`last_download`. Returns None when the user
        declined to trust the repository.

        Raises ChecksumMismatchError when no source served the right bytes
        and at least one served wrong ones (nothing is kept under the final
        name), DownloadError when none served the file (with one note per
        source; with a single source, that source's own error),
        NotCachedError (offline and absent), UntrustedRepositoryError,
        ManifestError (unsafe path or sha), UsageError (bad ``repo``).
        """
        settings = self.settings
        repository = parse_repo(repo, settings)
        target = _cache.cached_path(settings.cache_dir, path, sha)
        say = log.debug if silent else log.info
        if not force_reload and self._verified(target, sha, size, model):
            say("Using cached %s model from %s", model, target)
            return self._record(Download(model, path, target, str(target), True))
        if settings.offline:
            raise NotCachedError(
                f"offline (HUBTOOLS_OFFLINE is set) and {model} ({path}) is not in the cache "
                f"at {target}; unset HUBTOOLS_OFFLINE to download it"
            )
        if not self._ensure_trust(repository, trust_repo):
            return None
        urls = repository.payload_urls(path)
        with _cache.locked(target):
            # Another process may have fetched it while this one waited for the lock.
            if not force_reload and self._verified(target, sha, size, model):
                say("Using cached %s model from %s", model, target)
                return self._record(Download(model, path, target, str(target), True))
            say("Downloading %s to local path %s", model, target)
            skipped: list[str] = []
            errors: list[HubtoolsError] = []
            for n, url in enumerate(urls, 1):
                label = "its host" if n == 1 else f"mirror {n - 1}"
                try:
                    self._fetch_from(url, target, path, sha, size, settings, f"{model} ({url})")
                except (DownloadError, ChecksumMismatchError) as err:
                    errors.append(err)
                    skipped.append(f"{label}: {_note(err)}")
                    if n < len(urls):
                        level = (
                            logging.WARNING
                            if isinstance(err, ChecksumMismatchError)
                            else logging.INFO
                        )
                        log.log(level, "%s: skipped %s: %s", model, label, _note(err))
                    continue
                say("%s: %s served by %s", model, Path(path).name, url)
                return self._record(Download(model, path, target, url, False, tuple(skipped)))
        if len(errors) == 1:
            raise errors[0]
        notes = "; ".join(f"({i}) {note}" for i, note in enumerate(skipped, 1))
        kind = (
            ChecksumMismatchError
            if any(isinstance(e, ChecksumMismatchError) for e in errors)
            else DownloadError
        )
        raise kind(
            f"{model} ({path}): none of the {len(urls)} sources served a file with the "
            f"manifest's size and sha256, so nothing was accepted: {notes}; add a mirror that "
            "serves it (HUBTOOLS_MIRRORS) or retry later"
        ) from errors[-1]

    @staticmethod
    def _fetch_from(
        url: str,
        target: Path,
        path: str,
        sha: str | None,
        size: int | None,
        settings: Settings,
        what: str,
    ) -> None:
        def fetch(temp: Path) -> tuple[int, str]:
            got = transport.download_to(
                url, temp, settings, expected_size=size, desc=Path(path).name
            )
            return got.size, got.sha256

        _cache.fetch_into_cache(target, fetch, sha=sha, size=size, what=what)

    def _record(self, download: Download) -> Download:
        self.last_download = download
        _last_download.set(download)
        return download

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

        For an archive entry (metadata ``model_archive``: ``tar.gz`` or
        ``zip``), the archive is fetched and verified by its sha256, extracted
        safely into ``<sha>_<name>`` beside it in the cache (again after each
        new download), and the path of the single ``.onnx`` file inside is
        returned; its external data sits beside it. Raises what
        :meth:`get_model_info` and :meth:`fetch_file` raise, and for archives
        UnsafeArchiveError (unsafe or unreadable archive), ModelNotFoundError
        (no or several ``.onnx`` files inside) and ManifestError (unknown
        ``model_archive`` kind).
        """
        info = self.get_model_info(model, repo, opset)
        kind = _archive_kind(info)
        got = self.fetch_file(
            repo,
            info.model,
            info.model_path,
            info.model_sha,
            _opt_int(info.metadata.get("model_bytes")),
            force_reload=force_reload,
            silent=silent,
            trust_repo=trust_repo,
        )
        if got is None or kind is None:
            return None if got is None else got.path
        dest = _cache.extracted_folder(got.path)
        with _cache.locked(dest):
            if not got.from_cache or not dest.is_dir():
                archive.safe_extract(got.path, dest)
        return archive.find_single_model(dest, f"{info.model} ({info.model_path})")

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
        unsafe or unreadable tarball, and what :meth:`fetch_file` raises.
        """
        info = self.get_model_info(model, repo, opset)
        path = _opt_str(info.metadata.get("model_with_data_path"))
        if path is None:
            raise NoTestDataError(
                f"{info.model} (opset {info.opset}) has no model_with_data_path in the "
                "manifest, so it has no test data"
            )
        got = self.fetch_file(
            repo,
            info.model,
            path,
            _opt_str(info.metadata.get("model_with_data_sha")),
            _opt_int(info.metadata.get("model_with_data_bytes")),
            force_reload=force_reload,
            silent=silent,
            trust_repo=trust_repo,
        )
        if got is None:
            return None
        archive_path = got.path
        dest = _cache.extracted_folder(archive_path)
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

        An archive entry is loaded from its extracted ``.onnx`` file with the
        external data beside it (see :meth:`download_model`);
        :attr:`last_download` says which source served the file. Raises what
        :meth:`download_model` raises.
        """
        path = self.download_model(model, repo, opset, force_reload, silent, trust_repo=trust_repo)
        if path is None:
            return None
        import onnx

        # onnx.load reads external data relative to the model's own folder.
        return onnx.load(str(path))


# ---- the onnx.hub API -------------------------------------------------------


def _hub(repo: str, mirrors: Sequence[str] | None) -> Hub:
    """A client with ``mirrors`` (if given) as the mirror list of ``repo``."""
    if mirrors is None:
        return Hub()
    if isinstance(mirrors, str):
        mirrors = [mirrors]
    return Hub(mirrors={repo: list(mirrors)})


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
    mirrors: Sequence[str] | None = None,
) -> onnx.ModelProto | None:
    """Downloads a model by name from the model hub (or takes it from the cache) and loads it.

    ``mirrors`` replaces the payload mirrors of ``repo`` for this call
    (``"default"`` in the list stands for the configured ones); afterwards
    :func:`last_download` says which source served the file. An archive
    entry (``model_archive`` in its metadata) is extracted and loaded with
    its external data. Returns None when the user answered no to the trust
    prompt. Raises
    ChecksumMismatchError (an AssertionError) when the bytes do not match the
    manifest, UntrustedRepositoryError when the repository is not trusted and
    there is no terminal to ask, DownloadError, NotCachedError (offline),
    ModelNotFoundError, ManifestError, UsageError.
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
    UnsafeArchiveError for a tarball with unsafe members, ModelNotFoundError
    when the entry has no test data, and what :func:`load` raises.
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
