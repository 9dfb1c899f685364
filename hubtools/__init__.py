"""hubtools: generate, validate and consume ONNX model hub manifests."""

from __future__ import annotations

from hubtools.core.manifest import IOPort, IOPorts, Manifest, Metadata, ModelEntry
from hubtools.errors import (
    ArchiveLayoutError,
    ChecksumMismatchError,
    DownloadError,
    ExtractionRefusedError,
    FileReadError,
    FileWriteError,
    HTTPStatusError,
    HubtoolsError,
    InvalidModelError,
    LinkError,
    LinkEscapesError,
    LinkIsURLError,
    Location,
    ManifestError,
    ManifestUnavailableError,
    ModelNotFoundError,
    NotCachedError,
    NoTestDataError,
    NotServedError,
    Problem,
    Report,
    Severity,
    UnreachableError,
    UnsafeArchiveError,
    UnsafePathError,
    UntrustedRepositoryError,
    UsageError,
    WrongContentError,
    WrongFileError,
    WrongSizeError,
)

__version__ = "0.1.0"

__all__ = [
    "ArchiveLayoutError",
    "ChecksumMismatchError",
    "DownloadError",
    "ExtractionRefusedError",
    "FileFacts",
    "FileReadError",
    "FileWriteError",
    "HTTPStatusError",
    "HubtoolsError",
    "IOPort",
    "IOPorts",
    "InvalidModelError",
    "LinkError",
    "LinkEscapesError",
    "LinkIsURLError",
    "Location",
    "Manifest",
    "ManifestError",
    "ManifestUnavailableError",
    "Metadata",
    "ModelEntry",
    "ModelNotFoundError",
    "NoTestDataError",
    "NotCachedError",
    "NotServedError",
    "Problem",
    "Report",
    "Severity",
    "UnreachableError",
    "UnsafeArchiveError",
    "UnsafePathError",
    "UntrustedRepositoryError",
    "UsageError",
    "ValidationResult",
    "WrongContentError",
    "WrongFileError",
    "WrongSizeError",
    "__version__",
    "diff_manifests",
    "generate_manifest",
    "hub",
    "inspect_file",
    "validate_manifest",
]


# Imported on first use, so `import hubtools` stays light (no onnx, requests, git).
_LAZY = {
    "hub": ("hubtools.hub", None),
    "validate_manifest": ("hubtools.validate.checks", "validate_manifest"),
    "ValidationResult": ("hubtools.validate.checks", "ValidationResult"),
    "generate_manifest": ("hubtools.generate.pipeline", "generate_manifest"),
    "inspect_file": ("hubtools.inspect.facts", "inspect_file"),
    "FileFacts": ("hubtools.inspect.facts", "FileFacts"),
    "diff_manifests": ("hubtools.core.diff", "diff_manifests"),
}


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module 'hubtools' has no attribute {name!r}")
    import importlib

    module_name, attribute = _LAZY[name]
    module = importlib.import_module(module_name)
    return module if attribute is None else getattr(module, attribute)
