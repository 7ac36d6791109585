"""Checks on Services, their endpoints and the workloads behind them."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from breakfix.context import SessionState
from breakfix.errors import ClusterError
from breakfix.kube import Kube
from breakfix.results import CheckResult, failed, passed
from breakfix.transport.node import Node
from graders._images import pinned_to, qualified, repository


def _selector_string(match_labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(match_labels.items()))


def _pods(kube: Kube, match_labels: dict[str, str], namespace: str) -> list[dict[str, Any]]:
    """Live (not terminating) pods matching labels."""
    pods = kube.list("v1", "Pod", namespace, label_selector=_selector_string(match_labels))
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


#: The label the EndpointSlice controller puts on the slices it keeps in step with a Service's selector.
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
SLICE_CONTROLLER = "endpointslice-controller.k8s.io"


def ready_pod_ips(kube: Kube, match_labels: dict[str, str], namespace: str) -> set[str]:
    """The addresses of the live, Ready pods matching labels."""
    ips = set()
    for pod in _pods(kube, match_labels, namespace):
        status = pod.get("status") or {}
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
        if ready and status.get("podIP"):
            ips.add(status["podIP"])
    return ips


def _slices(kube: Kube, service: str, namespace: str) -> list[dict[str, Any]]:
    return kube.list(
        "discovery.k8s.io/v1", "EndpointSlice", namespace, label_selector=f"kubernetes.io/service-name={service}"
    )


def endpoint_ips(kube: Kube, service: str, namespace: str, managed_only: bool = False) -> set[str]:
    """The ready addresses in a Service's EndpointSlices (MANAGED_ONLY: those the controller keeps)."""
    slices = _slices(kube, service, namespace)
    if managed_only:
        slices = [s for s in slices if (s["metadata"].get("labels") or {}).get(MANAGED_BY) == SLICE_CONTROLLER]
    return {
        addr
        for s in slices
        for e in s.get("endpoints") or []
        if (e.get("conditions") or {}).get("ready", True)
        for addr in e.get("addresses") or []
    }


def endpoints_match(kube: Kube, service: str, deployment: str, namespace: str = "default") -> CheckResult:
    """The Service's own selector sends traffic to exactly the ready pods of the Deployment, and to some."""
    svc = kube.get("v1", "Service", service, namespace)
    if svc is None:
        return failed(f"Service {namespace}/{service} does not exist")
    dep = kube.get("apps/v1", "Deployment", deployment, namespace)
    if dep is None:
        return failed(f"Deployment {namespace}/{deployment} does not exist")
    selector = (svc.get("spec") or {}).get("selector") or {}
    if not selector:
        return failed(
            f"Service {service} has no selector: nothing keeps its endpoints in step with {deployment}'s pods",
            "Endpoints written by hand go stale as soon as a pod is replaced.",
        )
    by_hand = sorted(
        s["metadata"]["name"]
        for s in _slices(kube, service, namespace)
        if (s["metadata"].get("labels") or {}).get(MANAGED_BY) != SLICE_CONTROLLER
    )
    if by_hand:
        return failed(
            f"Service {service} has endpoints that no controller keeps in step with the pods "
            f"(EndpointSlice {', '.join(by_hand)})",
            "Endpoints written by hand go stale as soon as a pod is replaced.",
        )
    if not _pods(kube, selector, namespace):
        return failed(
            f"Service {service} has no endpoints: its selector {selector} matches no pod",
            "Compare the Service's selector with the labels on the pods.",
        )
    template_labels = ((dep["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {}
    if not selector.items() <= template_labels.items():
        return failed(
            f"Service {service}'s selector {selector} does not match {deployment}'s pod template",
            "Pods labelled by hand lose the label when they are replaced; select the template's labels.",
        )
    for other in kube.list("apps/v1", "Deployment", namespace):
        labels = ((other["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {}
        if other["metadata"]["name"] != deployment and selector.items() <= labels.items():
            return failed(
                f"Service {service}'s selector also matches the pods of {other['metadata']['name']}",
                "A selector can match more than you meant, even while that workload is scaled down.",
            )
    dep_pods = {p["metadata"]["name"] for p in _pods(kube, dep["spec"]["selector"].get("matchLabels") or {}, namespace)}
    strays = sorted(
        p["metadata"]["name"] for p in _pods(kube, selector, namespace) if p["metadata"]["name"] not in dep_pods
    )
    if strays:
        return failed(
            f"Service {service}'s selector also matches {len(strays)} pod(s) outside {deployment}: "
            f"{', '.join(strays[:3])}",
            "A selector can match more than you meant.",
        )
    want = ready_pod_ips(kube, dep["spec"]["selector"].get("matchLabels") or {}, namespace)
    have = endpoint_ips(kube, service, namespace, managed_only=True)
    if not want:
        return failed(f"Deployment {deployment} has no ready pods")
    if have == want:
        return passed(f"Service {service} routes to the {len(want)} ready pods of {deployment}")
    if not have:
        return failed(
            f"Service {service} has no endpoints", "Compare the Service's selector with the labels on the pods."
        )
    extra, missing = have - want, want - have
    parts = []
    if extra:
        parts.append(f"{len(extra)} endpoint(s) that are not {deployment}'s ready pods")
    if missing:
        parts.append(f"{len(missing)} ready pod(s) of {deployment} missing")
    return failed(f"Service {service}: {'; '.join(parts)}", "A selector can match more than you meant.")


def template_hash(obj: dict[str, Any]) -> str:
    """A short digest of a workload's pod template."""
    template = obj.get("spec", {}).get("template", {})
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:16]


def _one_spelling(template: Any, before: Any = None, image_ids: dict[str, list[str]] | None = None) -> Any:
    """A pod template with every container's image written one way (runtimes read them alike).

    With BEFORE (the recorded template) and IMAGE_IDS (what its containers ran), an image pinned by the
    digest of the one that ran, from the same repository, is written as BEFORE's image."""
    out = json.loads(json.dumps(template or {}))
    for key in ("initContainers", "containers"):
        was = {c.get("name"): c.get("image") for c in ((before or {}).get("spec") or {}).get(key) or []}
        for c in (out.get("spec") or {}).get(key) or []:
            if not isinstance(c.get("image"), str):
                continue
            old = was.get(c.get("name"))
            if (
                isinstance(old, str)
                and repository(c["image"]) == repository(old)
                and pinned_to(c["image"], (image_ids or {}).get(c.get("name"), []))
            ):
                c["image"] = old
            c["image"] = qualified(c["image"])
    return out


def _same_template(template: Any, seen: dict[str, Any]) -> bool:
    """Whether a template is the recorded one, images compared as the runtime reads them."""
    if "pod_template" not in seen:
        return False
    now = _one_spelling(template, seen["pod_template"], seen.get("image_ids"))
    return bool(now == _one_spelling(seen["pod_template"]))


def not_redeployed(
    kube: Kube, state: SessionState, name: str, namespace: str = "default", kind: str = "Deployment"
) -> CheckResult:
    """The workload is the one from setup: same UID, same pod template (no dodging the task)."""
    seen = state.get(f"remember:{kind}:{namespace}/{name}")
    if seen is None:
        return CheckResult("error", f"{kind} {namespace}/{name} was not recorded at setup")
    obj = kube.get("apps/v1", kind, name, namespace)
    if obj is None:
        return failed(f"{kind} {namespace}/{name} is gone")
    if obj["metadata"]["uid"] != seen["uid"]:
        return failed(f"{kind} {name} was deleted and recreated", "Fix the broken object, not the healthy one.")
    if template_hash(obj) != seen["template"] and not _same_template(obj["spec"].get("template"), seen):
        return failed(f"{kind} {name}'s pod template was changed", "The app was fine; fix what routes to it.")
    if "replicas" in seen and obj["spec"].get("replicas") != seen["replicas"]:
        return failed(
            f"{kind} {name} was scaled from {seen['replicas']} to {obj['spec'].get('replicas')} replicas",
            "Leave the workloads as they were.",
        )
    return passed(f"{kind} {name} is untouched")


def answers(
    kube: Kube, service: str, namespace: str = "default", port: str = "80", path: str = "/", contains: str = ""
) -> CheckResult:
    """The Service answers HTTP on PORT through its endpoints and target port (via the API server's proxy)."""
    try:
        status, body = kube.service_get(namespace, service, str(port), path)
    except ClusterError as exc:
        return CheckResult("error", f"cannot ask Service {namespace}/{service}: {exc}")
    if 200 <= status < 400 and contains in body:
        return passed(f"Service {namespace}/{service} answers on port {port} (HTTP {status})")
    first = next((line.strip() for line in body.splitlines() if line.strip()), "")[:200]
    return failed(
        f"Service {namespace}/{service} does not answer on port {port}: HTTP {status} {first}".rstrip(),
        f"kubectl -n {namespace} get endpointslices; compare the Service's targetPort with the pods' ports.",
    )


def node_port_answers(node: Node, address: str, port: int, path: str = "/", timeout: float = 5.0) -> CheckResult:
    """A client on NODE gets an HTTP answer from ADDRESS:PORT (a NodePort, from another node's view)."""
    result = node.run(
        "curl -sS -o /dev/null -w '%%{http_code}' -m %s %s", f"{timeout:g}", f"http://{address}:{port}{path}"
    )
    code = result.stdout.strip()
    if result.ok and code.startswith(("2", "3")):
        return passed(f"{address}:{port} answers clients on {node.name} (HTTP {code})")
    why = (result.stderr.strip().splitlines() or [f"HTTP {code}"])[-1]
    return failed(
        f"{address}:{port} does not answer a client on {node.name}: {why}",
        "Does every node forward its NodePort to a ready endpoint? Look at the Service's traffic policy.",
    )


def cluster_ip_answers(kube: Kube, node: Node, service: str, namespace: str = "default", port: int = 80) -> CheckResult:
    """A client on NODE gets an HTTP answer from the Service's ClusterIP (the node routes Services)."""
    try:
        obj = kube.get("v1", "Service", service, namespace)
    except ClusterError as exc:
        return CheckResult("error", f"cannot read Service {namespace}/{service}: {exc}")
    ip = (obj or {}).get("spec", {}).get("clusterIP")
    if not ip or ip == "None":
        return failed(f"Service {namespace}/{service} has no ClusterIP")
    result = node_port_answers(node, ip, port)
    if result.ok:
        return passed(f"Service {namespace}/{service} ({ip}:{port}) answers clients on {node.name}")
    return failed(
        result.message.replace(f"{ip}:{port}", f"Service {namespace}/{service} ({ip}:{port})"),
        "Endpoints are fine? Then look at what turns ClusterIPs into pod addresses on each node (kube-proxy).",
    )
