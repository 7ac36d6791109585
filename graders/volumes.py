"""Checks that an app really reads the data its volume holds (written at setup by breakers.volumes.write_data)."""

from __future__ import annotations

from typing import Any

from breakers.volumes import data_key
from breakfix.context import SessionState
from breakfix.errors import BreakfixError, ClusterError
from breakfix.kube import Kube
from breakfix.results import CheckResult, failed, passed
from breakfix.transport.node import Node


def _data(state: SessionState, name: str) -> dict[str, str] | None:
    found = state.get(data_key(name))
    return found if isinstance(found, dict) and found.get("token") else None


def _no_data(name: str) -> CheckResult:
    return CheckResult("error", f"no data named {name!r} was written at setup (breakers.volumes.write_data)")


def serves_data(
    kube: Kube,
    state: SessionState,
    name: str,
    service: str,
    namespace: str = "default",
    port: str = "80",
    path: str = "/",
) -> CheckResult:
    """The Service answers PATH with the data written at setup: the app reads the volume that holds it."""
    data = _data(state, name)
    if data is None:
        return _no_data(name)
    try:
        status, body = kube.service_get(namespace, service, port, path)
    except ClusterError as exc:
        return CheckResult("error", f"cannot reach Service {namespace}/{service}: {exc}")
    if status == 200 and data["token"] in body:
        return passed(f"Service {namespace}/{service} serves the {name} data written at setup")
    if status != 200:
        return failed(
            f"Service {namespace}/{service} answers {path} with HTTP {status}: {body.strip()[:120]}",
            f"kubectl -n {namespace} get pods,pvc; kubectl -n {namespace} describe pods",
        )
    return failed(
        f"Service {namespace}/{service} answers, but not with the {name} data written at setup",
        "Which volume do the app's pods mount, and what does it hold?",
    )


def data_intact(nodes: list[Node], state: SessionState, name: str) -> CheckResult:
    """The data written at setup is still in its folder on its node, unchanged (not lost, not rewritten)."""
    data = _data(state, name)
    if data is None:
        return _no_data(name)
    node = next((n for n in nodes if n.name == data["node"]), None)
    if node is None:
        return CheckResult("error", f"node {data['node']} that holds the {name} data is not in the cluster")
    try:
        content = node.read(data["path"])
    except BreakfixError as exc:
        return CheckResult("error", f"cannot read {data['path']} on {node.name}: {exc}")
    if content is None:
        return failed(f"the {name} data is gone: {node.name} has no {data['path']} any more")
    if data["token"].encode() not in content:
        return failed(f"the {name} data on {node.name} ({data['path']}) was rewritten: it is not the one from setup")
    return passed(f"the {name} data is intact on {node.name}")


def _volume_path(pv: dict[str, Any]) -> str | None:
    spec = pv.get("spec") or {}
    source = spec.get("local") or spec.get("hostPath") or {}
    path = source.get("path")
    return str(path).rstrip("/") if path else None


def _workload_pods(kube: Kube, kind: str, workload: str, namespace: str) -> list[dict[str, Any]] | str:
    """The running, not terminating pods of a workload, or why there are none."""
    obj = kube.get("apps/v1", kind, workload, namespace)
    if obj is None:
        return f"{kind} {namespace}/{workload} does not exist"
    labels = (obj["spec"].get("selector") or {}).get("matchLabels") or {}
    if not labels:
        return f"{kind} {namespace}/{workload} selects its pods by expressions only"
    selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    pods = [
        p
        for p in kube.list("v1", "Pod", namespace, label_selector=selector)
        if not p["metadata"].get("deletionTimestamp") and (p.get("status") or {}).get("phase") == "Running"
    ]
    return pods or f"{kind} {namespace}/{workload} has no running pod"


def data_through_claim(
    kube: Kube,
    state: SessionState,
    name: str,
    workload: str,
    namespace: str = "default",
    kind: str = "Deployment",
    claim: str | None = None,
) -> CheckResult:
    """Every running pod of the workload gets the data through a Bound claim whose volume is the data's folder.

    The pod runs on the data's node, and the claim's volume points at the folder write_data made there:
    mounting the folder directly, an emptyDir, or a fresh volume does not count. With CLAIM (a task that
    names the app's claim), that claim must be the one: a second claim made for the folder does not count."""
    data = _data(state, name)
    if data is None:
        return _no_data(name)
    try:
        pods = _workload_pods(kube, kind, workload, namespace)
        if isinstance(pods, str):
            return failed(pods, f"kubectl -n {namespace} get pods; kubectl -n {namespace} describe pods")
        for pod in pods:
            problem = _pod_problem(kube, pod, data, namespace, claim)
            if problem:
                return failed(
                    f"pod {namespace}/{pod['metadata']['name']}: {problem}",
                    f"kubectl -n {namespace} get pvc; kubectl get pv; kubectl -n {namespace} get pods -o wide",
                )
    except ClusterError as exc:
        return CheckResult("error", f"cannot read the {kind} {namespace}/{workload} and its volumes: {exc}")
    return passed(f"{kind} {namespace}/{workload} reads the {name} data through its claim on {data['node']}")


def _pod_problem(
    kube: Kube, pod: dict[str, Any], data: dict[str, str], namespace: str, wanted: str | None = None
) -> str:
    """Why a pod does not read the data through a claim (WANTED, when named), or '' when it does."""
    node = (pod.get("spec") or {}).get("nodeName")
    if node != data["node"]:
        return f"runs on {node}, but the data is on {data['node']}"
    claims = [
        v["persistentVolumeClaim"]["claimName"]
        for v in (pod.get("spec") or {}).get("volumes") or []
        if v.get("persistentVolumeClaim")
    ]
    if not claims:
        return "mounts no PersistentVolumeClaim"
    if wanted is not None and wanted not in claims:
        return f"mounts the claim(s) {', '.join(sorted(claims))}, not {wanted}"
    seen = []
    for claim in claims if wanted is None else [wanted]:
        pvc = kube.get("v1", "PersistentVolumeClaim", claim, namespace)
        if pvc is None or (pvc.get("status") or {}).get("phase") != "Bound":
            seen.append(f"claim {claim} is not Bound")
            continue
        volume = (pvc.get("spec") or {}).get("volumeName")
        pv = kube.get("v1", "PersistentVolume", volume) if volume else None
        if pv is not None and _volume_path(pv) == data["folder"]:
            return ""
        seen.append(f"claim {claim}'s volume is not the one that holds the data")
    return "; ".join(seen)


def volume_modes_within(kube: Kube, state: SessionState, name: str, allowed: list[str]) -> CheckResult:
    """Every volume of the data's folder promises only access modes its disk can give (ALLOWED).

    A node-local folder cannot be shared by pods on several nodes: a volume that claims it can lies to
    the scheduler, and the next pod elsewhere gets an empty folder or none."""
    data = _data(state, name)
    if data is None:
        return _no_data(name)
    try:
        volumes = [pv for pv in kube.list("v1", "PersistentVolume") if _volume_path(pv) == data["folder"]]
    except ClusterError as exc:
        return CheckResult("error", f"cannot list PersistentVolumes: {exc}")
    for pv in volumes:
        extra = sorted(set((pv.get("spec") or {}).get("accessModes") or []) - set(allowed))
        if extra:
            return failed(
                f"PersistentVolume {pv['metadata']['name']} offers {', '.join(extra)}, "
                f"which the {name} data's folder on {data['node']} cannot give",
                "kubectl get pv -o wide: what can a folder on one node really offer?",
            )
    return passed(f"the volumes of the {name} data offer only {', '.join(allowed)}")
