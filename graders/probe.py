"""Checks that create a throwaway object and watch the control plane act on it (then delete it)."""

from __future__ import annotations

import time
import uuid
from typing import Any

from breakfix.durations import Seconds
from breakfix.errors import BreakfixError
from breakfix.inventory import ClusterSpec
from breakfix.kube import Kube
from breakfix.results import CheckResult, failed, passed

PROBE_LABEL = "breakfix.dev/probe"


def _pod_spec(image: str, cluster: ClusterSpec, name: str = "pause") -> dict[str, Any]:
    container: dict[str, Any] = {"name": name, "image": image}
    if cluster.pull_policy:
        container["imagePullPolicy"] = cluster.pull_policy
    return {"containers": [container], "terminationGracePeriodSeconds": 0, "tolerations": [{"operator": "Exists"}]}


def _wait(what: float, probe: Any, poll: float = 1.0) -> Any:
    deadline = time.monotonic() + what
    while True:
        value = probe()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(poll)


def new_pods_scheduled(
    kube: Kube, images: dict[str, str], cluster: ClusterSpec, within: Seconds = 30.0, namespace: str = "default"
) -> CheckResult:
    """A new pod is assigned to a node within WITHIN seconds (the scheduler is working)."""
    name = f"breakfix-probe-{uuid.uuid4().hex[:8]}"
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {PROBE_LABEL: "schedule"}},
        "spec": _pod_spec(images["pause"], cluster),
    }
    try:
        kube.create(pod)
        try:
            node = _wait(
                within, lambda: ((kube.get("v1", "Pod", name, namespace) or {}).get("spec") or {}).get("nodeName")
            )
        finally:
            kube.delete("v1", "Pod", name, namespace)
    except BreakfixError as exc:
        return CheckResult("error", f"could not run the scheduling probe: {exc}")
    if node:
        return passed(f"a new pod was scheduled (to {node})")
    return failed(
        f"a new pod got no node within {within:.0f}s",
        "kubectl describe pod shows no Scheduled event: is kube-scheduler running? Read its log.",
    )


def controllers_reconcile(
    kube: Kube, images: dict[str, str], cluster: ClusterSpec, within: Seconds = 30.0, namespace: str = "default"
) -> CheckResult:
    """A new ReplicaSet gets its pod within WITHIN seconds (kube-controller-manager is working)."""
    name = f"breakfix-probe-{uuid.uuid4().hex[:8]}"
    labels = {PROBE_LABEL: "reconcile", "breakfix.dev/probe-id": name}
    rs = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name, "namespace": namespace, "labels": {PROBE_LABEL: "reconcile"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": _pod_spec(images["pause"], cluster)},
        },
    }
    selector = f"breakfix.dev/probe-id={name}"
    try:
        kube.create(rs)
        try:
            pods = _wait(within, lambda: kube.list("v1", "Pod", namespace, label_selector=selector))
        finally:
            kube.delete("apps/v1", "ReplicaSet", name, namespace)
            for pod in kube.list("v1", "Pod", namespace, label_selector=selector):
                kube.delete("v1", "Pod", pod["metadata"]["name"], namespace)
    except BreakfixError as exc:
        return CheckResult("error", f"could not run the controller probe: {exc}")
    if pods:
        return passed("a new ReplicaSet got its pod: the controllers are reconciling")
    return failed(
        f"a new ReplicaSet got no pod within {within:.0f}s",
        "Controllers create pods for ReplicaSets: is kube-controller-manager running? Read its log.",
    )


def dns_resolves(
    kube: Kube,
    images: dict[str, str],
    cluster: ClusterSpec,
    name: str = "kubernetes.default.svc.cluster.local",
    within: Seconds = 60.0,
    namespace: str = "default",
) -> CheckResult:
    """A new pod resolves NAME through the cluster's DNS (a throwaway pod runs nslookup)."""
    pod_name = f"breakfix-probe-{uuid.uuid4().hex[:8]}"
    spec = _pod_spec(images["shell"], cluster, "dns")
    spec["containers"][0]["command"] = ["nslookup", name]
    spec["restartPolicy"] = "Never"
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": pod_name, "namespace": namespace, "labels": {PROBE_LABEL: "dns"}},
        "spec": spec,
    }

    def finished() -> str | None:
        phase = ((kube.get("v1", "Pod", pod_name, namespace) or {}).get("status") or {}).get("phase")
        return phase if phase in ("Succeeded", "Failed") else None

    try:
        kube.create(pod)
        try:
            phase = _wait(within, finished, poll=2.0)
        finally:
            kube.delete("v1", "Pod", pod_name, namespace)
    except BreakfixError as exc:
        return CheckResult("error", f"could not run the DNS probe: {exc}")
    if phase == "Succeeded":
        return passed(f"a pod resolves {name}")
    if phase is None:
        return failed(f"the DNS probe pod did not finish within {within:.0f}s", "Do new pods start at all?")
    return failed(
        f"a pod cannot resolve {name}",
        "kubectl -n kube-system get pods,endpointslices -l k8s-app=kube-dns: who answers the kube-dns Service?",
    )
