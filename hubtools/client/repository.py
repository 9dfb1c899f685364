"""Where a manifest and its files come from: a repository specification
(``owner/name[:ref]``, an ``http(s)://`` base URL, a folder, or a packaged
alias) read into a :class:`Repository` with its URLs and trust names. It
never opens a URL or reads a file beyond asking whether a folder exists.
"""

from __future__ import annotations

import logging
import os
import re
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from hubtools.client.config import Settings
from hubtools.core.manifest import MANIFEST_NAME
from hubtools.errors import UsageError

__all__ = ["PACKAGED", "Repository", "parse_repo"]

log = logging.getLogger(__name__)

#: Repository aliases served from package data: spec -> (file under hubtools/data, payload ref).
PACKAGED = {"onnx/models:archive": ("onnx-models-archive.json", "main")}
_GITHUB_RE = re.compile(r"^([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)(?::([^\s?#]+))?$")


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
    packaged = PACKAGED.get(spec.strip().lower())
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
