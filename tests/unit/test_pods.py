"""graders.pods and breakers.pods: settings from ConfigMaps and Secrets, probes that bite, init containers."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from breakers import kube as kube_breakers
from breakers import pods as pod_breakers
from breakfix.changes import ChangeLog
from breakfix.context import SessionState
from breakfix.errors import StepError
from breakfix.state import State
from breakfix.undo import replay
from graders import pods
from tests.fakes import FakeKube, FakeTransport
from tests.unit.contexts import make_ctx


def deployment(container: dict[str, Any], init: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [container]}
    if init is not None:
        spec["initContainers"] = init
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "app", "namespace": "ns"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "app"}},
            "template": {"metadata": {"labels": {"app": "app"}}, "spec": spec},
        },
    }


# setting_from -------------------------------------------------------------------------------------------

CM_REF = {"name": "CURRENCY", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "currency"}}}
SECRET_REF = {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "api-token"}}}


def world(env: list[dict[str, Any]], env_from: list[dict[str, Any]] | None = None) -> FakeKube:
    kube = FakeKube({"Deployment", "ConfigMap", "Secret"})
    container: dict[str, Any] = {"name": "web", "image": "busybox", "env": env}
    if env_from is not None:
        container["envFrom"] = env_from
    kube.create(deployment(container))
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": "ns"},
            "data": {"currency": "EUR"},
        }
    )
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "creds", "namespace": "ns"},
            "data": {"api-token": "dG9r"},
        }
    )
    return kube


def test_a_required_reference_to_an_existing_key_passes() -> None:
    result = pods.setting_from(world([CM_REF]), "app", "web", "CURRENCY", namespace="ns")
    assert result.ok and "ConfigMap settings" in result.message
    assert pods.setting_from(world([SECRET_REF]), "app", "web", "TOKEN", source="secret", namespace="ns").ok


def test_a_whole_configmap_as_environment_counts_when_it_holds_the_key() -> None:
    kube = world([], [{"configMapRef": {"name": "settings"}, "prefix": ""}])
    assert not pods.setting_from(kube, "app", "web", "CURRENCY", namespace="ns").ok  # no key CURRENCY
    kube = world([], [{"configMapRef": {"name": "settings"}}])
    assert pods.setting_from(kube, "app", "web", "currency", namespace="ns").ok
    kube = world([], [{"configMapRef": {"name": "settings"}, "prefix": "APP_"}])
    assert pods.setting_from(kube, "app", "web", "APP_currency", namespace="ns").ok


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ([{"name": "CURRENCY", "value": "EUR"}], "written into the pod template"),
        ([CM_REF, {"name": "CURRENCY", "value": "EUR"}], "written into the pod template"),  # the last one wins
        (
            [
                {
                    "name": "CURRENCY",
                    "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "currency", "optional": True}},
                }
            ],
            "marked optional",
        ),
        ([{"name": "CURRENCY", "valueFrom": {"configMapKeyRef": {"name": "gone", "key": "currency"}}}], "not exist"),
        ([{"name": "CURRENCY", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "cur"}}}], "no key 'cur'"),
        ([{"name": "CURRENCY", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "api-token"}}}], "secretKeyRef"),
        ([{"name": "CURRENCY", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}], "fieldRef"),
        ([], "gets no CURRENCY at all"),
    ],
)
def test_a_setting_not_taken_from_its_configmap_fails(env: list[dict[str, Any]], says: str) -> None:
    result = pods.setting_from(world(env), "app", "web", "CURRENCY", namespace="ns")
    assert result.status == "fail" and says in result.message, result.message


def test_a_secret_marked_optional_or_copied_in_plain_text_fails() -> None:
    optional = copy.deepcopy(SECRET_REF)
    optional["valueFrom"]["secretKeyRef"]["optional"] = True
    result = pods.setting_from(world([optional]), "app", "web", "TOKEN", source="secret", namespace="ns")
    assert not result.ok and "Secret is marked optional" in result.message
    plain = [{"name": "TOKEN", "value": "tok"}]
    result = pods.setting_from(world(plain), "app", "web", "TOKEN", source="secret", namespace="ns")
    assert not result.ok and "not from a Secret" in result.message
    result = pods.setting_from(world([CM_REF]), "app", "web", "CURRENCY", source="secret", namespace="ns")
    assert not result.ok and "configMapKeyRef, not from a Secret" in result.message


def test_setting_from_says_what_is_missing_and_errors_when_the_api_is_down() -> None:
    kube = world([CM_REF])
    assert "no container db" in pods.setting_from(kube, "app", "db", "CURRENCY", namespace="ns").message
    assert "does not exist" in pods.setting_from(kube, "nope", "web", "CURRENCY", namespace="ns").message
    kube.down = True
    assert pods.setting_from(kube, "app", "web", "CURRENCY", namespace="ns").status == "error"


# probes_effective ---------------------------------------------------------------------------------------

SLOW: dict[str, Any] = {
    "name": "web",
    "image": "busybox",
    "ports": [{"name": "http", "containerPort": 80}],
    "readinessProbe": {"tcpSocket": {"port": 80}, "periodSeconds": 3},
    "livenessProbe": {"tcpSocket": {"port": 80}, "initialDelaySeconds": 30, "periodSeconds": 5},
}


def judge(**changes: Any) -> tuple[bool, str]:
    """Deploy the app, remember it as setup does, change its container (None removes a key), grade its probes."""
    kube = FakeKube({"Deployment", "Pod"})
    kube.create(deployment(copy.deepcopy(SLOW)))
    state = SessionState(State(), None)
    kube_breakers.remember(kube, state, "Deployment", "app", "ns")
    container = copy.deepcopy(SLOW)
    for key, value in changes.items():
        if value is None:
            container.pop(key, None)
        else:
            container[key] = value
    kube.replace(deployment(container))
    result = pods.probes_effective(kube, state, "app", "ns")
    return result.ok, result.message


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"startupProbe": {"tcpSocket": {"port": 80}, "periodSeconds": 2, "failureThreshold": 30}},
        {"livenessProbe": {"tcpSocket": {"port": "http"}, "periodSeconds": 3, "failureThreshold": 10}},
        {"livenessProbe": {"httpGet": {"path": "/", "port": 80}, "initialDelaySeconds": 40}},
        {"livenessProbe": {"exec": {"command": ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1/"]}}},
        {"livenessProbe": {"exec": {"command": ["sh", "-c", "wget -qO- http://localhost:80/ | grep -q Soup"]}}},
        {"livenessProbe": {"exec": {"command": ["timeout", "5", "nc", "-z", "127.0.0.1", "80"]}}},
        {"livenessProbe": {"exec": {"command": ["sh", "-c", "exec wget -q http://127.0.0.1/ && echo ok"]}}},
        # valid probes written the ways admins write them
        {"livenessProbe": {"exec": {"command": ["sh", "-c", "wget -qO- http://127.0.0.1/ 2>&1 | grep -q Soup"]}}},
        {"livenessProbe": {"exec": {"command": ["timeout", "-s", "KILL", "5", "wget", "-q", "http://[::1]:80/"]}}},
        {"livenessProbe": {"exec": {"command": ["sh", "-ec", "wget -q -O /dev/null http://localhost/"]}}},
        {"livenessProbe": {"exec": {"command": ["/bin/bash", "-euc", "curl -fsS http://127.0.0.1:80/ >/dev/null"]}}},
        {
            "livenessProbe": {
                "exec": {
                    "command": ["sh", "-c", "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1/ | grep -q 200"]
                }
            }
        },
        {"livenessProbe": {"exec": {"command": ["sh", "-c", "wget -qO- http://$POD_IP/ | grep -q ."]}}},
        {"livenessProbe": {"exec": {"command": ["nc", "-z", "-w", "2", "localhost", "80"]}}},
        {
            "livenessProbe": {
                "exec": {"command": ["timeout", "5", "sh", "-c", "wget -qO- http://localhost/ | grep -q S"]}
            }
        },
        {"livenessProbe": {"exec": {"command": ["wget", "-q", "-O", "/dev/null", "localhost/status.html"]}}},
        {"livenessProbe": {"exec": {"command": ["sh", "-c", "echo ping | nc -w 2 127.0.0.1 80"]}}},
    ],
)
def test_a_tuned_probe_or_an_added_startup_probe_passes(changes: dict[str, Any]) -> None:
    ok, message = judge(**changes)
    assert ok, message


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"livenessProbe": None}, "web has no livenessProbe"),
        ({"readinessProbe": None}, "web has no readinessProbe"),
        ({"livenessProbe": {"exec": {"command": ["timeout", "80", "true"]}}}, "runs true"),
        ({"livenessProbe": {"exec": {"command": ["true"]}}}, "runs true"),
        ({"livenessProbe": {"exec": {"command": ["cat", "/tmp/healthy"]}}}, "runs cat"),
        ({"livenessProbe": {"exec": {"command": ["sh", "-c", "wget -q http://127.0.0.1/ || true"]}}}, "even when"),
        ({"livenessProbe": {"exec": {"command": ["sh", "-c", "wget -q http://127.0.0.1/; exit 0"]}}}, "even when"),
        ({"livenessProbe": {"exec": {"command": ["sh", "-c", "! wget -q http://127.0.0.1:81/"]}}}, "even when"),
        ({"livenessProbe": {"exec": {"command": ["sh", "-c", "wget -q http://127.0.0.1/ | true"]}}}, "as true does"),
        ({"livenessProbe": {"exec": {"command": ["sh", "-c", "wget -q http://127.0.0.1/ & true"]}}}, "even when"),
        ({"livenessProbe": {"exec": {"command": ["nc", "-z", "127.0.0.1", "8080"]}}}, "asks port 8080"),
        ({"livenessProbe": {"exec": {"command": ["wget", "-q", "/index.html"]}}}, "names no port"),
        ({"livenessProbe": {"exec": {"command": []}}}, "runs no command"),
        ({"livenessProbe": {"exec": {"command": ["wget", "-q", "http://10.96.0.1/"]}}}, "asks 10.96.0.1"),
        (
            {"livenessProbe": {"exec": {"command": ["sh", "-c", "wget -q http://other-app.ns:80/"]}}},
            "asks other-app.ns",
        ),
        ({"livenessProbe": {"exec": {"command": ["nc", "-z", "db", "80"]}}}, "asks db"),
        (
            {
                "livenessProbe": {
                    "exec": {"command": ["sh", "-c", "curl -s -w '%{http_code}' http://127.0.0.1/ | grep -q ."]}
                }
            },
            "when nothing answers",
        ),
        (
            {
                "livenessProbe": {
                    "exec": {"command": ["sh", "-c", "curl -s -w %{http_code} http://127.0.0.1/ | grep 0"]}
                }
            },
            "when nothing answers",
        ),
        (
            {"livenessProbe": {"exec": {"command": ["sh", "-c", "wget -qO- http://127.0.0.1/ 2>&1 | grep -q ''"]}}},
            "nothing answers",
        ),
        (
            {
                "livenessProbe": {
                    "exec": {"command": ["sh", "-c", "wget -qO- http://127.0.0.1/ 2>&1 | grep -qi connect"]}
                }
            },
            "nothing answers",
        ),
        (
            {"livenessProbe": {"exec": {"command": ["sh", "-c", "wget -qO- http://127.0.0.1/ | grep -qv Soup"]}}},
            "nothing answers",
        ),
        ({"livenessProbe": {"exec": {"command": ["timeout", "-s", "KILL", "5", "true"]}}}, "runs true"),
        (
            {
                "livenessProbe": {
                    "exec": {"command": ["sh", "-c", "wget -qO- http://localhost/ | grep -q root /etc/passwd"]}
                }
            },
            "reads a file",
        ),
        (
            {"livenessProbe": {"exec": {"command": ["sh", "-c", "nc -z localhost 80 | nc -z kubernetes.default 443"]}}},
            "asks kubernetes.default",
        ),
        ({"livenessProbe": {"exec": {"command": ["nc", "-z", "-w", "80", "localhost", "8080"]}}}, "asks port 8080"),
        ({"livenessProbe": {"exec": {"command": ["timeout", "5", "sh", "-c", "true"]}}}, "runs true"),
        ({"livenessProbe": {"exec": {"command": ["sh", "-ec", "true"]}}}, "runs true"),
        ({"livenessProbe": {"tcpSocket": {"port": 80}, "failureThreshold": 10000}}, "periodSeconds x failureThreshold"),
        ({"livenessProbe": {"tcpSocket": {"port": 80}, "initialDelaySeconds": 3600}}, "initialDelaySeconds"),
        ({"livenessProbe": {"tcpSocket": {"port": 80}, "timeoutSeconds": 600}}, "timeoutSeconds"),
        ({"livenessProbe": {"tcpSocket": {"port": 8080}}}, "port 8080, not a port the app serves"),
        ({"livenessProbe": {"tcpSocket": {"port": "admin"}}}, "does not declare (admin)"),
        ({"livenessProbe": {"tcpSocket": {"port": 80, "host": "10.96.0.1"}}}, "checks 10.96.0.1"),
        ({"livenessProbe": {"periodSeconds": 3}}, "it has no check"),
        (
            {"startupProbe": {"tcpSocket": {"port": 80}, "periodSeconds": 10, "failureThreshold": 1000}},
            "never restarted",
        ),
        ({"startupProbe": {"exec": {"command": ["true"]}}}, "startupProbe does not really watch the app"),
    ],
)
def test_a_probe_removed_or_disarmed_fails(changes: dict[str, Any], says: str) -> None:
    ok, message = judge(**changes)
    assert not ok and says in message, message


def test_probes_effective_without_a_record_wants_both_probes_and_errors_when_the_api_is_down() -> None:
    kube = FakeKube({"Deployment"})
    state = SessionState(State(), None)
    bare = {k: v for k, v in SLOW.items() if k != "readinessProbe"}
    kube.create(deployment(bare))
    result = pods.probes_effective(kube, state, "app", "ns")
    assert not result.ok and "no readinessProbe" in result.message
    assert "does not exist" in pods.probes_effective(kube, state, "nope", "ns").message
    kube.down = True
    assert pods.probes_effective(kube, state, "app", "ns").status == "error"


# init containers ----------------------------------------------------------------------------------------

INIT = {"name": "fetch", "image": "busybox", "command": ["wget", "-O", "/www/index.html", "http://db/"]}


def test_an_init_container_is_edited_and_put_back_by_reset() -> None:
    kube = FakeKube({"Deployment"})
    kube.create(deployment({"name": "web", "image": "busybox"}, [copy.deepcopy(INIT), {"name": "other"}]))
    ctx = make_ctx(FakeTransport(), kube)
    pod_breakers.edit_init_container(
        ChangeLog(ctx, "break"), kube, "app", "fetch", {"command": ["wget", "http://dbb/"], "image": None}, "ns"
    )
    live = kube.get("apps/v1", "Deployment", "app", "ns")
    assert live is not None
    inits = live["spec"]["template"]["spec"]["initContainers"]
    assert inits == [{"name": "fetch", "command": ["wget", "http://dbb/"]}, {"name": "other"}]
    assert live["spec"]["template"]["spec"]["containers"] == [{"name": "web", "image": "busybox"}]
    replay(ctx)
    live = kube.get("apps/v1", "Deployment", "app", "ns")
    assert live is not None and live["spec"]["template"]["spec"]["initContainers"][0] == INIT


def test_an_init_container_is_removed_and_the_last_one_takes_the_list_with_it() -> None:
    kube = FakeKube({"Deployment"})
    kube.create(deployment({"name": "web", "image": "busybox"}, [copy.deepcopy(INIT)]))
    ctx = make_ctx(FakeTransport(), kube)
    pod_breakers.remove_init_container(ChangeLog(ctx, "cheat"), kube, "app", "fetch", "ns")
    live = kube.get("apps/v1", "Deployment", "app", "ns")
    assert live is not None and "initContainers" not in live["spec"]["template"]["spec"]
    replay(ctx)
    live = kube.get("apps/v1", "Deployment", "app", "ns")
    assert live is not None and live["spec"]["template"]["spec"]["initContainers"] == [INIT]


def test_init_container_breakers_refuse_what_is_not_there() -> None:
    kube = FakeKube({"Deployment"})
    kube.create(deployment({"name": "web", "image": "busybox"}))
    ctx = make_ctx(FakeTransport(), kube)
    changes = ChangeLog(ctx, "break")
    with pytest.raises(StepError, match="no init container 'fetch'"):
        pod_breakers.edit_init_container(changes, kube, "app", "fetch", {"image": "x"}, "ns")
    with pytest.raises(StepError, match="no init container 'fetch'"):
        pod_breakers.remove_init_container(changes, kube, "app", "fetch", "ns")
    with pytest.raises(StepError, match="does not exist"):
        pod_breakers.edit_init_container(changes, kube, "nope", "fetch", {"image": "x"}, "ns")
    with pytest.raises(StepError, match="does not exist"):
        pod_breakers.remove_init_container(changes, kube, "nope", "fetch", "ns")
    assert ctx.store.journal("test") == []


def test_a_sidecar_is_removed_the_app_kept_and_reset_puts_it_back() -> None:
    kube = FakeKube({"Deployment"})
    two = deployment({"name": "web", "image": "busybox"})
    two["spec"]["template"]["spec"]["containers"].append({"name": "refresher", "image": "busybox"})
    kube.create(two)
    ctx = make_ctx(FakeTransport(), kube)
    changes = ChangeLog(ctx, "cheat")
    with pytest.raises(StepError, match="no container 'logger'"):
        pod_breakers.remove_container(changes, kube, "app", "logger", "ns")
    with pytest.raises(StepError, match="does not exist"):
        pod_breakers.remove_container(changes, kube, "nope", "web", "ns")
    pod_breakers.remove_container(changes, kube, "app", "refresher", "ns")
    live = kube.get("apps/v1", "Deployment", "app", "ns")
    assert live is not None and live["spec"]["template"]["spec"]["containers"] == [{"name": "web", "image": "busybox"}]
    with pytest.raises(StepError, match="the only container"):
        pod_breakers.remove_container(changes, kube, "app", "web", "ns")
    replay(ctx)
    live = kube.get("apps/v1", "Deployment", "app", "ns")
    assert live is not None and [c["name"] for c in live["spec"]["template"]["spec"]["containers"]] == [
        "web",
        "refresher",
    ]
