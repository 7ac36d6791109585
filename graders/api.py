"""Checks on the API server and on sentinel objects."""

from __future__ import annotations

from breakfix.context import SessionState
from breakfix.errors import ClusterError
from breakfix.kube import Kube
from breakfix.results import CheckResult, failed, passed


def reachable(kube: Kube) -> CheckResult:
    """The API server answers."""
    try:
        version = kube.version()
    except ClusterError as exc:
        return failed(f"the API server does not answer: {exc}", "Is kube-apiserver running? Check its static pod.")
    return passed(f"the API server answers ({version.get('gitVersion', '?')})")


def unreachable(kube: Kube) -> CheckResult:
    """The API server does NOT answer (confirms an outage)."""
    try:
        kube.version()
    except ClusterError as exc:
        return passed(f"the API server does not answer: {exc}")
    return failed("the API server still answers")


def sentinel_intact(kube: Kube, state: SessionState, name: str, namespace: str = "default") -> CheckResult:
    """The sentinel created at setup still exists with the same UID (the data survived)."""
    uid = state.get(f"sentinel:{namespace}/{name}")
    if uid is None:
        return CheckResult("error", f"no UID was recorded for sentinel {namespace}/{name} at setup")
    obj = kube.get("v1", "ConfigMap", name, namespace)
    if obj is None:
        return failed(
            f"ConfigMap {namespace}/{name} is gone: the cluster lost its data",
            "The objects are not deleted; the store the API server reads may not be the real one.",
        )
    if obj["metadata"]["uid"] != uid:
        return failed(
            f"ConfigMap {namespace}/{name} was recreated (UID {obj['metadata']['uid']}, expected {uid})",
            "Recreating objects is not the same as bringing the data back.",
        )
    return passed(f"ConfigMap {namespace}/{name} survived with its UID")


def sentinel_missing(kube: Kube, name: str, namespace: str = "default") -> CheckResult:
    """The API answers but the sentinel is not there (confirms lost state)."""
    try:
        obj = kube.get("v1", "ConfigMap", name, namespace)
    except ClusterError as exc:
        return failed(f"the API server does not answer yet: {exc}")
    if obj is not None:
        return failed(f"ConfigMap {namespace}/{name} is still visible")
    return passed(f"the API server answers without ConfigMap {namespace}/{name}")


def kubernetes_endpoints(kube: Kube, node_ip: str) -> CheckResult:
    """The `kubernetes` Service's endpoints point at the control plane's real address."""
    slices = kube.list(
        "discovery.k8s.io/v1", "EndpointSlice", "default", label_selector="kubernetes.io/service-name=kubernetes"
    )
    addresses = sorted({a for s in slices for e in s.get("endpoints") or [] for a in e.get("addresses") or []})
    if addresses == [node_ip]:
        return passed(f"default/kubernetes points at {node_ip}")
    return failed(
        f"default/kubernetes points at {', '.join(addresses) or 'nothing'}, not {node_ip}",
        "In-cluster clients reach the API through this Service; what address does the API server advertise?",
    )
