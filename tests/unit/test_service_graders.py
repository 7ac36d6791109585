"""The svc-wrong-selector graders judge the selector against workloads, not just today's endpoints."""

from __future__ import annotations

from typing import Any

import pytest

from breakers import kube as kube_breakers
from breakfix.changes import ChangeLog
from breakfix.context import SessionState
from breakfix.state import State
from breakfix.undo import replay
from graders.service import MANAGED_BY, SLICE_CONTROLLER, endpoints_match, not_redeployed, template_hash
from tests.fakes import FakeKube, FakeTransport
from tests.unit.contexts import make_ctx

NS = "shop"
SKIP_MIRROR = "endpointslice.kubernetes.io/skip-mirror"


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
    k = FakeKube({"Deployment", "Pod", "Service", "EndpointSlice", "Endpoints"})
    k.create(deployment("web", {"app": "web", "tier": "web"}, 2))
    k.create(deployment("web-canary", {"app": "web-canary", "tier": "web"}, 1))
    k.create(pod("web-1", {"app": "web", "tier": "web"}, "10.0.0.1"))
    k.create(pod("web-2", {"app": "web", "tier": "web"}, "10.0.0.2"))
    k.create(pod("canary-1", {"app": "web-canary", "tier": "web"}, "10.0.0.3"))
    return k


def route(kube: FakeKube, selector: dict[str, str], ips: list[str]) -> None:
    """The Service with SELECTOR, and the slice the EndpointSlice controller keeps for it."""
    kube.delete("v1", "Service", "web", NS)
    kube.delete("discovery.k8s.io/v1", "EndpointSlice", "web-x", NS)
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": NS},
            "spec": {"selector": selector, "ports": [{"port": 80, "targetPort": 80, "protocol": "TCP"}]},
        }
    )
    labels = {"kubernetes.io/service-name": "web", MANAGED_BY: SLICE_CONTROLLER}
    kube.create(
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {"name": "web-x", "namespace": NS, "labels": labels},
            "endpoints": [{"addresses": [ip], "conditions": {"ready": True}} for ip in ips],
        }
    )


def mirror(kube: FakeKube) -> None:
    """What the EndpointSlice mirroring controller does with Endpoints of a Service that has no selector."""
    endpoints = kube.get("v1", "Endpoints", "web", NS)
    assert endpoints is not None and not (endpoints["metadata"].get("labels") or {}).get(SKIP_MIRROR)
    kube.create(
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": "web-mirrored",
                "namespace": NS,
                "labels": {"kubernetes.io/service-name": "web", MANAGED_BY: "endpointslicemirroring-controller.k8s.io"},
            },
            "endpoints": [
                {"addresses": [a["ip"]], "conditions": {"ready": True}}
                for subset in endpoints["subsets"]
                for a in subset["addresses"]
            ],
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


def test_endpoints_written_by_hand_do_not_count(kube: FakeKube) -> None:
    route(kube, {"app.kubernetes.io/name": "web"}, [])  # the break: the controller's slice is empty
    kube.create(  # the endpoints controller's object, which the mirroring controller leaves alone
        {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": "web", "namespace": NS, "labels": {SKIP_MIRROR: "true"}},
        }
    )
    ctx = make_ctx(FakeTransport(), kube)
    kube_breakers.endpoints_by_hand(ChangeLog(ctx, "cheat"), kube, "web", {"app": "web"}, NS)
    svc = kube.get("v1", "Service", "web", NS)
    assert svc is not None and "selector" not in svc["spec"]
    endpoints = kube.get("v1", "Endpoints", "web", NS)
    assert endpoints is not None and endpoints["subsets"] == [
        {"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 80, "protocol": "TCP"}]}
    ]
    mirror(kube)
    result = endpoints_match(kube, "web", "web", NS)
    assert not result.ok and "no selector" in result.message
    replay(ctx)  # reset puts the controller's Endpoints and the selector back
    kube.delete("discovery.k8s.io/v1", "EndpointSlice", "web-mirrored", NS)  # the mirroring controller's part
    svc = kube.get("v1", "Service", "web", NS)
    assert svc is not None and svc["spec"]["selector"] == {"app.kubernetes.io/name": "web"}
    endpoints = kube.get("v1", "Endpoints", "web", NS)
    assert endpoints is not None and endpoints["metadata"]["labels"] == {SKIP_MIRROR: "true"}


def test_a_slice_of_ones_own_beside_the_selector_does_not_count(kube: FakeKube) -> None:
    route(kube, {"app": "web"}, [])  # say the controller's slice names the wrong port: nobody answers
    ctx = make_ctx(FakeTransport(), kube)
    kube_breakers.endpoints_by_hand(ChangeLog(ctx, "cheat"), kube, "web", {"app": "web"}, NS, port=80, slice_only=True)
    slice_ = kube.get("discovery.k8s.io/v1", "EndpointSlice", "web-by-hand", NS)
    assert slice_ is not None and slice_["ports"] == [{"name": "", "port": 80, "protocol": "TCP"}]
    result = endpoints_match(kube, "web", "web", NS)
    assert not result.ok and "web-by-hand" in result.message
    replay(ctx)
    assert kube.get("discovery.k8s.io/v1", "EndpointSlice", "web-by-hand", NS) is None


def test_hand_endpoints_need_ready_pods(kube: FakeKube) -> None:
    route(kube, {"app": "web"}, [])
    with pytest.raises(Exception, match="no ready pod"):
        kube_breakers.endpoints_by_hand(
            ChangeLog(make_ctx(FakeTransport(), kube), "cheat"), kube, "web", {"app": "x"}, NS
        )


def test_a_selector_with_both_labels_is_another_valid_fix(kube: FakeKube) -> None:
    route(kube, {"app": "web", "tier": "web"}, ["10.0.0.1", "10.0.0.2"])
    assert endpoints_match(kube, "web", "web", NS).ok
