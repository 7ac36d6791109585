"""Breakers and setup steps for Kubernetes objects (every change journaled)."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import yaml

from breakfix.changes import ChangeLog
from breakfix.context import SessionState
from breakfix.durations import Seconds
from breakfix.errors import ClusterError, StepError
from breakfix.images import image_map, resolve_images
from breakfix.inventory import ClusterSpec
from breakfix.kube import Kube, gone_within
from graders._images import familiar, qualified
from graders.service import ready_pod_ips, template_hash


def create_sentinel(
    changes: ChangeLog, state: SessionState, name: str, namespace: str = "default", kind: str = "ConfigMap"
) -> None:
    """Create a sentinel object and remember its UID: a wipe-and-recreate will not match it."""
    if kind != "ConfigMap":
        raise StepError("sentinels are ConfigMaps")
    obj = changes.create_object(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace, "labels": {"breakfix.dev/sentinel": "true"}},
            "data": {"purpose": "breakfix sentinel: this object must survive the lab with the same UID"},
        }
    )
    state.set(f"sentinel:{namespace}/{name}", obj["metadata"]["uid"])


def apply_manifest(
    changes: ChangeLog, lab_dir: Path, cluster: ClusterSpec, file: str, namespace: str | None = None
) -> None:
    """Create the objects of a YAML file beside lab.yaml; `image: role:web` takes the cluster's image."""
    docs = [d for d in yaml.safe_load_all((lab_dir / file).read_text()) if d]
    images = image_map(cluster)
    for doc in docs:
        try:
            resolve_images(doc, images, cluster.pull_policy)
        except KeyError as exc:
            raise StepError(f"{file}: {exc.args[0]}") from None
        if namespace and doc.get("kind") != "Namespace":
            doc.setdefault("metadata", {})["namespace"] = namespace
        changes.apply_object(doc)


def remember(
    kube: Kube, state: SessionState, kind: str, name: str, namespace: str = "default", api_version: str = "apps/v1"
) -> None:
    """Record an object's UID and pod template so graders can tell it was not redeployed."""
    obj = kube.get(api_version, kind, name, namespace)
    if obj is None:
        raise StepError(f"{kind} {namespace}/{name} does not exist")
    labels = (obj["spec"].get("selector") or {}).get("matchLabels") or {}
    image_ids: dict[str, set[str]] = {}
    if labels:  # the images that ran, by digest: a fix may pin the same one with image@sha256:...
        selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        for pod in kube.list("v1", "Pod", namespace, label_selector=selector):
            for status in (pod.get("status") or {}).get("containerStatuses") or []:
                if status.get("imageID"):
                    image_ids.setdefault(status["name"], set()).add(status["imageID"])
    state.set(
        f"remember:{kind}:{namespace}/{name}",
        {
            "uid": obj["metadata"]["uid"],
            "template": template_hash(obj),
            "replicas": obj["spec"].get("replicas"),
            "pod_template": obj["spec"].get("template"),  # what the app was, for graders that compare parts of it
            "image_ids": {c: sorted(ids) for c, ids in image_ids.items()},
        },
    )


def patch(
    changes: ChangeLog,
    kind: str,
    name: str,
    patch: dict[str, Any],
    namespace: str | None = "default",
    api_version: str = "v1",
) -> None:
    """Merge-patch an object."""
    changes.patch_object(api_version, kind, name, namespace, patch)


def set_selector(changes: ChangeLog, service: str, selector: dict[str, str], namespace: str = "default") -> None:
    """Replace a Service's selector."""
    changes.patch_object("v1", "Service", service, namespace, {"spec": {"selector": None}})
    changes.patch_object("v1", "Service", service, namespace, {"spec": {"selector": selector}})


def endpoints_by_hand(
    changes: ChangeLog,
    kube: Kube,
    service: str,
    pods: dict[str, str],
    namespace: str = "default",
    port: int | None = None,
    slice_only: bool = False,
) -> None:
    """Route a Service to the ready pods matching PODS with endpoints written by hand (a known shortcut).

    By default the Service loses its selector and its Endpoints are replaced (the EndpointSlice mirroring
    controller then publishes them); SLICE_ONLY keeps the selector and adds an EndpointSlice of its own.
    PORT is the pods' port the endpoints name (default: each Service port's numeric targetPort)."""
    svc = kube.get("v1", "Service", service, namespace)
    if svc is None:
        raise StepError(f"Service {namespace}/{service} does not exist")
    ips = sorted(ready_pod_ips(kube, pods, namespace))
    if not ips:
        raise StepError(f"no ready pod in {namespace} matches {pods}")
    ports = []
    for p in svc["spec"].get("ports") or []:
        target = p.get("targetPort", p["port"])
        number = port if port is not None else target if isinstance(target, int) else p["port"]
        ports.append({"name": p.get("name") or "", "port": number, "protocol": p.get("protocol") or "TCP"})
    if slice_only:
        changes.create_object(
            {
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "metadata": {
                    "name": f"{service}-by-hand",
                    "namespace": namespace,
                    "labels": {
                        "kubernetes.io/service-name": service,
                        "endpointslice.kubernetes.io/managed-by": "breakfix.dev",
                    },
                },
                "addressType": "IPv6" if ":" in ips[0] else "IPv4",
                "endpoints": [{"addresses": [ip], "conditions": {"ready": True}} for ip in ips],
                "ports": ports,
            }
        )
        return
    changes.patch_object("v1", "Service", service, namespace, {"spec": {"selector": None}})
    subset_ports = [{k: v for k, v in p.items() if v or k != "name"} for p in ports]  # no empty names
    changes.apply_object(  # a replace: the controller's labels (skip-mirror, managed-by) go, so they get mirrored
        {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": service, "namespace": namespace},
            "subsets": [{"addresses": [{"ip": ip} for ip in ips], "ports": subset_ports}],
        }
    )


def scale(changes: ChangeLog, kind: str, name: str, replicas: int, namespace: str = "default") -> None:
    """Scale a Deployment or StatefulSet."""
    changes.patch_object("apps/v1", kind, name, namespace, {"spec": {"replicas": replicas}})


def keep(changes: ChangeLog, kind: str, name: str, namespace: str | None = None, api_version: str = "v1") -> None:
    """Change nothing, but have reset put the object back as it is now (e.g. a volume a cheat binds)."""
    changes.keep_object(api_version, kind, name, namespace)


def delete(
    changes: ChangeLog,
    kube: Kube,
    kind: str,
    name: str,
    namespace: str | None = "default",
    api_version: str = "v1",
    timeout: Seconds = 120.0,
) -> None:
    """Delete an object and wait until it is gone (finalizers done), so a later step can reuse its name."""
    changes.delete_object(api_version, kind, name, namespace)
    if not gone_within(kube, api_version, kind, name, namespace, timeout):
        where = f"{namespace}/" if namespace else ""
        raise StepError(f"{kind} {where}{name} is still there {timeout:.0f}s after deletion (a finalizer waits?)")


def recreate_sentinel(changes: ChangeLog, name: str, namespace: str = "default") -> None:
    """Delete a sentinel and create one with the same name (a new UID): a known cheat."""
    changes.delete_object("v1", "ConfigMap", name, namespace)
    changes.create_object(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace},
            "data": {"purpose": "recreated"},
        }
    )


def wait_ready(
    kube: Kube,
    name: str,
    namespace: str = "default",
    kind: str = "Deployment",
    timeout: Seconds = 180.0,
    log: Callable[[str], None] | None = None,
) -> None:
    """Wait until a workload has all its replicas ready (setup does this before breaking)."""
    deadline = time.monotonic() + timeout
    next_note = time.monotonic() + 10
    while True:
        try:
            obj = kube.get("apps/v1", kind, name, namespace)
        except ClusterError:
            obj = None
        status = (obj or {}).get("status") or {}
        want = (obj or {}).get("spec", {}).get("replicas", 1)
        ready = status.get("readyReplicas") or 0
        if (
            obj is not None
            and ready >= want
            and status.get("observedGeneration", 0) >= obj["metadata"].get("generation", 0)
        ):
            return
        if time.monotonic() > deadline:
            why = _why_not_ready(kube, obj, namespace)
            raise StepError(f"{kind} {namespace}/{name}: {ready}/{want} replicas ready after {timeout:.0f}s{why}")
        if log and time.monotonic() > next_note:
            log(f"  waiting for {kind} {namespace}/{name}: {ready}/{want} ready")
            next_note = time.monotonic() + 10
        time.sleep(2)


def _why_not_ready(kube: Kube, obj: dict[str, Any] | None, namespace: str) -> str:
    """A hint for a workload that never got ready: no pods at all points at the controllers."""
    if obj is None:
        return " (it does not exist)"
    labels = (obj["spec"].get("selector") or {}).get("matchLabels") or {}
    try:
        pods = kube.list("v1", "Pod", namespace, label_selector=",".join(f"{k}={v}" for k, v in labels.items()))
    except ClusterError:
        return ""
    if not pods:
        return (
            "; no pod was even created: are the controllers running "
            "(kubectl -n kube-system get pods -l component=kube-controller-manager)?"
        )
    if not any(p.get("spec", {}).get("nodeName") for p in pods):
        return "; its pods were never scheduled: is kube-scheduler running, is there a node they fit on?"
    return ""


def _deep_merge(base: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in change.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def edit_container(
    changes: ChangeLog,
    kube: Kube,
    name: str,
    container: str,
    set: dict[str, Any],
    namespace: str = "default",
    kind: str = "Deployment",
) -> None:
    """Merge SET into one container of a workload's pod template (None removes a key), e.g. a probe's port."""
    obj = kube.get("apps/v1", kind, name, namespace)
    if obj is None:
        raise StepError(f"{kind} {namespace}/{name} does not exist")
    containers = obj["spec"]["template"]["spec"]["containers"]
    if not any(c["name"] == container for c in containers):
        raise StepError(f"{kind} {namespace}/{name} has no container {container!r}")
    edited = [_deep_merge(c, set) if c["name"] == container else c for c in containers]
    changes.patch_object("apps/v1", kind, name, namespace, {"spec": {"template": {"spec": {"containers": edited}}}})


def set_image(
    changes: ChangeLog,
    kube: Kube,
    images: dict[str, str],
    name: str,
    container: str,
    role: str,
    typo: str = "",
    namespace: str = "default",
    kind: str = "Deployment",
    spelling: Literal["as-mapped", "familiar", "qualified"] = "as-mapped",
) -> None:
    """Set a container's image to the cluster's image for ROLE, with TYPO appended to its tag (a wrong tag).

    SPELLING writes the same image another way: `familiar` (nginx:1.27) or `qualified` (docker.io/library/...)."""
    if role not in images:
        raise StepError(f"no image for role {role!r} (known: {', '.join(sorted(images))})")
    image = {"as-mapped": images[role], "familiar": familiar(images[role]), "qualified": qualified(images[role])}[
        spelling
    ] + typo
    edit_container(changes, kube, name, container, {"image": image}, namespace, kind)


def _workload_pods(kube: Kube, kind: str, name: str, namespace: str) -> list[dict[str, Any]]:
    """The live (not terminating) pods a workload's selector matches; a StepError when there are none."""
    obj = kube.get("apps/v1", kind, name, namespace)
    if obj is None:
        raise StepError(f"{kind} {namespace}/{name} does not exist")
    labels = (obj["spec"].get("selector") or {}).get("matchLabels") or {}
    selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    pods = [
        p
        for p in kube.list("v1", "Pod", namespace, label_selector=selector)
        if not p["metadata"].get("deletionTimestamp")
    ]
    if not labels or not pods:
        raise StepError(f"{kind} {namespace}/{name} has no pods to change")
    return pods


def set_pod_images(
    changes: ChangeLog,
    kube: Kube,
    images: dict[str, str],
    name: str,
    container: str,
    role: str,
    namespace: str = "default",
    kind: str = "Deployment",
) -> None:
    """Set a container's image in a workload's running pods themselves, its template left as it is (a shortcut).

    A pod's image is one of the few fields a pod lets change in place; each pod is journaled, undo puts it back."""
    if role not in images:
        raise StepError(f"no image for role {role!r} (known: {', '.join(sorted(images))})")
    for pod in _workload_pods(kube, kind, name, namespace):
        containers = pod["spec"]["containers"]
        if not any(c["name"] == container for c in containers):
            raise StepError(f"pod {namespace}/{pod['metadata']['name']} has no container {container!r}")
        edited = [{**c, "image": images[role]} if c["name"] == container else c for c in containers]
        changes.patch_object("v1", "Pod", pod["metadata"]["name"], namespace, {"spec": {"containers": edited}})


COPY_LABEL = "breakfix.dev/copy-of"


def copy_workload(
    changes: ChangeLog,
    kube: Kube,
    name: str,
    new_name: str,
    namespace: str = "default",
    kind: str = "Deployment",
    replicas: int | None = None,
) -> None:
    """Run a copy of a workload beside it under NEW_NAME: the same pods, plus one label of its own (a shortcut).

    REPLICAS replaces the copied count (a workload scaled to zero copies as zero); undo deletes the copy."""
    obj = kube.get("apps/v1", kind, name, namespace)
    if obj is None:
        raise StepError(f"{kind} {namespace}/{name} does not exist")
    spec = copy.deepcopy(obj["spec"])
    mine = {COPY_LABEL: name}
    selector = spec.setdefault("selector", {})
    selector["matchLabels"] = {**(selector.get("matchLabels") or {}), **mine}
    template_meta = spec.setdefault("template", {}).setdefault("metadata", {})
    template_meta["labels"] = {**(template_meta.get("labels") or {}), **mine}
    if replicas is not None:
        spec["replicas"] = replicas
    labels = {**(obj["metadata"].get("labels") or {}), **mine}
    meta = {"name": new_name, "namespace": namespace, "labels": labels}
    changes.create_object({"apiVersion": "apps/v1", "kind": kind, "metadata": meta, "spec": spec})


def _taints(kube: Kube, node_name: str) -> list[dict[str, Any]]:
    obj = kube.get("v1", "Node", node_name)
    if obj is None:
        raise StepError(f"node {node_name} does not exist")
    return list(obj.get("spec", {}).get("taints") or [])


def taint(
    changes: ChangeLog, kube: Kube, node_name: str, key: str, value: str = "", effect: str = "NoSchedule"
) -> None:
    """Add a taint to a node (undo puts the node's previous taints back)."""
    kept = [t for t in _taints(kube, node_name) if t.get("key") != key]
    new = {"key": key, "effect": effect, **({"value": value} if value else {})}
    changes.patch_object("v1", "Node", node_name, None, {"spec": {"taints": [*kept, new]}})


def untaint(changes: ChangeLog, kube: Kube, node_name: str, key: str) -> None:
    """Remove every taint with KEY from a node."""
    kept = [t for t in _taints(kube, node_name) if t.get("key") != key]
    changes.patch_object("v1", "Node", node_name, None, {"spec": {"taints": kept or None}})


def taint_workers(
    changes: ChangeLog, kube: Kube, cluster: ClusterSpec, key: str, value: str = "", effect: str = "NoSchedule"
) -> None:
    """Add a taint to every worker node (undo puts each node's previous taints back)."""
    for worker in _worker_names(cluster):
        taint(changes, kube, worker, key, value, effect)


def untaint_workers(changes: ChangeLog, kube: Kube, cluster: ClusterSpec, key: str) -> None:
    """Remove every taint with KEY from every worker node."""
    for worker in _worker_names(cluster):
        untaint(changes, kube, worker, key)


def _worker_names(cluster: ClusterSpec) -> list[str]:
    names = [n.name for n in cluster.workers]
    if not names:
        raise StepError(f"cluster {cluster.name} has no worker nodes")
    return names


def wait_pods_gone(kube: Kube, namespace: str, selector: str, timeout: Seconds = 120.0) -> None:
    """Wait until no pod matches SELECTOR (changes nothing: a break waits for its effect)."""
    deadline = time.monotonic() + timeout
    while kube.list("v1", "Pod", namespace, label_selector=selector):
        if time.monotonic() > deadline:
            raise StepError(f"pods {selector} in {namespace} are still there after {timeout:.0f}s")
        time.sleep(2)
