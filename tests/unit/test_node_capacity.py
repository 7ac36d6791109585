"""How many pods a node takes: the kubelet's maxPods set to what it runs (breakers), judged against the cluster's."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from breakers import node_capacity as breaker
from breakfix.changes import ChangeLog
from breakfix.errors import StepError
from breakfix.transport.node import Node
from graders import node_capacity
from tests.fakes import FakeKube, FakeTransport
from tests.unit.contexts import make_ctx

KUBELET = b"apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDriver: cgroupfs\n"


def pod(name: str, node: str, phase: str = "Running", deleting: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "default"}
    if deleting:
        meta["deletionTimestamp"] = "2026-12-03T00:00:00Z"
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": {"nodeName": node}, "status": {"phase": phase}}


def node_obj(name: str, pods: str | None) -> dict[str, Any]:
    status = {"capacity": {"pods": pods}} if pods else {}
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}, "status": status}


def test_the_limit_is_set_to_the_pods_that_count_on_the_node() -> None:
    kube = FakeKube({"Pod"})
    for p in (
        pod("a", "cp1"),
        pod("b", "cp1", phase="Pending"),
        pod("done", "cp1", phase="Succeeded"),
        pod("going", "cp1", deleting=True),
        pod("elsewhere", "w1"),
    ):
        kube.create(p)
    fake = FakeTransport({"/var/lib/kubelet/config.yaml": KUBELET})
    ctx = make_ctx(fake, kube)
    breaker.max_pods_to_running(ctx.node("cp1"), ChangeLog(ctx, "break"), kube)
    assert yaml.safe_load(fake.files["/var/lib/kubelet/config.yaml"])["maxPods"] == 2
    assert breaker.configured_max_pods(ctx.node("cp1")) == 2


def test_the_wait_ends_when_the_node_reports_the_configured_capacity(monkeypatch: pytest.MonkeyPatch) -> None:
    kube = FakeKube({"Node"})
    kube.create(node_obj("w1", "110"))
    worker = Node(
        "w1", "worker", FakeTransport({"/var/lib/kubelet/config.yaml": KUBELET + b"maxPods: 7\n"}), "10.0.0.3"
    )
    clock = [0.0]
    monkeypatch.setattr(breaker.time, "monotonic", lambda: clock[0])

    def later(seconds: float) -> None:
        clock[0] += seconds
        if clock[0] > 10:
            kube.replace(node_obj("w1", "7"))  # the restarted kubelet posts its status

    monkeypatch.setattr(breaker.time, "sleep", later)
    breaker.wait_pod_capacity(worker, kube)
    kube.replace(node_obj("w1", "110"))
    clock[0] = 0.0
    monkeypatch.setattr(breaker.time, "sleep", lambda s: clock.__setitem__(0, clock[0] + s))
    with pytest.raises(StepError, match="capacity of 110 pods, not 7"):
        breaker.wait_pod_capacity(worker, kube, timeout=20)


def cluster(max_pods: int | None = None, reported: str | None = "110") -> FakeKube:
    kube = FakeKube({"ConfigMap", "Node"})
    config = "kind: KubeletConfiguration\n" + (f"maxPods: {max_pods}\n" if max_pods else "")
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "kubelet-config", "namespace": "kube-system"},
            "data": {"kubelet": config},
        }
    )
    kube.create(node_obj("w1", reported))
    return kube


WORKER = Node("w1", "worker", FakeTransport(), "10.0.0.3")


def test_the_default_or_the_clusters_limit_passes_and_any_other_fails() -> None:
    assert node_capacity.pods_as_cluster(cluster(), WORKER, make_ctx(FakeTransport()).state).ok
    assert node_capacity.pods_as_cluster(
        cluster(max_pods=60, reported="60"), WORKER, make_ctx(FakeTransport()).state
    ).ok
    low = node_capacity.pods_as_cluster(cluster(reported="5"), WORKER, make_ctx(FakeTransport()).state)
    assert not low.ok and "takes 5 pods" in low.message and "says 110" in low.message
    high = node_capacity.pods_as_cluster(cluster(reported="500"), WORKER, make_ctx(FakeTransport()).state)
    assert not high.ok


def test_a_node_without_status_fails_and_an_unreadable_setting_is_an_error() -> None:
    assert not node_capacity.pods_as_cluster(cluster(reported=None), WORKER, make_ctx(FakeTransport()).state).ok
    kube = cluster()
    kube.objects[("v1", "ConfigMap", "kube-system", "kubelet-config")]["data"]["kubelet"] = "maxPods: lots\n"
    assert node_capacity.pods_as_cluster(kube, WORKER, make_ctx(FakeTransport()).state).status == "error"


def test_the_limit_noted_at_setup_wins_over_a_later_edit_of_the_config_map() -> None:
    from breakers import kubelet_config

    kube = cluster(reported="5")
    state = make_ctx(FakeTransport()).state
    kubelet_config.remember_cluster_config(kube, state)
    kube.patch("v1", "ConfigMap", "kubelet-config", "kube-system", {"data": {"kubelet": "maxPods: 5\n"}})
    result = node_capacity.pods_as_cluster(kube, WORKER, state)
    assert not result.ok and "says 110" in result.message
