"""The svc-wrong-selector graders judge the selector against workloads, not just today's endpoints."""

from __future__ import annotations

from typing import Any

import pytest

from breakfix.context import SessionState
from breakfix.state import State
from graders.service import endpoints_match, not_redeployed, template_hash
from tests.fakes import FakeKube

NS = "shop"


def deployment(name: str, labels: dict[str, str], replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": labels["app"]}},
            "template": {"metadata": {"labels": labels}},
        },
    }


def pod(name: str, labels: dict[str, str], ip: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, "labels": labels},
        "status": {"podIP": ip, "conditions": [{"type": "Ready", "status": "True"}]},
    }


@pytest.fixture
def kube() -> FakeKube:
    k = FakeKube({"Deployment", "Pod", "Service", "EndpointSlice"})
    k.create(deployment("web", {"app": "web", "tier": "web"}, 2))
    k.create(deployment("web-canary", {"app": "web-canary", "tier": "web"}, 1))
    k.create(pod("web-1", {"app": "web", "tier": "web"}, "10.0.0.1"))
    k.create(pod("web-2", {"app": "web", "tier": "web"}, "10.0.0.2"))
    k.create(pod("canary-1", {"app": "web-canary", "tier": "web"}, "10.0.0.3"))
    return k


def route(kube: FakeKube, selector: dict[str, str], ips: list[str]) -> None:
    kube.delete("v1", "Service", "web", NS)
    kube.delete("discovery.k8s.io/v1", "EndpointSlice", "web-x", NS)
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": NS},
            "spec": {"selector": selector},
        }
    )
    kube.create(
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {"name": "web-x", "namespace": NS, "labels": {"kubernetes.io/service-name": "web"}},
            "endpoints": [{"addresses": [ip], "conditions": {"ready": True}} for ip in ips],
        }
    )


def test_the_fix_passes(kube: FakeKube) -> None:
    route(kube, {"app": "web"}, ["10.0.0.1", "10.0.0.2"])
    assert endpoints_match(kube, "web", "web", NS).ok


def test_no_endpoints_fails(kube: FakeKube) -> None:
    route(kube, {"app.kubernetes.io/name": "web"}, [])
    assert not endpoints_match(kube, "web", "web", NS).ok


def test_pods_relabelled_by_hand_fail(kube: FakeKube) -> None:
    for name in ("web-1", "web-2"):
        kube.patch("v1", "Pod", name, NS, {"metadata": {"labels": {"app.kubernetes.io/name": "web"}}})
    route(kube, {"app.kubernetes.io/name": "web"}, ["10.0.0.1", "10.0.0.2"])
    result = endpoints_match(kube, "web", "web", NS)
    assert not result.ok and "pod template" in result.message


def test_wide_selector_fails_even_with_the_canary_scaled_down(kube: FakeKube) -> None:
    kube.delete("v1", "Pod", "canary-1", NS)
    route(kube, {"tier": "web"}, ["10.0.0.1", "10.0.0.2"])
    result = endpoints_match(kube, "web", "web", NS)
    assert not result.ok and "web-canary" in result.message


def test_scaling_a_workload_counts_as_touching_it(kube: FakeKube) -> None:
    state = SessionState(State(), None)
    canary = kube.get("apps/v1", "Deployment", "web-canary", NS)
    state.set(
        f"remember:Deployment:{NS}/web-canary",
        {"uid": canary["metadata"]["uid"], "template": template_hash(canary), "replicas": 1},
    )
    assert not_redeployed(kube, state, "web-canary", NS).ok
    kube.patch("apps/v1", "Deployment", "web-canary", NS, {"spec": {"replicas": 0}})
    result = not_redeployed(kube, state, "web-canary", NS)
    assert not result.ok and "scaled" in result.message
