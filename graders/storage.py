"""Checks on persistent volume claims and storage classes."""

from __future__ import annotations

from breakers.storage import DEFAULT_CLASS, is_default
from breakfix.errors import ClusterError
from breakfix.kube import Kube
from breakfix.results import CheckResult, failed, passed


def pvc_bound(kube: Kube, name: str, namespace: str = "default") -> CheckResult:
    """The claim is Bound to a volume."""
    try:
        pvc = kube.get("v1", "PersistentVolumeClaim", name, namespace)
    except ClusterError as exc:
        return CheckResult("error", f"cannot read PersistentVolumeClaim {namespace}/{name}: {exc}")
    if pvc is None:
        return failed(f"PersistentVolumeClaim {namespace}/{name} does not exist")
    phase = (pvc.get("status") or {}).get("phase", "Pending")
    if phase == "Bound":
        return passed(f"PersistentVolumeClaim {namespace}/{name} is Bound to {pvc['spec'].get('volumeName')}")
    return failed(
        f"PersistentVolumeClaim {namespace}/{name} is {phase} (storage class: {pvc['spec'].get('storageClassName')})",
        f"kubectl -n {namespace} describe pvc {name}; kubectl get storageclass,pv",
    )


def one_default_class(kube: Kube) -> CheckResult:
    """Exactly one StorageClass is the cluster's default (claims without a class get it)."""
    try:
        classes = kube.list("storage.k8s.io/v1", "StorageClass")
    except ClusterError as exc:
        return CheckResult("error", f"cannot list StorageClasses: {exc}")
    defaults = sorted(sc["metadata"]["name"] for sc in classes if is_default(sc))
    if len(defaults) == 1:
        return passed(f"StorageClass {defaults[0]} is the default")
    if not defaults:
        return failed(
            "no StorageClass is the default: claims that name none wait forever",
            f"kubectl annotate storageclass NAME {DEFAULT_CLASS}=true --overwrite",
        )
    return failed(f"{len(defaults)} StorageClasses claim to be the default: {', '.join(defaults)}")
