"""The collector of the zoo's 2023 layout: one folder per model,
``<Category>/<name>_Opset<N>_<author>/``, holding one artifact (an ``.onnx``
file, or a ``.tar.gz``/``.zip`` with the model and its external data) and the
``turnkey_stats.yaml`` that the TurnkeyML exporter wrote beside it. It turns
each folder into a :class:`~hubtools.generate.collectors.base.Candidate` and
reports bad folders as warnings; it must not raise on bad input, and it never
reads model files (their facts are the generator's job).
"""

from __future__ import annotations

import functools
import posixpath
import re
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from hubtools.core.archives import archive_format
from hubtools.core.manifest import JSONValue
from hubtools.errors import Location, Problem
from hubtools.generate.collectors.base import Candidate, CollectResult, read_source
from hubtools.generate.collectors.base import warning as _warn
from hubtools.generate.repo import RepoFiles
from hubtools.inspect.releases import onnx_release_for_opset

STATS_FILE = "turnkey_stats.yaml"
_FOLDER = re.compile(r"^(?P<name>.+)_Opset(?P<opset>\d+)_(?P<author>[^/]+)$")
# Top-level keys the collector reads; the others (builds, system_info with its
# package lists, onnx_ops_counter) are most of each file and are not parsed.
_WANTED = (
    "author",
    "builtin_model_script",
    "class",
    "model_name",
    "onnx_input_dimensions",
    "onnx_model_information",
    "parameters",
    "task",
)
_TOP_KEY = re.compile(r"^([A-Za-z_][\w .-]*):(?:\s|$)")


#: The largest turnkey_stats.yaml read: 48 times the ONNX Model Zoo's largest
#: (5.3 KB); a larger one is refused from its size, before it is read.
MAX_STATS_BYTES = 256 * 1024
# Integers must fit in 64 bits, as JSON readers and ONNX's int64 fields need;
# a longer digit string is refused before int() sees it (int() of thousands of
# digits is slow, and Python refuses more than 4300).
_MAX_INT = 2**63 - 1
_MAX_INT_CHARS = 64
#: The deepest nesting of lists and mappings read (TurnkeyML writes 4 levels).
MAX_DEPTH = 1000


class YamlError(ValueError):
    """A turnkey_stats.yaml the collector refuses, with its 1-based line, the
    problem code and how to fix it."""

    def __init__(
        self,
        message: str,
        line: int | None,
        code: str = "yaml-invalid",
        hint: str = "fix the YAML, or regenerate it with TurnkeyML",
    ) -> None:
        super().__init__(message)
        self.line = line
        self.code = code
        self.hint = hint


@functools.cache
def _loader() -> Any:
    """The safe loader (the C one, ~10x faster, where libyaml is there) with
    integers bounded to 64 bits.

    PyYAML is imported here, not at the top: a repository without
    turnkey_stats.yaml files never needs it (it takes ~20 ms to import).
    """
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class BoundedLoader(base):  # type: ignore[misc,valid-type]
        pass

    def construct_int(loader: Any, node: Any) -> int:
        text = str(node.value)
        value = None
        if len(text) <= _MAX_INT_CHARS:
            value = yaml.constructor.SafeConstructor.construct_yaml_int(loader, node)
        if value is None or abs(value) > _MAX_INT:
            shown = text if len(text) <= 20 else f"{text[:20]}... ({len(text)} characters)"
            raise YamlError(
                f"the number {shown} does not fit in 64 bits",
                node.start_mark.line + 1,
                "yaml-number",
                "write the number TurnkeyML measured; no count or opset is this large",
            )
        return int(value)

    BoundedLoader.add_constructor("tag:yaml.org,2002:int", construct_int)
    return BoundedLoader


def _yaml_load(text: str) -> Any:
    import yaml

    return yaml.load(text, Loader=_loader())


def _refusal(text: str) -> YamlError | None:
    """Why ``text`` is refused before it is loaded: the first alias (``*name``),
    or nesting deeper than :data:`MAX_DEPTH`; None when neither.

    An alias repeats a value without its bytes: a few KB of aliases fed to a
    value the manifest copies make it megabytes. TurnkeyML never writes one,
    so any alias refuses the file: no threshold to tune or get around, and
    what a file can put in the manifest stays within its own size. Nesting:
    libyaml's composer recurses once per level and crashes the process
    (a segmentation fault, not an exception) some 50,000 levels down.

    The scan reads parser events, which neither expand aliases nor recurse;
    it runs only when the text could hold either (a ``*``, or more ``[{-?:``
    than :data:`MAX_DEPTH`, since every level opens with one of them).
    """
    if "*" not in text and sum(text.count(c) for c in "[{-?:") <= MAX_DEPTH:
        return None
    import yaml

    depth = 0
    try:
        for event in yaml.parse(text, Loader=_loader()):
            mark = event.start_mark
            line = mark.line + 1 if mark is not None else None
            if isinstance(event, yaml.AliasEvent):
                name = str(event.anchor)
                shown = name if len(name) <= 20 else f"{name[:20]}..."
                return YamlError(
                    f"uses the YAML alias *{shown}, which repeats another value; "
                    "turnkey_stats.yaml files may not use aliases",
                    line,
                    "yaml-alias",
                    "write each value out in full, as TurnkeyML does",
                )
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    return YamlError(
                        f"nests lists and mappings more than {MAX_DEPTH} levels deep",
                        line,
                        "yaml-too-deep",
                        "regenerate the file with TurnkeyML, which nests a few levels",
                    )
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        return None  # loading reports it, with its line
    return None


def _fast_blocks(text: str) -> str | None:
    """The text of the wanted top-level keys only, or None when the file's shape
    is not the plain block mapping TurnkeyML writes (then it is parsed whole)."""
    keep: list[str] = []
    taking = False
    for line in text.splitlines(keepends=True):
        if not line.strip() or line.startswith((" ", "-", "#")):
            if taking:
                keep.append(line)
            continue
        match = _TOP_KEY.match(line)
        if match is None:
            return None
        taking = match.group(1) in _WANTED
        if taking:
            keep.append(line)
    return "".join(keep)


def load_stats(text: str) -> dict[str, Any]:
    """The facts of a turnkey_stats.yaml that the collector uses.

    Raises:
        YamlError: the text is not YAML or not a mapping, uses an alias, nests
            deeper than :data:`MAX_DEPTH` or holds an integer beyond 64 bits
            (with the line and problem code).
    """
    from yaml import YAMLError

    refusal = _refusal(text)
    if refusal is not None:
        raise refusal
    fast = _fast_blocks(text)
    if fast is not None:
        try:
            data = _yaml_load(fast)
        except (YAMLError, YamlError):
            data = None  # parse the whole file below, for the right line number
        if isinstance(data, dict):
            return data
    try:
        data = _yaml_load(text)
    except YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise YamlError(f"not valid YAML: {problem}", line) from err
    if not isinstance(data, dict):
        raise YamlError("not a YAML mapping of keys to values", 1)
    return data


def _words(text: str) -> str:
    return text.replace("_", " ").strip().lower()


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _dims(value: object) -> JSONValue:
    """``onnx_input_dimensions`` as JSON: input name -> list of ints."""
    if not isinstance(value, Mapping):
        return None
    out: dict[str, JSONValue] = {}
    for name, dims in value.items():
        if isinstance(dims, list) and all(_int(d) is not None for d in dims):
            out[str(name)] = list(dims)
    return out


def read_folder(
    stats_file: str, text: str, folder_files: list[str]
) -> tuple[Candidate | None, list[Problem]]:
    """One folder's candidate entry, or None with the reason as a warning."""
    folder = posixpath.dirname(stats_file)
    problems: list[Problem] = []
    try:
        stats = load_stats(text)
    except YamlError as err:
        problems.append(
            _warn(err.code, f"{err}; the folder was skipped", stats_file, err.line, err.hint)
        )
        return None, problems
    info = stats.get("onnx_model_information")
    info = info if isinstance(info, Mapping) else {}
    opset = _int(info.get("opset"))
    name, author = stats.get("model_name"), stats.get("author")
    if not isinstance(name, str) or not isinstance(author, str) or opset is None or opset < 1:
        problems.append(
            _warn(
                "turnkey-incomplete",
                "needs model_name, author and onnx_model_information.opset; the folder was skipped",
                stats_file,
                None,
                "regenerate the file with TurnkeyML",
            )
        )
        return None, problems
    problems.extend(_folder_name_problems(stats_file, name, opset, author))
    artifact = _artifact(stats_file, folder_files)
    if isinstance(artifact, Problem):
        problems.append(artifact)
        return None, problems
    release = onnx_release_for_opset(opset)
    if release is None:
        problems.append(
            _warn(
                "opset-unknown",
                f"opset {opset} is newer than every release the installed onnx knows; "
                "the folder was skipped",
                stats_file,
                None,
                "upgrade the onnx package",
            )
        )
        return None, problems
    fmt = archive_format(artifact, model_archive=True)
    archive = fmt.name if fmt is not None else None
    model = Candidate(
        model=f"{name}_{author}",
        model_path=artifact,
        rename="change model_name or author in one of the turnkey_stats.yaml files",
        onnx_version=release,
        opset_version=opset,
        tags=_tags(folder, author, stats),
        model_with_data_path=None,
        location=Location(stats_file),
        metadata=_metadata(stats, info, author, archive),
        archive=archive,
    )
    return model, problems


def _folder_name_problems(stats_file: str, name: str, opset: int, author: str) -> list[Problem]:
    """A warning when the folder's name does not say the YAML's name, opset and author."""
    base = posixpath.basename(posixpath.dirname(stats_file))
    folder_match = _FOLDER.match(base)
    if folder_match is None:
        return [
            _warn(
                "turnkey-folder-name",
                f"folder {base!r} is not named <name>_Opset<N>_<author>; its YAML facts were used",
                stats_file,
                None,
                f"rename the folder to {name}_Opset{opset}_{author}",
            )
        ]
    said = (folder_match["name"], int(folder_match["opset"]), folder_match["author"])
    if said == (name, opset, author):
        return []
    return [
        _warn(
            "turnkey-folder-mismatch",
            f"folder name says {folder_match['name']!r}, opset "
            f"{folder_match['opset']}, author {folder_match['author']!r}; the YAML says "
            f"{name!r}, opset {opset}, author {author!r}; the YAML was used",
            stats_file,
            None,
            "rename the folder or fix the YAML",
        )
    ]


def _artifact(stats_file: str, folder_files: list[str]) -> str | Problem:
    """The one model artifact beside ``stats_file``, or the warning that there is not one."""
    folder = posixpath.dirname(stats_file)
    artifacts = sorted(
        f
        for f in folder_files
        if (f.endswith(".onnx") or archive_format(f, model_archive=True) is not None)
        and posixpath.dirname(f) == folder
    )
    if len(artifacts) == 1:
        return artifacts[0]
    what = "no model file" if not artifacts else f"{len(artifacts)} model files"
    return _warn(
        "turnkey-artifact",
        f"{what} (.onnx, .tar.gz or .zip) beside it; the folder was skipped",
        stats_file,
        None,
        "keep exactly one model artifact in each model folder",
    )


def _tags(folder: str, author: str, stats: Mapping[str, Any]) -> tuple[str, ...]:
    """The category in words, the author, the task in words, the model class."""
    tags = [_words(folder.split("/", 1)[0]), author]
    task = stats.get("task")
    if isinstance(task, str) and _words(task) not in tags:
        tags.append(_words(task))
    model_class = stats.get("class")
    if isinstance(model_class, str) and model_class and model_class not in tags:
        tags.append(model_class)
    return tuple(tags)


def _metadata(
    stats: Mapping[str, Any], info: Mapping[str, Any], author: str, archive: str | None
) -> tuple[tuple[str, JSONValue], ...]:
    """The extra metadata fields from the YAML, in a fixed order (see the class)."""
    metadata: list[tuple[str, JSONValue]] = [("author", author)]
    model_class = stats.get("class")
    if isinstance(model_class, str):
        metadata.append(("model_class", model_class))
    if _int(stats.get("parameters")) is not None:
        metadata.append(("parameters", stats["parameters"]))
    if _int(info.get("ir_version")) is not None:
        metadata.append(("ir_version", info["ir_version"]))
    dims = _dims(stats.get("onnx_input_dimensions"))
    if dims:
        metadata.append(("input_dimensions", dims))
    if isinstance(stats.get("builtin_model_script"), str):
        metadata.append(("source", stats["builtin_model_script"]))
    if archive is not None:
        metadata.append(("model_archive", archive))
    return tuple(metadata)


def _read_stats(repo: RepoFiles, stats_file: str) -> str | Problem:
    """A turnkey_stats.yaml's text, or the warning that it was not read (see
    :func:`~hubtools.generate.collectors.base.read_source`)."""
    return read_source(
        repo,
        stats_file,
        limit=MAX_STATS_BYTES,
        code="yaml",
        kind="a turnkey_stats.yaml",
        outcome="the folder was skipped",
        hint="regenerate the file with TurnkeyML",
    )


def stats_files(
    repo: RepoFiles, *, include_skipped: bool
) -> tuple[list[str], list[str], dict[str, list[str]]]:
    """The turnkey_stats.yaml files to read, the ``skip/`` ones left out, and
    the files of each folder (one pass over the repository's files)."""
    by_folder: dict[str, list[str]] = defaultdict(list)
    found: list[str] = []
    skipped: list[str] = []
    for path in repo.files:
        folder = posixpath.dirname(path)
        by_folder[folder].append(path)
        if posixpath.basename(path) == STATS_FILE:
            if not include_skipped and "skip" in folder.split("/"):
                skipped.append(path)
            else:
                found.append(path)
    return sorted(found), sorted(skipped), by_folder


class TurnkeyCollector:
    """The :class:`~hubtools.generate.collectors.base.Collector` of new-layout model folders.

    Entries (also described in the README, under "What `generate` collects"):

    * ``model`` is ``<model_name>_<author>`` (the folder name without its opset
      part), so it never collides with a legacy README entry (those have no
      author suffix) nor with the same architecture from another author; the
      opsets of one model share the name and are told apart by ``opset_version``;
    * ``opset_version`` comes from the YAML (``onnx_model_information.opset``),
      cross-checked with the folder name;
    * ``onnx_version`` is *derived*: the first ONNX release whose default-domain
      opset is at least ``opset_version``, from the ``onnx`` package's own release
      table (:data:`onnx.helper.VERSION_TABLE`);
    * tags: the category in words (``computer vision``), the author, the task in
      words when it differs from the category, and the model class;
    * metadata keys from the YAML (described in the schema): ``author``,
      ``model_class``, ``parameters``, ``ir_version``, ``input_dimensions``,
      ``source``; and ``model_archive`` (``"tar.gz"`` or ``"zip"``) when the
      artifact is an archive, whose ``model_sha``/``model_bytes`` are then the
      archive's.

    Folders under a ``skip/`` folder are left out unless ``include_skipped``.
    """

    name = "turnkey"

    def __init__(self, *, include_skipped: bool = False) -> None:
        self.include_skipped = include_skipped

    def collect(self, repo: RepoFiles) -> CollectResult:
        """One candidate per ``turnkey_stats.yaml`` folder; never raises on bad input.

        The result's ``left_out`` holds the artifacts of the folders left out:
        under ``skip/`` (said in a note) or skipped with a warning.
        """
        files, skipped, by_folder = stats_files(repo, include_skipped=self.include_skipped)
        candidates: list[Candidate] = []
        problems: list[Problem] = []
        left_out = [f for s in skipped for f in _artifacts(s, by_folder)]
        for stats_file in files:
            text = _read_stats(repo, stats_file)
            model: Candidate | None = None
            if isinstance(text, Problem):
                problems.append(text)
            else:
                model, found = read_folder(
                    stats_file, text, by_folder.get(posixpath.dirname(stats_file), [])
                )
                problems.extend(found)
            if model is not None:
                candidates.append(model)
            else:
                left_out.extend(_artifacts(stats_file, by_folder))
        count = len(skipped)
        notes = (
            (
                f"{count} model folder{'s' if count != 1 else ''} under skip/ "
                f"{'were' if count != 1 else 'was'} left out (--include-skipped takes them)",
            )
            if count
            else ()
        )
        return CollectResult(
            tuple(candidates),
            tuple(problems),
            tuple(files),
            notes,
            left_out=tuple(left_out),
            matched=bool(files or skipped),
        )


def _artifacts(stats_file: str, by_folder: Mapping[str, list[str]]) -> list[str]:
    """The model files beside a turnkey_stats.yaml."""
    folder = posixpath.dirname(stats_file)
    return [
        f
        for f in by_folder.get(folder, [])
        if f.endswith(".onnx") or archive_format(f, model_archive=True) is not None
    ]
