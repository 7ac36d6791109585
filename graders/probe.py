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
from breakfix.transport.node import Node

PROBE_LABEL = "breakfix.dev/probe"


def _pod_spec(image: str, cluster: ClusterSpec, name: str = "pause") -> dict[str, Any]:
    container: dict[str, Any] = {"name": name, "image": image}
    if cluster.pull_policy:
        container["imagePullPolicy"] = cluster.pull_policy
    return {"containers": [container], "terminationGracePeriodSeconds": 0, "tolerations": [{"operator": "Exists"}]}


def _probe_pod(name: str, namespace: str, purpose: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {PROBE_LABEL: purpose}},
        "spec": spec,
    }


def _wait(what: float, probe: Any, poll: float = 1.0) -> Any:
    deadline = time.monotonic() + what
    while True:
        value = probe()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(poll)


def new_pods_scheduled(
    kube: Kube, images: dict[str, str], cluster: ClusterSpec, wait_for: Seconds = 30.0, namespace: str = "default"
) -> CheckResult:
    """A new pod is assigned to a node within WAIT_FOR seconds (the scheduler is working)."""
    name = f"breakfix-probe-{uuid.uuid4().hex[:8]}"
    pod = _probe_pod(name, namespace, "schedule", _pod_spec(images["pause"], cluster))
    try:
        kube.create(pod)
        try:
            node = _wait(
                wait_for, lambda: ((kube.get("v1", "Pod", name, namespace) or {}).get("spec") or {}).get("nodeName")
            )
        finally:
            kube.delete("v1", "Pod", name, namespace)
    except BreakfixError as exc:
        return CheckResult("error", f"could not run the scheduling probe: {exc}")
    if node:
        return passed(f"a new pod was scheduled (to {node})")
    return failed(
        f"a new pod got no node within {wait_for:.0f}s",
        "kubectl describe pod shows no Scheduled event: is kube-scheduler running? Read its log.",
    )


def controllers_reconcile(
    kube: Kube, images: dict[str, str], cluster: ClusterSpec, wait_for: Seconds = 30.0, namespace: str = "default"
) -> CheckResult:
    """A new ReplicaSet gets its pod within WAIT_FOR seconds (the controllers are working)."""
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
            pods = _wait(wait_for, lambda: kube.list("v1", "Pod", namespace, label_selector=selector))
        finally:
            kube.delete("apps/v1", "ReplicaSet", name, namespace)
            for pod in kube.list("v1", "Pod", namespace, label_selector=selector):
                kube.delete("v1", "Pod", pod["metadata"]["name"], namespace)
    except BreakfixError as exc:
        return CheckResult("error", f"could not run the controller probe: {exc}")
    if pods:
        return passed("a new ReplicaSet got its pod: the controllers are reconciling")
    return failed(
        f"a new ReplicaSet got no pod within {wait_for:.0f}s",
        "Controllers create pods for ReplicaSets: is kube-controller-manager running? Read its log.",
    )


def dns_resolves(
    kube: Kube,
    images: dict[str, str],
    cluster: ClusterSpec,
    name: str = "kubernetes.default.svc.cluster.local",
    wait_for: Seconds = 60.0,
    namespace: str = "default",
) -> CheckResult:
    """A new pod resolves NAME through the cluster's DNS (a throwaway pod runs nslookup)."""
    pod_name = f"breakfix-probe-{uuid.uuid4().hex[:8]}"
    spec = _pod_spec(images["shell"], cluster, "dns")
    spec["containers"][0]["command"] = ["nslookup", name]
    spec["restartPolicy"] = "Never"
    pod = _probe_pod(pod_name, namespace, "dns", spec)

    def finished() -> str | None:
        phase = ((kube.get("v1", "Pod", pod_name, namespace) or {}).get("status") or {}).get("phase")
        return phase if phase in ("Succeeded", "Failed") else None

    try:
        kube.create(pod)
        try:
            phase = _wait(wait_for, finished, poll=2.0)
        finally:
            kube.delete("v1", "Pod", pod_name, namespace)
    except BreakfixError as exc:
        return CheckResult("error", f"could not run the DNS probe: {exc}")
    if phase == "Succeeded":
        return passed(f"a pod resolves {name}")
    if phase is None:
        return failed(f"the DNS probe pod did not finish within {wait_for:.0f}s", "Do new pods start at all?")
    return failed(
        f"a pod cannot resolve {name}",
        "kubectl -n kube-system get pods,endpointslices -l k8s-app=kube-dns: who answers the kube-dns Service?",
    )


def _pod_trouble(kube: Kube, name: str, namespace: str) -> str:
    """The newest warning event of pod NAME (e.g. "failed to setup network for sandbox"), or ""."""
    events = [
        e
        for e in kube.list("v1", "Event", namespace)
        if (e.get("involvedObject") or {}).get("name") == name and e.get("type") == "Warning"
    ]
    if not events:
        return ""
    newest = max(events, key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or ""))
    text = str(newest.get("message") or newest.get("reason") or "").strip()
    return (text.splitlines() or [""])[0][:240]


def pod_network(
    kube: Kube,
    node: Node,
    images: dict[str, str],
    cluster: ClusterSpec,
    pod_node: str,
    wait_for: Seconds = 60.0,
    answer_within: Seconds = 15.0,
    namespace: str = "default",
) -> CheckResult:
    """A new web pod on node POD_NODE gets an address that answers HTTP from NODE (the pod network works there)."""
    name = f"breakfix-probe-{uuid.uuid4().hex[:8]}"
    spec = _pod_spec(images["web"], cluster, "web")
    spec["nodeName"] = pod_node  # straight to the node: no scheduler, no taint keeps it off
    pod = _probe_pod(name, namespace, "network", spec)

    def address() -> str | None:
        status = (kube.get("v1", "Pod", name, namespace) or {}).get("status") or {}
        running = any("running" in (c.get("state") or {}) for c in status.get("containerStatuses") or [])
        return status.get("podIP") if running else None

    try:
        kube.create(pod)
        try:
            ip = _wait(wait_for, address, poll=2.0)
            trouble = "" if ip else _pod_trouble(kube, name, namespace)
            answer = None if not ip else _wait(answer_within, lambda: _http_ok(node, ip), poll=3.0)
        finally:
            kube.delete("v1", "Pod", name, namespace)
    except BreakfixError as exc:
        return CheckResult("error", f"could not run the pod network probe: {exc}")
    if not ip:
        return failed(
            f"a new pod on {pod_node} got no running container and address within {wait_for:.0f}s"
            + (f": {trouble}" if trouble else ""),
            f"Pods on {pod_node}: kubectl describe, read the Events. On the node: ls /etc/cni/net.d; "
            "journalctl -u containerd",
        )
    if not answer:
        return failed(
            f"a new pod on {pod_node} got {ip}, but {node.name} cannot reach it",
            f"Does {ip} lie in {pod_node}'s pod range (kubectl get node {pod_node} -o jsonpath='{{.spec.podCIDR}}')?",
        )
    return passed(f"a new pod on {pod_node} got {ip} and answers from {node.name}")


def _http_ok(node: Node, ip: str) -> bool:
    """NODE gets an HTTP answer from port 80 of IP."""
    result = node.run("curl -sS -o /dev/null -w '%%{http_code}' -m 5 %s", f"http://{ip}:80/")
    return result.ok and result.stdout.strip().startswith(("2", "3"))
