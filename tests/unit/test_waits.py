"""breakers.waits: wait for pods to be there (and none leaving) before a step that needs them."""

from __future__ import annotations

from typing import Any

import pytest

from breakers.waits import pods_present
from breakfix.errors import StepError
from tests.fakes import FakeKube


def pod(name: str, leaving: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "shop", "labels": {"app": "api"}}
    if leaving:
        meta["deletionTimestamp"] = "2026-12-02T07:00:00Z"
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta}


def test_returns_once_enough_pods_are_there_and_none_is_leaving(monkeypatch: pytest.MonkeyPatch) -> None:
    kube = FakeKube({"Pod"})
    kube.create(pod("old", leaving=True))
    seen: list[int] = []

    def sleep(_s: float) -> None:  # the rollout goes on while the step waits
        seen.append(len(kube.objects))
        kube.delete("v1", "Pod", "old", "shop")
        kube.create(pod(f"new-{len(seen)}"))

    monkeypatch.setattr("breakers.waits.time.sleep", sleep)
    pods_present(kube, "shop", "app=api", count=2)
    assert len(seen) == 2 and sorted(n for (_, _, _, n) in kube.objects) == ["new-1", "new-2"]


def test_says_how_many_it_found_when_time_is_up() -> None:
    kube = FakeKube({"Pod"})
    with pytest.raises(StepError, match=r"pods app=api in shop: 0 of 1 after 0s"):
        pods_present(kube, "shop", "app=api", timeout=0)


def test_a_rollout_is_reached_when_every_pod_comes_from_the_current_template(monkeypatch: pytest.MonkeyPatch) -> None:
    from breakers.waits import rollout_reached

    kube = FakeKube({"Deployment"})
    status = {"observedGeneration": 2, "replicas": 4, "updatedReplicas": 2}  # old pods still there
    kube.create(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "api", "namespace": "shop", "generation": 2},
            "spec": {"replicas": 2},
            "status": status,
        }
    )
    waited: list[float] = []

    def sleep(s: float) -> None:
        waited.append(s)
        kube.objects[("apps/v1", "Deployment", "shop", "api")]["status"]["replicas"] = 2

    monkeypatch.setattr("breakers.waits.time.sleep", sleep)
    rollout_reached(kube, "api", "shop")
    assert waited == [2]
    with pytest.raises(StepError, match="did not reach its pods"):
        kube.objects[("apps/v1", "Deployment", "shop", "api")]["metadata"]["generation"] = 3
        rollout_reached(kube, "api", "shop", timeout=0)
