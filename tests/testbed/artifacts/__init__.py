"""Test bed binaries (Kubernetes, etcd, kwok, ...) built from Go modules and cached by version."""

from tests.testbed.artifacts.build import (
    COMPONENTS,
    DEFAULT_COMPONENTS,
    artifacts_dir,
    binary,
    build,
    cache_root,
    component,
    kind_base_files,
    kwok_stages,
    missing,
)

__all__ = [
    "COMPONENTS",
    "DEFAULT_COMPONENTS",
    "artifacts_dir",
    "binary",
    "build",
    "cache_root",
    "component",
    "kind_base_files",
    "kwok_stages",
    "missing",
]
