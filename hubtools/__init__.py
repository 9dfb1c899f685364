"""hubtools: generate, validate and consume ONNX model hub manifests."""

from __future__ import annotations

from hubtools.errors import (
    ChecksumMismatchError,
    DownloadError,
    HubtoolsError,
    InvalidModelError,
    Location,
    ManifestError,
    ModelNotFoundError,
    NotCachedError,
    Problem,
    Report,
    Severity,
    UnsafeArchiveError,
    UntrustedRepositoryError,
    UsageError,
)
from hubtools.manifest import IOPort, IOPorts, Manifest, Metadata, ModelEntry

__version__ = "0.1.0"

__all__ = [
    "ChecksumMismatchError",
    "DownloadError",
    "HubtoolsError",
    "IOPort",
    "IOPorts",
    "InvalidModelError",
    "Location",
    "Manifest",
    "ManifestError",
    "Metadata",
    "ModelEntry",
    "ModelNotFoundError",
    "NotCachedError",
    "Problem",
    "Report",
    "Severity",
    "UnsafeArchiveError",
    "UntrustedRepositoryError",
    "UsageError",
    "__version__",
    "hub",
]


def __getattr__(name: str) -> object:
    # `hubtools.hub` is imported on first use, so `import hubtools` stays light.
    if name == "hub":
        import importlib

        return importlib.import_module("hubtools.hub")
    raise AttributeError(f"module 'hubtools' has no attribute {name!r}")
