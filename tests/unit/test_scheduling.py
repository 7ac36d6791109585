"""graders.scheduling and breakers.scheduling: placement, node constraints, reservations, quotas and limit ranges."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from breakers import scheduling as sched_breakers
from breakfix.changes import ChangeLog
from breakfix.inventory import ClusterSpec, NodeSpec
from breakfix.transport.spec import TransportSpec
from graders import scheduling
from tests.fakes import FakeKube, FakeTransport
from tests.unit.contexts import make_ctx

CLUSTER = ClusterSpec(
    "t",
    "inventory",
    Path("/dev/null"),
    (
        NodeSpec("cp1", "control-plane", TransportSpec("local"), None),
        NodeSpec("w1", "worker", TransportSpec("local"), None),
    ),
    None,
    None,
    frozenset(),
)


def node(name: str, labels: dict[str, str] | None = None, cpu: str = "2", memory: str = "4Gi") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": {},
        "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": "110", "hugepages-2Mi": "0"}},
    }


def deployment(pod_spec: dict[str, Any], replicas: int = 2, ready: int = 2) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "app", "namespace": "ns", "generation": 1},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "app"}},
            "template": {"metadata": {"labels": {"app": "app"}}, "spec": pod_spec},
        },
        "status": {"observedGeneration": 1, "readyReplicas": ready, "updatedReplicas": ready},
    }


def pod(name: str, on: str | None, resources: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "web", "image": "busybox"}
    if resources is not None:
        container["resources"] = resources
    spec: dict[str, Any] = {"containers": [container], **extra}
    if on:
        spec["nodeName"] = on
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "ns", "labels": {"app": "app"}},
        "spec": spec,
        "status": {"phase": "Running" if on else "Pending"},
    }


def api(pod_spec: dict[str, Any], *pods: dict[str, Any], w1: dict[str, str] | None = None) -> FakeKube:
    kube = FakeKube({"Deployment", "Pod", "Node", "ResourceQuota", "LimitRange"})
    kube.create(node("cp1"))
    kube.create(node("w1", w1))
    kube.create(deployment(pod_spec))
    for p in pods:
        kube.create(p)
    return kube


# --- runs_on_workers ---------------------------------------------------------------------------------


def test_runs_on_workers_passes_when_every_pod_is_on_a_worker() -> None:
    kube = api({"containers": []}, pod("a", "w1"), pod("b", "w1"))
    result = scheduling.runs_on_workers(kube, CLUSTER, "app", "ns")
    assert result.ok, result.message


def test_runs_on_workers_fails_on_the_control_plane_and_pending_pods() -> None:
    kube = api({"containers": []}, pod("a", "cp1"), pod("b", None))
    result = scheduling.runs_on_workers(kube, CLUSTER, "app", "ns")
    assert not result.ok
    assert "a runs on cp1, which is not a worker" in result.message
    assert "b is not on any node" in result.message


def test_runs_on_workers_fails_when_the_template_binds_a_node_by_name() -> None:
    kube = api({"nodeName": "w1", "containers": []}, pod("a", "w1"))
    result = scheduling.runs_on_workers(kube, CLUSTER, "app", "ns")
    assert not result.ok and "bound to node w1 by name" in result.message


def test_runs_on_workers_checks_the_node_labels() -> None:
    kube = api({"containers": []}, pod("a", "w1"))
    result = scheduling.runs_on_workers(kube, CLUSTER, "app", "ns", node_labels={"disktype": "ssd"})
    assert not result.ok and "lacks disktype=ssd" in result.message
    kube = api({"containers": []}, pod("a", "w1"), w1={"disktype": "ssd"})
    assert scheduling.runs_on_workers(kube, CLUSTER, "app", "ns", node_labels={"disktype": "ssd"}).ok


def test_runs_on_workers_fails_without_pods() -> None:
    result = scheduling.runs_on_workers(api({"containers": []}), CLUSTER, "app", "ns")
    assert not result.ok and "no running pod" in result.message


# --- requires_node_label -----------------------------------------------------------------------------


def affinity(*exprs: dict[str, Any], fields: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    term: dict[str, Any] = {"matchExpressions": list(exprs)}
    if fields:
        term["matchFields"] = fields
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}}


@pytest.mark.parametrize(
    "spec",
    [
        {"nodeSelector": {"disktype": "ssd"}},
        {"affinity": affinity({"key": "disktype", "operator": "In", "values": ["ssd"]})},
        {"nodeSelector": {"disktype": "ssd", "kubernetes.io/os": "linux"}},
    ],
    ids=["selector", "affinity-in", "narrower"],
)
def test_requires_node_label_passes_for_each_way_of_saying_it(spec: dict[str, Any]) -> None:
    kube = api({**spec, "containers": []}, w1={"disktype": "ssd", "kubernetes.io/os": "linux"})
    result = scheduling.requires_node_label(kube, "app", "disktype", "ssd", "ns")
    assert result.ok, result.message


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ({}, "could land on nodes that are not disktype=ssd"),
        ({"affinity": affinity({"key": "disktype", "operator": "Exists"})}, "could land"),
        ({"affinity": affinity({"key": "disktype", "operator": "NotIn", "values": ["hdd"]})}, "could land"),
        ({"affinity": affinity(fields=[{"key": "metadata.name", "operator": "In", "values": ["w1"]}])}, "could land"),
        ({"nodeSelector": {"disktype": "sdd"}}, "fit none of the nodes labelled disktype=ssd (w1)"),
    ],
    ids=["none", "exists", "not-in", "by-name", "typo"],
)
def test_requires_node_label_fails_too_wide_or_wrong(spec: dict[str, Any], says: str) -> None:
    kube = api({**spec, "containers": []}, w1={"disktype": "ssd"})
    result = scheduling.requires_node_label(kube, "app", "disktype", "ssd", "ns")
    assert not result.ok and says in result.message


def test_requires_node_label_fails_when_the_nodes_were_relabelled_to_match() -> None:
    kube = api({"nodeSelector": {"disktype": "sdd"}, "containers": []}, w1={"disktype": "sdd"})
    result = scheduling.requires_node_label(kube, "app", "disktype", "ssd", "ns")
    assert not result.ok and "w1" in result.message


def test_admits_reads_gt_lt_and_empty_terms() -> None:
    spec = {"affinity": affinity({"key": "gen", "operator": "Gt", "values": ["3"]})}
    assert scheduling.admits(spec, {"gen": "4"})
    assert not scheduling.admits(spec, {"gen": "3"})
    assert not scheduling.admits(spec, {"gen": "x"})
    empty = {
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{}]}}}
    }
    assert not scheduling.admits(empty, {"gen": "4"})


# --- requests_kept -----------------------------------------------------------------------------------


def test_requests_kept_passes_for_sane_requests() -> None:
    res = {"requests": {"cpu": "250m", "memory": "128Mi"}}
    kube = api({"containers": []}, pod("a", "w1", res), pod("b", "w1", res))
    result = scheduling.requests_kept(kube, CLUSTER, "app", "ns", at_least={"cpu": "200m", "memory": "64Mi"})
    assert result.ok, result.message
    assert "cpu 250m, memory 128Mi" in result.message


@pytest.mark.parametrize(
    ("resources", "says"),
    [
        (None, "web reserves no cpu"),
        ({"requests": {"memory": "128Mi"}}, "web reserves no cpu"),
        ({"requests": {"cpu": "1m", "memory": "128Mi"}}, "reserves 1m of cpu, less than the 200m it needs"),
        ({"requests": {"cpu": "3", "memory": "128Mi"}}, "more than any worker can offer"),
        ({"requests": {"cpu": "1", "memory": "48Gi"}}, "more than any worker can offer"),
    ],
    ids=["none", "no-cpu", "too-little", "too-much-cpu", "too-much-memory"],
)
def test_requests_kept_fails(resources: dict[str, Any] | None, says: str) -> None:
    kube = api({"containers": []}, pod("a", "w1", resources))
    result = scheduling.requests_kept(kube, CLUSTER, "app", "ns", at_least={"cpu": "200m"})
    assert not result.ok and says in result.message, result.message


def test_requests_kept_fails_without_pods() -> None:
    result = scheduling.requests_kept(api({"containers": []}), CLUSTER, "app", "ns")
    assert not result.ok and "no pod" in result.message


def test_cpu_and_amounts() -> None:
    assert scheduling.parse_cpu("250m") == 250
    assert scheduling.parse_cpu("0.5") == 500
    assert scheduling.parse_cpu(2) == 2000
    assert scheduling.amount("requests.memory", "1Gi") == 2**30
    assert scheduling.amount("pods", "10") == 10
    with pytest.raises(ValueError):
        scheduling.parse_cpu("lots")


# --- ready_replicas ----------------------------------------------------------------------------------


def test_ready_replicas() -> None:
    kube = FakeKube({"Deployment"})
    kube.create(deployment({"containers": []}, replicas=4, ready=4))
    assert scheduling.ready_replicas(kube, "app", 4, "ns").ok
    kube.patch("apps/v1", "Deployment", "app", "ns", {"status": {"readyReplicas": 2}})
    result = scheduling.ready_replicas(kube, "app", 4, "ns")
    assert not result.ok and "2/4" in result.message
    kube.patch("apps/v1", "Deployment", "app", "ns", {"spec": {"replicas": 2}})
    result = scheduling.ready_replicas(kube, "app", 4, "ns")
    assert not result.ok and "asks for 2 replicas" in result.message


# --- quota_caps and limit_caps -----------------------------------------------------------------------


def quota(name: str, hard: dict[str, str], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": name, "namespace": "ns"},
        "spec": {"hard": hard, **spec},
    }


def test_quota_caps() -> None:
    kube = FakeKube({"ResourceQuota"})
    result = scheduling.quota_caps(kube, "ns", "requests.cpu", "1")
    assert not result.ok and "no quota on requests.cpu" in result.message
    kube.create(quota("wide", {"requests.cpu": "64"}))
    result = scheduling.quota_caps(kube, "ns", "requests.cpu", "1")
    assert not result.ok and "64000m" in result.message
    kube.create(quota("some", {"cpu": "500m"}, scopes=["BestEffort"]))  # counts only some pods
    assert not scheduling.quota_caps(kube, "ns", "requests.cpu", "1").ok
    kube.create(quota("compute", {"cpu": "800m"}))  # cpu is requests.cpu
    result = scheduling.quota_caps(kube, "ns", "requests.cpu", "1")
    assert result.ok and "compute" in result.message


def limit_range(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": {"name": "lr", "namespace": "ns"},
        "spec": {"limits": items},
    }


def test_limit_caps() -> None:
    kube = FakeKube({"LimitRange"})
    assert not scheduling.limit_caps(kube, "ns", "memory", "512Mi").ok
    kube.create(limit_range([{"type": "Container", "max": {"memory": "2Gi"}}]))
    result = scheduling.limit_caps(kube, "ns", "memory", "512Mi")
    assert not result.ok and "2048Mi" in result.message
    kube.replace(limit_range([{"type": "Container", "max": {"memory": "256Mi"}}]))
    assert scheduling.limit_caps(kube, "ns", "memory", "512Mi").ok
    kube.replace(limit_range([{"type": "Container", "default": {"memory": "256Mi"}}]))
    assert not scheduling.limit_caps(kube, "ns", "memory", "512Mi").ok


# --- breakers ------------------------------------------------------------------------------------------


def test_cordon_and_label_workers_are_journaled() -> None:
    kube = FakeKube({"Node"})
    kube.create(node("cp1"))
    kube.create(node("w1"))
    ctx = make_ctx(FakeTransport(), kube)
    changes = ChangeLog(ctx, "break")
    sched_breakers.cordon_workers(changes, CLUSTER)
    sched_breakers.label_workers(changes, kube, CLUSTER, {"disktype": "ssd"})
    w1 = kube.get("v1", "Node", "w1") or {}
    assert w1["spec"]["unschedulable"] is True and w1["metadata"]["labels"]["disktype"] == "ssd"
    assert "unschedulable" not in (kube.get("v1", "Node", "cp1") or {})["spec"]
    sched_breakers.uncordon_workers(changes, CLUSTER)
    assert "unschedulable" not in (kube.get("v1", "Node", "w1") or {})["spec"]
    assert len(ctx.store.journal(ctx.cluster.name, 0)) == 3


def test_breakers_refuse_a_cluster_without_workers() -> None:
    lone = ClusterSpec("t", "inventory", Path("/dev/null"), CLUSTER.nodes[:1], None, None, frozenset())
    ctx = make_ctx(FakeTransport(), FakeKube({"Node"}))
    with pytest.raises(Exception, match="no worker"):
        sched_breakers.cordon_workers(ChangeLog(ctx, "break"), lone)
