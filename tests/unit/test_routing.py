"""graders.routing.by_selector: a Service routes by its own selector, through the controller's endpoints only."""

from __future__ import annotations

from typing import Any

import pytest

from graders.routing import by_selector
from tests.fakes import FakeKube

CONTROLLER = "endpointslice-controller.k8s.io"


def cluster(selector: dict[str, str] | None, *slices: tuple[str, str]) -> FakeKube:
    kube = FakeKube({"Service", "EndpointSlice"})
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


def test_a_missing_service_fails() -> None:
    result = by_selector(FakeKube({"Service", "EndpointSlice"}), "web", "shop")
    assert not result.ok and "does not exist" in result.message
