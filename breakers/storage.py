"""Breakers for storage classes and claims."""

from __future__ import annotations

from breakfix.changes import ChangeLog
from breakfix.kube import Kube

DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"


def unset_default_classes(changes: ChangeLog, kube: Kube) -> None:
    """Make every default StorageClass a non-default one (undo puts each back as it was)."""
    for sc in kube.list("storage.k8s.io/v1", "StorageClass"):
        if (sc["metadata"].get("annotations") or {}).get(DEFAULT_CLASS) == "true":
            patch = {"metadata": {"annotations": {DEFAULT_CLASS: "false"}}}
            changes.patch_object("storage.k8s.io/v1", "StorageClass", sc["metadata"]["name"], None, patch)


def set_default_class(changes: ChangeLog, name: str) -> None:
    """Mark a StorageClass as the cluster's default."""
    patch = {"metadata": {"annotations": {DEFAULT_CLASS: "true"}}}
    changes.patch_object("storage.k8s.io/v1", "StorageClass", name, None, patch)
