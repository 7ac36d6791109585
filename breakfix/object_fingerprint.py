"""The cluster's own objects before a lab (namespaces, workloads, Services, ConfigMaps, RBAC, quotas,
storage classes), what a student changed in them, and how reset puts them back.

The journal undoes what a lab did; this covers what the student did beside it: a kube-system ConfigMap
edited another way, CoreDNS scaled, a ClusterRoleBinding to `edit` added, a namespace created, a Service
deleted and re-created (with another cluster IP), a CronJob of one's own (it would go on starting Jobs).
Objects a controller owns (ownerReferences), Secrets (bootstrap tokens expire by themselves), Endpoints,
Pods and Leases are left out: their controllers keep them. PersistentVolumes are only counted: a volume a
student made by hand for a lab's claim (no provisioner made it, none deletes it) is removed by reset; the
binder's changes to volumes are not compared.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from functools import partial
from typing import Any

from breakfix.clusters import JOURNAL_COPY, MARKER_NAME, MARKER_NAMESPACE
from breakfix.errors import ApiRefused, BreakfixError
from breakfix.kube import Kube

Snapshot = dict[str, Any]
Obj = dict[str, Any]

RBAC = "rbac.authorization.k8s.io/v1"
NAMESPACED = (
    ("apps/v1", "Deployment"),
    ("apps/v1", "DaemonSet"),
    ("apps/v1", "StatefulSet"),
    ("batch/v1", "CronJob"),
    ("v1", "Service"),
    ("v1", "ConfigMap"),
    ("v1", "ServiceAccount"),
    ("v1", "ResourceQuota"),
    ("v1", "LimitRange"),
    (RBAC, "Role"),
    (RBAC, "RoleBinding"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
)
CLUSTER_SCOPED = ((RBAC, "ClusterRole"), (RBAC, "ClusterRoleBinding"), ("storage.k8s.io/v1", "StorageClass"))
#: the fields that say what an object is (metadata aside); status and bookkeeping are not compared
CONTENT = (
    "spec",
    "data",
    "binaryData",
    "immutable",
    "rules",
    "aggregationRule",
    "subjects",
    "roleRef",
    "automountServiceAccountToken",
    "imagePullSecrets",
    "provisioner",
    "parameters",
    "reclaimPolicy",
    "volumeBindingMode",
    "allowVolumeExpansion",
    "mountOptions",
    "allowedTopologies",
)
#: annotations controllers and tools write by themselves
VOLATILE_ANNOTATIONS = frozenset(
    {
        "deployment.kubernetes.io/revision",
        "deprecated.daemonset.template.generation",
        "kubectl.kubernetes.io/last-applied-configuration",
        "control-plane.alpha.kubernetes.io/leader",
        "rbac.authorization.kubernetes.io/autoupdate",
    }
)
#: objects their own component rewrites: the bootstrap signer signs cluster-info (`jws-kubeconfig-*` keys) as
#: tokens come and go, the API server writes its client CAs at every start
OWNED_BY_COMPONENTS = frozenset(
    {
        ("ConfigMap", "kube-public", "cluster-info"),
        ("ConfigMap", "kube-system", "extension-apiserver-authentication"),
        ("ConfigMap", "kube-system", "kube-apiserver-legacy-service-account-token-tracking"),
    }
)
#: The cluster CA the controller-manager writes into every namespace (without an owner reference).
ROOT_CA = "kube-root-ca.crt"
#: the annotation a provisioner puts on the volumes it makes (and deletes again with their claims)
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
#: at most this many objects are fingerprinted (a busy shared cluster is not a lab cluster)
LIMIT = 5000


def _key(api_version: str, kind: str, name: str, namespace: str | None) -> str:
    return f"{api_version}|{kind}|{namespace or ''}|{name}"


def _split(key: str) -> tuple[str, str, str | None, str]:
    api_version, kind, namespace, name = key.split("|", 3)
    return api_version, kind, namespace or None, name


def describe(key: str) -> str:
    """An object's key as people write it: `ConfigMap kube-system/coredns`."""
    _, kind, namespace, name = _split(key)
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


def _skipped(obj: Obj) -> bool:
    meta = obj.get("metadata") or {}
    if meta.get("ownerReferences"):
        return True  # a controller made it and keeps it
    if (obj.get("kind"), meta.get("namespace"), meta.get("name")) in OWNED_BY_COMPONENTS:
        return True
    if obj.get("kind") == "ConfigMap" and meta.get("name") == ROOT_CA:
        return True  # the controller-manager publishes it into every namespace, whenever it gets to it
    return bool(meta.get("name") in (MARKER_NAME, JOURNAL_COPY) and meta.get("namespace") == MARKER_NAMESPACE)


def clean(obj: Obj) -> Obj:
    """What an object IS: name, labels, annotations (not the volatile ones) and its content fields."""
    meta = obj.get("metadata") or {}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in VOLATILE_ANNOTATIONS}
    out: Obj = {
        "apiVersion": obj.get("apiVersion"),
        "kind": obj.get("kind"),
        "metadata": {"name": meta.get("name"), "labels": dict(meta.get("labels") or {}), "annotations": annotations},
    }
    if meta.get("namespace"):
        out["metadata"]["namespace"] = meta["namespace"]
    for field in CONTENT:
        if obj.get(field) is not None:
            out[field] = copy.deepcopy(obj[field])
    if out.get("aggregationRule"):
        out.pop("rules", None)  # an aggregated role's rules are the controller's sum of others
    return out


def take(kube: Kube) -> Snapshot:
    """The namespaces and the objects of the watched kinds, as they are now."""
    namespaces = sorted(
        n["metadata"]["name"]
        for n in kube.list("v1", "Namespace")
        if (n.get("status") or {}).get("phase") != "Terminating"
    )
    objects: dict[str, Obj] = {}
    for api_version, kind in (*CLUSTER_SCOPED, *NAMESPACED):
        for obj in kube.list(api_version, kind):
            obj = {**obj, "apiVersion": api_version, "kind": kind}
            meta = obj.get("metadata") or {}
            if _skipped(obj) or (meta.get("namespace") and meta["namespace"] not in namespaces):
                continue
            objects[_key(api_version, kind, meta["name"], meta.get("namespace"))] = clean(obj)
    if len(objects) > LIMIT:
        return {"namespaces": namespaces, "objects": {}, "skipped": f"{len(objects)} objects (more than {LIMIT})"}
    return {"namespaces": namespaces, "objects": objects, "volumes": _hand_made_volumes(kube)}


def _hand_made_volumes(kube: Kube) -> list[str]:
    """The PersistentVolumes no provisioner made (static volumes: someone created each by hand)."""
    return sorted(
        v["metadata"]["name"]
        for v in kube.list("v1", "PersistentVolume")
        if PROVISIONED_BY not in ((v.get("metadata") or {}).get("annotations") or {})
    )


def _new_volumes(before: Snapshot, now: Snapshot) -> list[str]:
    """Hand-made volumes that are there now and were not before (none when BEFORE did not count them)."""
    if "volumes" not in before:
        return []  # a snapshot taken by an older breakfix
    return sorted(set(now.get("volumes") or []) - set(before["volumes"]))


def _text(obj: Obj) -> str:
    return json.dumps(obj, sort_keys=True)


_ORDER = {kind: i for i, (_, kind) in enumerate((*CLUSTER_SCOPED, *NAMESPACED))}


def _ordered(keys: set[str]) -> list[str]:
    """Keys in the order objects are put back: cluster-wide RBAC first, then workloads, then the rest."""
    return sorted(keys, key=lambda k: (_ORDER.get(_split(k)[1], 99), k))


def _changes(before: Snapshot, now: Snapshot) -> tuple[list[str], list[str], list[str], list[str], list[str]]:
    """(namespaces gone, namespaces new, objects gone, objects changed, objects new), each in order."""
    was, cur = set(before["namespaces"]), set(now["namespaces"])
    old, new = before["objects"], now["objects"]
    changed = {k for k in set(old) & set(new) if _text(old[k]) != _text(new[k])}
    added = {k for k in set(new) - set(old) if _split(k)[2] is None or _split(k)[2] in was}
    return sorted(was - cur), sorted(cur - was), _ordered(set(old) - set(new)), _ordered(changed), _ordered(added)


def differences(before: Snapshot | None, kube: Kube) -> list[str]:
    """What differs from BEFORE, one phrase each (nothing when no snapshot was taken)."""
    if not before or before.get("skipped"):
        return []
    now = take(kube)
    gone_ns, new_ns, gone, changed, added = _changes(before, now)
    return (
        [f"namespace {n} was deleted" for n in gone_ns]
        + [f"namespace {n} was created" for n in new_ns]
        + [f"{describe(k)} was deleted" for k in gone]
        + [f"{describe(k)} was changed" for k in changed]
        + [f"{describe(k)} was created" for k in added]
        + [f"PersistentVolume {v} was created" for v in _new_volumes(before, now)]
    )


def _body(saved: Obj) -> Obj:
    return copy.deepcopy(saved)


def _put(kube: Kube, key: str, saved: Obj) -> None:
    """Give an object its saved content; an immutable field (422) means delete and create again."""
    try:
        kube.replace(_body(saved))
    except ApiRefused as exc:
        if exc.status != 422:
            raise
        api_version, kind, namespace, name = _split(key)
        kube.delete(api_version, kind, name, namespace)
        kube.create(_body(saved))


def restore(before: Snapshot | None, kube: Kube, log: Callable[[str], None]) -> list[str]:
    """Put the objects back as BEFORE has them, delete what was created beside the journal; what could
    not be put back, one line each."""
    if not before or before.get("skipped"):
        return []
    now = take(kube)
    gone_ns, new_ns, gone, changed, added = _changes(before, now)
    left: list[str] = []

    def attempt(todo: str, done: str, action: Callable[[], object]) -> None:
        try:
            action()
            log(f"  {done}")
        except BreakfixError as exc:
            left.append(f"could not {todo}: {exc}")

    for ns in gone_ns:
        what = f"namespace {ns} (deleted during the lab; only its watched objects come back)"
        attempt(f"put back {what}", f"put back {what}", partial(_create_namespace, kube, ns))
    for key in _ordered(set(gone) | set(changed)):
        what = f"{describe(key)} ({'deleted' if key in gone else 'changed'} during the lab)"
        attempt(f"put back {what}", f"put back {what}", partial(_put, kube, key, before["objects"][key]))
    for key in added:
        what = f"{describe(key)} (created during the lab)"
        attempt(f"remove {what}", f"removed {what}", partial(_delete, kube, key))
    for volume in _new_volumes(before, now):
        what = f"PersistentVolume {volume} (created by hand during the lab; its folder or disk is left alone)"
        attempt(f"remove {what}", f"removed {what}", partial(_delete, kube, f"v1|PersistentVolume||{volume}"))
    for ns in new_ns:
        what = f"namespace {ns} (created during the lab)"
        attempt(f"remove {what}", f"removed {what}", partial(_delete, kube, f"v1|Namespace||{ns}"))
    return left


def _delete(kube: Kube, key: str) -> None:
    api_version, kind, namespace, name = _split(key)
    kube.delete(api_version, kind, name, namespace)


def _create_namespace(kube: Kube, name: str) -> None:
    if kube.get("v1", "Namespace", name) is None:
        kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
