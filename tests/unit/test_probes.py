"""probes_kept: a probe must be there AND able to notice a dead app (the liveness-probe-port lab's checks)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from breakers import kube as kube_breakers
from breakfix.context import SessionState
from breakfix.state import State
from graders import workload
from tests.fakes import FakeKube

AS_DEPLOYED: dict[str, Any] = {
    "name": "web",
    "image": "breakfix.local/web:1",
    "ports": [{"name": "http", "containerPort": 80}],
    "readinessProbe": {"tcpSocket": {"port": 80}, "periodSeconds": 3},
    "livenessProbe": {"tcpSocket": {"port": 80}, "initialDelaySeconds": 3, "periodSeconds": 3, "failureThreshold": 2},
}


def cart(container: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "cart", "namespace": "store"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "cart"}},
            "template": {"metadata": {"labels": {"app": "cart"}}, "spec": {"containers": [container]}},
        },
    }


def judge(liveness: dict[str, Any] | None, **changes: Any) -> tuple[bool, str]:
    """Deploy the app, remember it as setup does, give it LIVENESS (and other CHANGES), grade its probes."""
    kube = FakeKube({"Deployment", "Pod"})
    kube.create(cart(copy.deepcopy(AS_DEPLOYED)))
    state = SessionState(State(), None)
    kube_breakers.remember(kube, state, "Deployment", "cart", "store")
    container = {**copy.deepcopy(AS_DEPLOYED), **changes}
    if liveness is None:
        container.pop("livenessProbe")
    else:
        container["livenessProbe"] = liveness
    kube.replace(cart(container))
    result = workload.probes_kept(kube, state, "cart", "store")
    return result.ok, result.message


@pytest.mark.parametrize(
    ("liveness", "says"),
    [
        (None, "web has no livenessProbe"),
        ({"tcpSocket": {"port": 8080}}, "port 8080, not a port the app was deployed to serve"),
        ({"exec": {"command": ["true"]}}, "succeeds whatever the app does"),
        ({"exec": {"command": ["/bin/sh", "-c", "exit 0"]}}, "succeeds whatever the app does"),
        ({"exec": {"command": ["sh", "-c", "wget -q -O- http://127.0.0.1/ || true"]}}, "made to succeed"),
        ({"exec": {"command": ["cat", "/tmp/healthy"]}}, "succeeds whatever the app does"),
        ({"exec": {"command": ["ps", "aux"]}}, "reaches no port of the app"),
        ({"exec": {"command": ["nc", "-z", "127.0.0.1", "8080"]}}, "tests port 8080"),
        ({"tcpSocket": {"port": 8080}, "initialDelaySeconds": 3600}, "8080"),
        ({"tcpSocket": {"port": 80}, "initialDelaySeconds": 3600}, "initialDelaySeconds"),
        (
            {"tcpSocket": {"port": 80}, "periodSeconds": 3, "failureThreshold": 10000},
            "periodSeconds x failureThreshold",
        ),
        ({"tcpSocket": {"port": 80}, "timeoutSeconds": 600}, "timeoutSeconds"),
        ({"tcpSocket": {"port": "metrics"}}, "does not declare (metrics)"),
        ({"tcpSocket": {"port": 80, "host": "10.96.0.1"}}, "checks 10.96.0.1, not the container"),
        ({"initialDelaySeconds": 3}, "it has no check"),
    ],
)
def test_a_probe_that_cannot_notice_a_dead_app_fails(liveness: dict[str, Any] | None, says: str) -> None:
    ok, message = judge(liveness)
    assert not ok and says in message, message


def test_declaring_the_wrong_port_does_not_make_the_app_serve_it() -> None:
    ports = [{"name": "http", "containerPort": 80}, {"name": "alt", "containerPort": 8080}]
    ok, message = judge({"tcpSocket": {"port": "alt"}, "initialDelaySeconds": 100}, ports=ports)
    assert not ok and "port 8080" in message


@pytest.mark.parametrize(
    "liveness",
    [
        {"tcpSocket": {"port": 80}},
        {"tcpSocket": {"port": "http"}},
        {"httpGet": {"path": "/", "port": 80}, "periodSeconds": 10, "failureThreshold": 3},
        {"httpGet": {"path": "/", "port": "http"}, "initialDelaySeconds": 120},
        {"exec": {"command": ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1/"]}},
        {"exec": {"command": ["sh", "-c", "timeout 5 wget -q -O- localhost:80 >/dev/null"]}},
        {"exec": {"command": ["nc", "-z", "127.0.0.1", "80"]}},
        {"exec": {"command": ["wget", "-q", "-O-", "localhost"]}},
        {"grpc": {"port": 80}},
    ],
)
def test_a_probe_that_tests_the_app_passes(liveness: dict[str, Any]) -> None:
    ok, message = judge(liveness)
    assert ok, message


def test_readiness_probes_are_judged_too() -> None:
    ok, message = judge(AS_DEPLOYED["livenessProbe"], readinessProbe={"exec": {"command": ["true"]}})
    assert not ok and "readinessProbe" in message


def test_only_the_probes_the_app_had_are_required() -> None:
    kube = FakeKube({"Deployment", "Pod"})
    kube.create(cart({"name": "web", "image": "x", "ports": [{"containerPort": 80}]}))
    state = SessionState(State(), None)
    kube_breakers.remember(kube, state, "Deployment", "cart", "store")
    assert workload.probes_kept(kube, state, "cart", "store").ok
