"""graders.routing.by_selector: a Service routes by its own selector, through the controller's endpoints only."""

from __future__ import annotations

from typing import Any

import pytest

from graders.routing import by_selector
from tests.fakes import FakeKube

CONTROLLER = "endpointslice-controller.k8s.io"


def cluster(selector: dict[str, str] | None, *slices: tuple[str, str]) -> FakeKube:
    kube = FakeKube({"Service", "EndpointSlice", "Pod"})
    spec: dict[str, Any] = {"ports": [{"port": 80}]} | ({"selector": selector} if selector else {})
    kube.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"}, "spec": spec})
    for name, manager in slices:
        labels = {"kubernetes.io/service-name": "web", "endpointslice.kubernetes.io/managed-by": manager}
        kube.create(
            {
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "metadata": {"name": name, "namespace": "shop", "labels": labels},
                "endpoints": [{"addresses": ["10.0.0.2"]}],
            }
        )
    return kube


def test_a_service_with_its_selector_and_the_controllers_slices_passes() -> None:
    result = by_selector(cluster({"app": "web"}, ("web-abc", CONTROLLER)), "web", "shop")
    assert result.ok and "{'app': 'web'}" in result.message


@pytest.mark.parametrize(
    ("kube", "said"),
    [
        (cluster(None, ("web-abc", "endpointslicemirroring-controller.k8s.io")), "has no selector"),
        (cluster({"app": "web"}, ("web-abc", CONTROLLER), ("web-by-hand", "staff")), "EndpointSlice web-by-hand"),
        (cluster({"app": "web"}, ("web-by-hand", "staff")), "no controller keeps in step"),
    ],
    ids=["hand-endpoints", "hand-slice-beside", "hand-slice-alone"],
)
def test_endpoints_written_by_hand_fail_whatever_they_name(kube: FakeKube, said: str) -> None:
    result = by_selector(kube, "web", "shop")
    assert not result.ok and said in result.message


def pod(kube: FakeKube, name: str, owner: str | None) -> None:
    meta: dict[str, Any] = {"name": name, "namespace": "shop", "labels": {"app": "web"}}
    if owner:
        meta["ownerReferences"] = [{"kind": owner, "name": "web", "controller": True}]
    kube.create({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": {"nodeName": "cp1"}})


def test_a_pod_made_by_hand_among_the_backends_fails() -> None:
    kube = cluster({"app": "web"}, ("web-abc", CONTROLLER))
    pod(kube, "web-7f9-x", "ReplicaSet")
    pod(kube, "web-ds-1", "DaemonSet")  # a DaemonSet's backend on every node is a workload's
    assert by_selector(kube, "web", "shop").ok
    pod(kube, "web-pinned", None)  # pinned to the control plane with nodeName: no scheduler, no taint
    result = by_selector(kube, "web", "shop")
    assert not result.ok and "no workload keeps: web-pinned" in result.message


def test_a_missing_service_fails() -> None:
    result = by_selector(FakeKube({"Service", "EndpointSlice", "Pod"}), "web", "shop")
    assert not result.ok and "does not exist" in result.message
