"""The oom-limit-too-low lab's checks: the pods' effective memory limits, and the app left as it was."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from breakers import kube as kube_breakers
from breakfix.context import SessionState
from breakfix.state import State
from graders import workload
from tests.fakes import FakeKube

COMMAND = ["sh", "-c", 'data=$(head -c 67108864 /dev/zero | tr "\\0" r); while true; do sleep 3600; done']
AS_DEPLOYED: dict[str, Any] = {
    "name": "reporter",
    "image": "docker.io/library/busybox:1.36.1",
    "imagePullPolicy": "IfNotPresent",
    "command": COMMAND,
    "resources": {"requests": {"memory": "128Mi"}, "limits": {"memory": "256Mi"}},
}


def reporter(container: dict[str, Any], updated: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "reporter", "namespace": "reports", "generation": 3},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "reporter"}},
            "template": {"metadata": {"labels": {"app": "reporter"}}, "spec": {"containers": [container]}},
        },
        "status": {"observedGeneration": 3, "replicas": 1, "updatedReplicas": updated, "readyReplicas": 1},
    }


def pod(name: str, resources: dict[str, Any] | None, node: str = "w1", **meta: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "reporter", "image": "busybox:1.36.1"}
    if resources is not None:
        container["resources"] = resources
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "reports", "labels": {"app": "reporter"}, **meta},
        "spec": {"nodeName": node, "containers": [container]},
        "status": {"phase": "Running"},
    }


def cluster(template_resources: dict[str, Any] | None, *pods: dict[str, Any], updated: int = 1) -> FakeKube:
    kube = FakeKube({"Deployment", "Pod", "Node"})
    container = copy.deepcopy(AS_DEPLOYED)
    container.pop("resources")
    if template_resources is not None:
        container["resources"] = template_resources
    kube.create(reporter(container, updated))
    kube.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "w1"},
                 "status": {"allocatable": {"memory": "4010516Ki"}}})  # fmt: skip
    for p in pods:
        kube.create(p)
    return kube


LIMIT = {"limits": {"memory": "256Mi"}}


@pytest.mark.parametrize(
    ("template", "running", "ok", "says"),
    [
        (LIMIT, LIMIT, True, "reporter: 256Mi"),
        ({"limits": {"memory": "2Gi"}}, {"limits": {"memory": "2Gi"}}, True, "reporter: 2Gi"),  # no cap in the task
        (None, LIMIT, True, "reporter: 256Mi"),  # a LimitRange's default, given at admission
        (None, None, False, "runs without a memory limit"),
        ({"requests": {"memory": "64Mi"}}, {"requests": {"memory": "64Mi"}}, False, "without a memory limit"),
        ({"limits": {"memory": "64Gi"}}, {"limits": {"memory": "64Gi"}}, False, "above what node w1 has (3916Mi)"),
        (LIMIT, {"limits": {"memory": "1Gi"}}, False, "runs with a limit of 1Gi, but Deployment reporter gives"),
    ],
)
def test_memory_limited_judges_the_running_pods(
    template: dict[str, Any] | None, running: dict[str, Any] | None, ok: bool, says: str
) -> None:
    result = workload.memory_limited(cluster(template, pod("reporter-1", running)), "reporter", "reports")
    assert result.ok is ok and says in result.message, result.message


def test_memory_limited_leaves_old_and_terminating_pods_out() -> None:
    gone = pod("reporter-0", None, deletionTimestamp="2026-01-01T00:00:00Z")
    kube = cluster(LIMIT, gone, pod("reporter-1", LIMIT))
    assert workload.memory_limited(kube, "reporter", "reports").ok
    # mid-rollout, an old pod's other limit is not an in-place change
    kube = cluster(LIMIT, pod("reporter-0", {"limits": {"memory": "64Mi"}}), pod("reporter-1", LIMIT), updated=0)
    assert workload.memory_limited(kube, "reporter", "reports").ok
    assert not workload.memory_limited(cluster(LIMIT), "reporter", "reports").ok  # no pod to judge
    capped = workload.memory_limited(cluster(LIMIT, pod("reporter-1", LIMIT)), "reporter", "reports", at_most=2**27)
    assert not capped.ok and "above 128Mi" in capped.message


def remembered(kube: FakeKube) -> SessionState:
    state = SessionState(State(), None)
    kube_breakers.remember(kube, state, "Deployment", "reporter", "reports")
    return state


def test_app_unchanged_lets_resources_change_but_not_the_app() -> None:
    kube = FakeKube({"Deployment", "Pod"})
    kube.create(reporter(copy.deepcopy(AS_DEPLOYED)))
    state = remembered(kube)
    assert workload.app_unchanged(kube, state, "reporter", "reports").ok
    bigger = {**copy.deepcopy(AS_DEPLOYED), "resources": {"limits": {"memory": "2Gi"}}}
    kube.replace(reporter(bigger))
    assert workload.app_unchanged(kube, state, "reporter", "reports").ok
    respelled = {k: v for k, v in AS_DEPLOYED.items() if k not in ("resources", "imagePullPolicy")}
    kube.replace(reporter({**respelled, "image": "busybox:1.36.1", "imagePullPolicy": "Never"}))
    assert workload.app_unchanged(kube, state, "reporter", "reports").ok
    lighter = {**copy.deepcopy(AS_DEPLOYED), "command": ["sh", "-c", "while true; do sleep 3600; done"]}
    kube.replace(reporter(lighter))
    result = workload.app_unchanged(kube, state, "reporter", "reports")
    assert not result.ok and "reporter: command changed" in result.message
    kube.replace(reporter({**copy.deepcopy(AS_DEPLOYED), "env": [{"name": "ROWS", "value": "10"}]}))
    assert "reporter: env changed" in workload.app_unchanged(kube, state, "reporter", "reports").message
    sidecar = reporter(copy.deepcopy(AS_DEPLOYED))
    sidecar["spec"]["template"]["spec"]["initContainers"] = [{"name": "trim", "image": "busybox:1.36.1"}]
    kube.replace(sidecar)
    assert "container trim was added" in workload.app_unchanged(kube, state, "reporter", "reports").message


def test_app_unchanged_needs_the_setup_record() -> None:
    kube = FakeKube({"Deployment", "Pod"})
    kube.create(reporter(copy.deepcopy(AS_DEPLOYED)))
    assert workload.app_unchanged(kube, SessionState(State(), None), "reporter", "reports").status == "error"
