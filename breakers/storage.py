"""Breakers for storage classes and claims."""

from __future__ import annotations

from typing import Any

from breakfix.changes import ChangeLog
from breakfix.kube import Kube

DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
#: The older spelling, which Kubernetes still honours: either annotation "true" makes a class the default.
BETA_DEFAULT_CLASS = "storageclass.beta.kubernetes.io/is-default-class"
DEFAULT_ANNOTATIONS = (DEFAULT_CLASS, BETA_DEFAULT_CLASS)


def is_default(storage_class: dict[str, Any]) -> bool:
    """Whether Kubernetes treats a StorageClass as the default (either annotation says "true")."""
    annotations = storage_class.get("metadata", {}).get("annotations") or {}
    return any(annotations.get(a) == "true" for a in DEFAULT_ANNOTATIONS)


def unset_default_classes(changes: ChangeLog, kube: Kube) -> None:
    """Make every default StorageClass a non-default one (undo puts each back as it was)."""
    for sc in kube.list("storage.k8s.io/v1", "StorageClass"):
        if is_default(sc):
            annotations = sc["metadata"]["annotations"]
            patch = {"metadata": {"annotations": {a: "false" for a in DEFAULT_ANNOTATIONS if a in annotations}}}
            changes.patch_object("storage.k8s.io/v1", "StorageClass", sc["metadata"]["name"], None, patch)


def set_default_class(changes: ChangeLog, name: str, beta: bool = False) -> None:
    """Mark a StorageClass as the cluster's default (BETA: with the older annotation, still honoured)."""
    patch = {"metadata": {"annotations": {BETA_DEFAULT_CLASS if beta else DEFAULT_CLASS: "true"}}}
    changes.patch_object("storage.k8s.io/v1", "StorageClass", name, None, patch)
