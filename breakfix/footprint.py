"""What a lab touches on its cluster, so that labs that would interfere never run together on one cluster.

A footprint is drawn from the lab's own steps (setup, break, confirm, grade, solve and the alternative fixes),
never declared by hand: a step known to stay inside namespaces claims those namespaces (and the cluster-wide
objects its files create, by name); anything else, a node's services or files, the control plane, kube-system,
a setting every workload shares, or a step this table does not know, claims the whole cluster and runs alone.
Cautious on purpose: two labs run together only when neither can change what the other one's checks see.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import yaml

from breakfix.catalog import Lab
from breakfix.errors import BreakfixError
from breakfix.steps import Step, render

#: A claim on everything: the lab runs alone on its cluster.
WHOLE = "the whole cluster"

#: Steps that act only inside the namespaces they are given (or that their files name), whatever the lab.
IN_NAMESPACES = frozenset(
    {
        "breakers.kube.apply_manifest",
        "breakers.kube.wait_ready",
        "breakers.kube.wait_pods_gone",
        "breakers.kube.remember",
        "breakers.kube.keep",
        "breakers.kube.create_sentinel",
        "breakers.kube.patch",
        "breakers.kube.scale",
        "breakers.kube.delete",
        "breakers.kube.set_image",
        "breakers.kube.set_selector",
        "breakers.kube.edit_container",
        "breakers.pods.edit_init_container",
        "breakers.registry.copy_login",
        "breakers.registry.spoil_login",
        "breakers.workload_specs.wait_on_every_node",
        "breakers.metrics.wait_metrics",
        "breakers.metrics.wait_hpa_active",
    }
)

#: Steps that write a node's disk where nothing else looks (a volume's data, a scratch folder): they leave
#: the node itself as it was. The volume objects they make are claimed by name.
NODE_DATA = frozenset({"breakers.volumes.write_data", "breakers.volumes.create_volume", "breakers.files.scratch_dir"})

#: Namespaces whose objects every workload depends on (DNS, proxy, metrics, the control plane's pods).
SHARED_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})

#: Cluster-scoped kinds a lab creates under its own names (claimed by name: two labs never make the same one).
NAMED_CLUSTER_KINDS = frozenset({"PersistentVolume", "CertificateSigningRequest"})

#: Kinds whose objects live in a namespace and act only there; any kind not known here or above (a policy,
#: a flow schema, a CSI driver...) makes the lab run alone.
NAMESPACED_KINDS = frozenset(
    {
        "Pod",
        "Deployment",
        "ReplicaSet",
        "StatefulSet",
        "DaemonSet",
        "Job",
        "CronJob",
        "Service",
        "Endpoints",
        "EndpointSlice",
        "ConfigMap",
        "Secret",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "PersistentVolumeClaim",
        "LimitRange",
        "ResourceQuota",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "Ingress",
        "NetworkPolicy",
        "Lease",
    }
)

SECTIONS = ("setup", "break", "confirm", "grade", "solve")
CHECKS = ("confirm", "grade")


@dataclass(frozen=True)
class Footprint:
    """What one lab claims on its cluster."""

    lab: str
    claims: frozenset[str]
    why: str = ""  # for WHOLE: the first step that made it so (for authors; it names the fault)

    @property
    def alone(self) -> bool:
        """Whether the lab must run alone on its cluster."""
        return WHOLE in self.claims

    def clash(self, other: Footprint) -> str | None:
        """Why this lab and OTHER cannot run together on one cluster (without naming either fault), or None."""
        if self.alone:
            return f"{self.lab} needs the cluster to itself"
        if other.alone:
            return f"{other.lab} needs the cluster to itself"
        shared = sorted(self.claims & other.claims)
        return f"{self.lab} and {other.lab} both use {shared[0]}" if shared else None


def _default(step: Step, name: str) -> Any:
    param = step.params.get(name) or inspect.signature(step.fn).parameters.get(name)
    if param is None or param.default is inspect.Parameter.empty:
        return None
    return param.default


class _Alone(Exception):
    """The lab must run alone; the message says why (for authors: it may name the fault)."""


def _file_claims(lab: Lab, rel: str, namespace: str | None) -> set[str]:
    """The namespaces and named objects a lab file's objects claim (_Alone: the lab must run alone)."""
    try:
        text = (lab.folder / rel).read_text()
        rendered = str(render(text, lab.values, keep_unknown=True)) if lab.values else text
        docs = [doc for doc in yaml.safe_load_all(rendered) if doc is not None]
    except (OSError, UnicodeError, yaml.YAMLError) as exc:
        raise _Alone(f"{rel} cannot be read ({type(exc).__name__})") from None
    claims: set[str] = set()
    for doc in docs:
        meta = doc.get("metadata") if isinstance(doc, dict) else None
        if not isinstance(doc, dict) or not isinstance(meta, dict):
            raise _Alone(f"{rel} holds something that is not an object")
        claims |= _object_claims(rel, doc, meta, namespace)
    return claims


def _object_claims(rel: str, doc: dict[str, Any], meta: dict[str, Any], namespace: str | None) -> set[str]:
    """What one object of a lab file claims."""
    kind, name = str(doc.get("kind", "")), str(meta.get("name", ""))
    if kind == "Namespace":
        return {f"namespace {name}"}
    if _named(kind, name, doc, meta):
        claims = {f"{kind} {name}"}
        for subject in doc.get("subjects") or []:  # a binding reaches into its subjects' namespaces
            if isinstance(subject, dict) and subject.get("namespace"):
                claims.add(f"namespace {subject['namespace']}")
        return claims
    if kind not in NAMESPACED_KINDS:
        raise _Alone(f"{rel} makes a {kind or 'kindless object'}")
    ns = namespace or meta.get("namespace") or "default"
    if ns in SHARED_NAMESPACES:
        raise _Alone(f"{rel} puts a {kind} into {ns}")
    claims = {f"namespace {ns}"}
    if kind == "Service":
        for port in (doc.get("spec") or {}).get("ports") or []:
            if isinstance(port, dict) and port.get("nodePort"):
                claims.add(f"node port {port['nodePort']}")
    return claims


def _named(kind: str, name: str, doc: dict[str, Any], meta: dict[str, Any]) -> bool:
    """Whether a cluster-scoped object is the lab's own, under its own name, and reaches no other namespace's
    workloads (a role aggregated into the built-in ones, or a binding to a group, reaches them all)."""
    if kind == "ClusterRole":
        aggregated = any("aggregate-to-" in str(k) for k in (meta.get("labels") or {}))
        return not aggregated and not doc.get("aggregationRule") and not _system(name)
    if kind == "ClusterRoleBinding":
        subjects = [s for s in doc.get("subjects") or [] if isinstance(s, dict)]
        return not _system(name) and all(s.get("kind") == "ServiceAccount" for s in subjects)
    if kind == "StorageClass":  # a class of the lab's own; the default class is every claim's
        notes = meta.get("annotations") or {}
        return not any(k.endswith("is-default-class") and str(v) == "true" for k, v in notes.items())
    return kind in NAMED_CLUSTER_KINDS


def _system(name: str) -> bool:
    return name.startswith(("system:", "kubeadm:", "cluster-admin", "admin", "edit", "view"))


def _check_claims(step: Step) -> set[str]:
    """What a check claims: the namespace it reads (and may make throwaway objects in)."""
    namespace = step.kwargs.get("namespace", _default(step, "namespace"))
    if not isinstance(namespace, str) or not namespace or namespace in SHARED_NAMESPACES:
        return set()  # reading kube-system does not change it; a lab that changes it runs alone anyway
    return {f"namespace {namespace}"}


def _node_data_claims(step: Step) -> set[str]:
    """What a step that writes a node's disk claims: its folder and the volume it makes, by name."""
    node = step.kwargs.get("node", _default(step, "node"))
    if str(node).startswith("control-plane") and step.ref != "breakers.volumes.write_data":
        raise _Alone(f"{step.ref} on the control plane")
    claims = {f"node folder {step.kwargs[k]}" for k in ("folder", "path") if isinstance(step.kwargs.get(k), str)}
    if step.ref == "breakers.volumes.create_volume" and isinstance(step.kwargs.get("name"), str):
        claims.add(f"PersistentVolume {step.kwargs['name']}")
    return claims


def _step_claims(lab: Lab, step: Step, checks: bool) -> set[str]:
    """What one step claims (CHECKS: a confirm or grade step, which reads); _Alone: the lab must run alone."""
    if checks:
        return _check_claims(step)
    if step.ref in NODE_DATA:
        return _node_data_claims(step)
    if step.ref not in IN_NAMESPACES:
        raise _Alone(f"{step.ref} is not known to stay inside namespaces")
    kind = step.kwargs.get("kind", _default(step, "kind"))
    name = step.kwargs.get("name")
    if kind == "Namespace":
        return {f"namespace {name}"}
    if kind in NAMED_CLUSTER_KINDS:
        return {f"{kind} {name}"}
    if kind is not None and kind not in NAMESPACED_KINDS:
        raise _Alone(f"{step.ref} changes a {kind}")
    namespace = step.kwargs.get("namespace", _default(step, "namespace"))
    claims: set[str] = set()
    for key, rel in step.kwargs.items():
        if (key == "file" or key.endswith("_file")) and isinstance(rel, str):
            claims |= _file_claims(lab, rel, namespace if isinstance(namespace, str) else None)
    if isinstance(namespace, str) and namespace:
        if namespace in SHARED_NAMESPACES:
            raise _Alone(f"{step.ref} acts in {namespace}")
        claims.add(f"namespace {namespace}")
    elif not claims and kind is not None:
        claims.add("namespace default")
    return claims


#: footprints already drawn, by the lab object's identity (the object is kept so that its id stays its own)
_DRAWN: dict[int, tuple[Lab, Footprint]] = {}


def footprint(lab: Lab) -> Footprint:
    """What LAB claims on its cluster, drawn from its steps (a variant: with its values in; a lab with variables
    as written is judged by the variant of seed 0). Its alternatives count too: they are fixes a student may
    make while another lab runs. Drawn once per lab object: a draw weighs many pairs."""
    known = _DRAWN.get(id(lab))
    if known is not None and known[0] is lab:
        return known[1]
    if len(_DRAWN) >= 1024:
        _DRAWN.clear()
    found = _draw(lab)
    _DRAWN[id(lab)] = (lab, found)
    return found


def _draw(lab: Lab) -> Footprint:
    if lab.has_variables and lab.seed is None:
        lab = lab.variant(0)
    if "systemd" in lab.spec.requires or "static-pods" in lab.spec.requires:
        return Footprint(lab.id, frozenset({WHOLE}), "it needs node services or static pods")
    sections = [(section, lab.steps.get(section, [])) for section in SECTIONS]
    sections += [(f"alternatives.{name}", steps) for name, steps in lab.alternatives.items()]
    claims: set[str] = set()
    for section, steps in sections:
        for step in steps:
            try:
                claims |= _step_claims(lab, step, checks=section in CHECKS)
            except _Alone as why:
                return Footprint(lab.id, frozenset({WHOLE}), f"{section}: {why}")
    return Footprint(lab.id, frozenset(claims))


def first_clash(labs: list[Lab]) -> str | None:
    """Why LABS cannot run together on one cluster (the first pair that clashes), or None."""
    prints = [footprint(lab) for lab in labs]
    seen: set[str] = set()
    for lab in labs:
        if lab.id in seen:
            return f"{lab.id} is named twice"
        seen.add(lab.id)
    for i, one in enumerate(prints):
        for other in prints[i + 1 :]:
            why = one.clash(other)
            if why:
                return why
    return None


def refuse_clashes(labs: list[Lab], cluster: str) -> None:
    """Refuse LABS on one cluster when two of them would interfere (one line, naming no fault)."""
    if len(labs) < 2:
        return
    why = first_clash(labs)
    if why:
        raise BreakfixError(f"these labs cannot run together on {cluster}: {why}; start them on separate clusters")


def compatible(first: list[Lab], candidate: Lab) -> bool:
    """Whether CANDIDATE can join the labs already chosen for one cluster."""
    return first_clash([*first, candidate]) is None
