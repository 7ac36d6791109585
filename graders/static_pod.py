"""Checks on static pods (through their mirror pods) and their manifests."""

from __future__ import annotations

import posixpath
from typing import Any
from urllib.parse import urlparse

import yaml

from breakers._manifests import get_flag, main_container, manifest_path, probes
from breakfix.durations import Seconds
from breakfix.errors import ClusterError, StepError
from breakfix.kube import Kube
from breakfix.results import CheckResult, failed, passed
from breakfix.transport.node import Node
from graders._steady import Sample, holds
from graders.identity import judge_identity, kubeconfig_identity


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


def _pod(node: Node, manifest: str) -> dict[str, Any]:
    path = manifest_path(manifest)
    try:
        pod = yaml.safe_load(node.read_text(path))
    except yaml.YAMLError as exc:
        raise StepError(f"{path} on {node.name} is not valid YAML: {exc}") from None
    if not isinstance(pod, dict) or pod.get("kind") != "Pod":
        raise StepError(f"{path} on {node.name} is not a Pod manifest")
    return pod


def _container(node: Node, manifest: str) -> dict[str, Any]:
    return main_container(_pod(node, manifest))


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


def host_path(pod: dict[str, Any], container: dict[str, Any], path: str) -> str | None:
    """Where a path inside a static pod's container lives on the node, through its hostPath mounts.

    None when no hostPath volume covers it (it would be in the image, not on the node).
    """
    volumes = {v.get("name"): v for v in (pod.get("spec") or {}).get("volumes") or []}
    path = posixpath.normpath(path)
    best: tuple[int, str] | None = None
    for mount in container.get("volumeMounts") or []:
        source = (volumes.get(mount.get("name")) or {}).get("hostPath") or {}
        target = posixpath.normpath(str(mount.get("mountPath") or ""))
        if not source.get("path") or not target.startswith("/"):
            continue
        if path != target and not path.startswith(target.rstrip("/") + "/"):
            continue
        base = str(source["path"])
        if mount.get("subPath"):
            base = posixpath.join(base, str(mount["subPath"]))
        rest = path[len(target) :].lstrip("/")
        if best is None or len(target) > best[0]:  # the deepest mount hides the ones above it
            best = (len(target), posixpath.join(base, rest) if rest else base)
    return best[1] if best else None


def kubeconfig_user(
    node: Node, manifest: str, user: str, flag: str = "--kubeconfig", groups: list[str] | None = None
) -> CheckResult:
    """The component's kubeconfig authenticates as the component's own user."""
    # the flag names a path inside the container: look it up through the pod's hostPath mounts
    pod = _pod(node, manifest)
    container = main_container(pod)
    path = get_flag(container, flag)
    if not path:
        return failed(f"{flag} is not set in {manifest}")
    on_host = host_path(pod, container, path)
    if on_host is None or not node.exists(on_host):
        where = "it is on no volume the pod mounts from" if on_host is None else f"no {on_host} on {node.name}"
        return failed(
            f"{flag}={path} in {manifest}: the container has no such file ({where})",
            "ls /etc/kubernetes/*.conf: kubeadm writes one kubeconfig per component; the pod sees only what it mounts.",
        )
    try:
        found = kubeconfig_identity(node, path, lambda p: host_path(pod, container, p))
    except StepError as exc:
        return failed(str(exc))
    result = judge_identity(found, f"{flag}={path}", user, groups or [])
    return passed(f"{manifest} uses {path} as {found}") if result.ok else result


def _is_local_host(host: str, addresses: set[str]) -> bool:
    return host == "localhost" or host == "::1" or host.startswith("127.") or host in addresses


def servers_answer_locally(
    node: Node,
    manifest: str,
    flag: str,
    ca_flag: str,
    cert_flag: str,
    key_flag: str,
    health_path: str = "/health",
    urls: str | None = None,
) -> CheckResult:
    """Every server a static pod is told to use is on this node, over https, and answers the pod's own credentials.

    URLS (comma-separated) are tried instead of the flag's, with the same credentials.
    """
    pod = _pod(node, manifest)
    container = main_container(pod)
    listed = urls if urls is not None else get_flag(container, flag)
    if not listed:
        return failed(f"{flag} is not set in {manifest}")
    files: dict[str, str] = {}
    for name in (ca_flag, cert_flag, key_flag):
        value = get_flag(container, name)
        on_host = host_path(pod, container, value) if value else None
        if on_host is None:
            return failed(f"{name} in {manifest} names no file the pod mounts from {node.name}")
        files[name] = on_host
    addresses = _node_addresses(node)
    bad: list[str] = []
    for url in (u.strip() for u in listed.split(",") if u.strip()):
        parsed = urlparse(url)
        if parsed.scheme != "https":
            bad.append(f"{url} is not https")
            continue
        if not _is_local_host(parsed.hostname or "", addresses):
            bad.append(f"{url} is not on {node.name}")
            continue
        answer = node.run(
            "curl -fsS --max-time 5 --cacert %s --cert %s --key %s %s",
            files[ca_flag], files[cert_flag], files[key_flag], url.rstrip("/") + health_path,
            timeout=30,
        )  # fmt: skip
        if not answer.ok:
            why = (answer.stderr or answer.stdout).strip().splitlines()
            bad.append(f"{url} does not answer ({why[-1] if why else f'curl exited {answer.rc}'})")
    if bad:
        source = "" if urls is not None else f" ({flag} of {manifest})"
        return failed("; ".join(bad) + source)
    return passed(f"{listed}: each answers on {node.name} over https")
