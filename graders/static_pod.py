"""Checks on static pods (through their mirror pods) and their manifests."""

from __future__ import annotations

from typing import Any

import yaml

from breakers._manifests import get_flag, main_container, manifest_path, probes
from breakfix.durations import Seconds
from breakfix.errors import ClusterError, StepError
from breakfix.kube import Kube
from breakfix.results import CheckResult, failed, passed
from breakfix.transport.node import Node
from graders._steady import Sample, holds


def _mirror_pod(kube: Kube, component: str, node: Node) -> dict[str, Any] | None:
    pods = kube.list("v1", "Pod", "kube-system", label_selector=f"component={component}")
    mine = [p for p in pods if p.get("spec", {}).get("nodeName") in (node.name, node.ip)]
    if not mine and len(pods) == 1:
        mine = pods
    return mine[0] if mine else None


def _ready_restarts(pod: dict[str, Any]) -> tuple[bool, int]:
    status = pod.get("status") or {}
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
    restarts = sum(int(c.get("restartCount") or 0) for c in status.get("containerStatuses") or [])
    return ready, restarts


def stable(kube: Kube, node: Node, component: str, stable_for: Seconds = 20.0, poll: float = 2.0) -> CheckResult:
    """The component's static pod is Ready and does not restart for a while."""

    def sample() -> CheckResult | Sample[tuple[str, int]]:
        try:
            pod = _mirror_pod(kube, component, node)
        except ClusterError as exc:
            return failed(f"cannot see {component}'s pod: {exc}")
        if pod is None:
            return failed(
                f"no {component} pod on {node.name}",
                f"Look at /etc/kubernetes/manifests/{component}.yaml and the kubelet's log.",
            )
        ready, restarts = _ready_restarts(pod)
        if not ready:
            return failed(f"{component} on {node.name} is not Ready", "crictl ps -a and the container's log tell why.")
        message = f"{component} on {node.name} has been Ready and steady for {stable_for:.0f}s"
        return Sample((pod["metadata"].get("uid", ""), restarts), message)

    def restarted(first: tuple[str, int], now: tuple[str, int]) -> CheckResult | None:
        if now == first:
            return None
        return failed(f"{component} on {node.name} restarted during the {stable_for:.0f}s stability window")

    return holds(sample, stable_for, poll, restarted)


def _container(node: Node, manifest: str) -> dict[str, Any]:
    path = manifest_path(manifest)
    try:
        pod = yaml.safe_load(node.read_text(path))
    except yaml.YAMLError as exc:
        raise StepError(f"{path} on {node.name} is not valid YAML: {exc}") from None
    if not isinstance(pod, dict) or pod.get("kind") != "Pod":
        raise StepError(f"{path} on {node.name} is not a Pod manifest")
    return main_container(pod)


def _node_addresses(node: Node) -> set[str]:
    out = node.check("ip -o addr show")
    return {line.split()[3].split("/")[0] for line in out.splitlines() if len(line.split()) > 3}


def flag_is_local_address(node: Node, manifest: str, flag: str, required: bool = False) -> CheckResult:
    """A flag that names an address holds one of the node's own addresses (or is unset, if allowed)."""
    value = get_flag(_container(node, manifest), flag)
    if value is None:
        return failed(f"{flag} is not set in {manifest}") if required else passed(f"{flag} is not set")
    if value in _node_addresses(node):
        return passed(f"{flag}={value} is an address of {node.name}")
    return failed(
        f"{flag}={value} in {manifest} is not an address of {node.name}",
        f"`ip -br addr` on {node.name} lists its addresses.",
    )


def probes_local(node: Node, manifest: str) -> CheckResult:
    """The static pod still has its liveness and readiness probes, and they target the node itself."""
    addrs = _node_addresses(node) | {"localhost"}
    container = _container(node, manifest)
    missing = [kind for kind in ("livenessProbe", "readinessProbe") if not container.get(kind)]
    if missing:
        return failed(
            f"{manifest} lost its {' and '.join(missing)}",
            "Deleting a probe hides the problem; the kubelet can no longer tell a dead server.",
        )
    bad = [
        p["httpGet"]["host"]
        for p in probes(container)
        if "httpGet" in p and p["httpGet"].get("host") and p["httpGet"]["host"] not in addrs
    ]
    if bad:
        return failed(
            f"{manifest} probes target {', '.join(sorted(set(bad)))}, not {node.name}",
            "A probe that checks another host kills a healthy container.",
        )
    return passed(f"{manifest} probes target {node.name}")


def flag_equals(node: Node, manifest: str, flag: str, value: str) -> CheckResult:
    """A flag of a static pod has the expected value."""
    actual = get_flag(_container(node, manifest), flag)
    if actual == value:
        return passed(f"{flag}={value}")
    return failed(f"{flag} is {actual!r} in {manifest}, expected {value!r}")


def _client_cert_subject(node: Node, kubeconfig_path: str) -> str:
    """The Common Name of the client certificate a kubeconfig on NODE authenticates with."""
    import base64

    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        config = yaml.safe_load(node.read_text(kubeconfig_path)) or {}
    except yaml.YAMLError as exc:
        raise StepError(f"{kubeconfig_path} on {node.name} is not valid YAML: {exc}") from None
    contexts = {c.get("name"): c.get("context") or {} for c in config.get("contexts") or []}
    users = {u.get("name"): u.get("user") or {} for u in config.get("users") or []}
    context = contexts.get(config.get("current-context"), {})
    user = users.get(context.get("user"), {})
    if user.get("client-certificate-data"):
        pem = base64.b64decode(user["client-certificate-data"])
    elif user.get("client-certificate"):
        pem = node.read_text(user["client-certificate"]).encode()
    else:
        return ""
    cert = x509.load_pem_x509_certificate(pem)
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


def kubeconfig_user(node: Node, manifest: str, user: str, flag: str = "--kubeconfig") -> CheckResult:
    """The component's kubeconfig exists and authenticates as the component's own user."""
    path = get_flag(_container(node, manifest), flag)
    if not path:
        return failed(f"{flag} is not set in {manifest}")
    if not node.exists(path):
        return failed(
            f"{flag}={path} in {manifest}: no such file on {node.name}",
            "ls /etc/kubernetes/*.conf: kubeadm writes one kubeconfig per component.",
        )
    subject = _client_cert_subject(node, path)
    if subject != user:
        return failed(
            f"{flag}={path} authenticates as {subject or 'nobody (no client certificate)'}, not {user}",
            "Each component has its own kubeconfig and identity; borrowing admin's hides who does what.",
        )
    return passed(f"{manifest} uses {path} as {user}")
