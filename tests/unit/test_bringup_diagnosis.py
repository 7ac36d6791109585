"""A kubeadm test-bed cluster that does not come up says which pods and nodes are not Ready and why, and is retried."""

from __future__ import annotations

import json
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import pytest

from tests.fakes import Unexpected
from tests.testbed.kubeadm import cluster as kubeadm
from tests.testbed.kubeadm.diagnose import describe_container, describe_event, describe_pod, diagnose

READY = [{"type": "Ready", "status": "True"}]


def pod(name: str, node: str, ready: bool, statuses: list[dict[str, Any]], phase: str = "Running") -> dict[str, Any]:
    conditions = (
        READY
        if ready
        else [
            {"type": "Ready", "status": "False", "message": f"containers with unready status: [{name.split('-')[0]}]"},
            {"type": "PodScheduled", "status": "True"},
        ]
    )
    return {
        "metadata": {"name": name, "namespace": "kube-system"},
        "spec": {"nodeName": node},
        "status": {"phase": phase, "conditions": conditions, "containerStatuses": statuses},
    }


PROXY = pod(
    "kube-proxy-x7k2p",
    "w1",
    False,
    [
        {
            "name": "kube-proxy",
            "ready": False,
            "restartCount": 4,
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 1m20s restarting failed"}},
            "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
        }
    ],
)
DNS = pod("coredns-66bc5c9577-abcde", "cp1", True, [{"name": "coredns", "ready": True, "state": {"running": {}}}])
EVENTS = [
    {
        "involvedObject": {"kind": "Pod", "name": "kube-proxy-x7k2p"},
        "type": "Warning",
        "reason": "BackOff",
        "count": 5,
        "lastTimestamp": "2026-12-02T02:10:07Z",
        "message": "Back-off restarting failed container\n kube-proxy",
    },
    {
        "involvedObject": {"kind": "Pod", "name": "kube-proxy-x7k2p"},
        "type": "Normal",
        "reason": "Pulled",
        "lastTimestamp": "2026-12-02T02:05:01Z",
        "message": "Container image already present on machine",
    },
    {"involvedObject": {"kind": "Pod", "name": "coredns-66bc5c9577-abcde"}, "type": "Normal", "reason": "Started"},
]
NODES = [
    {"metadata": {"name": "cp1"}, "status": {"conditions": READY}},
    {
        "metadata": {"name": "w1"},
        "status": {
            "conditions": [
                {"type": "Ready", "status": "False", "reason": "KubeletNotReady", "message": "PLEG is not healthy"}
            ]
        },
    },
]


class FakeKubectl:
    """Answers the kubectl commands a test allows, in any order; refuses any other."""

    def __init__(self, answers: dict[str, str | Exception]) -> None:
        self.answers, self.asked = answers, []

    def __call__(self, *args: str, check: bool = True, timeout: float = 120) -> str:
        command = " ".join(args)
        self.asked.append(command)
        if command not in self.answers:
            raise Unexpected(f"kubectl {command}")
        answer = self.answers[command]
        if isinstance(answer, Exception):
            raise answer
        return answer


def items(objs: list[dict[str, Any]]) -> str:
    return json.dumps({"items": objs})


def journal(node: str, command: Sequence[str]) -> str:
    if list(command) != ["journalctl", "-u", "kubelet", "--no-pager", "-o", "cat", "-n", "15"]:
        raise Unexpected(f"{node}: {command}")
    return f"E1202 kubelet on {node}: PLEG is not healthy\n"


def test_a_crashing_pod_is_shown_with_its_containers_events_and_logs() -> None:
    logs = {"current": "", "previous run": "[pod/kube-proxy-x7k2p/kube-proxy] E1202 failed to set conntrack\n"}
    assert describe_pod(PROXY, EVENTS, logs) == [
        "pod kube-system/kube-proxy-x7k2p on w1: Running (Ready=False: containers with unready status: [kube])",
        "  container kube-proxy: waiting: CrashLoopBackOff (back-off 1m20s restarting failed); 4 restarts; "
        "last exit 1 (Error)",
        "  events:",
        "    02:05:01 Normal Pulled: Container image already present on machine",
        "    02:10:07 Warning BackOff (x5): Back-off restarting failed container kube-proxy",
        "  last log lines (current): none",
        "  last log lines (previous run):",
        "    [pod/kube-proxy-x7k2p/kube-proxy] E1202 failed to set conntrack",
    ]


@pytest.mark.parametrize(
    ("status", "line"),
    [
        ({"name": "c", "state": {"running": {}}, "ready": True}, "container c: running; 0 restarts"),
        ({"name": "c", "state": {"running": {}}}, "container c: running, not ready; 0 restarts"),
        (
            {"name": "c", "state": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}},
            "container c: terminated: OOMKilled, exit 137; 0 restarts",
        ),
        ({"name": "c"}, "container c: no state yet; 0 restarts"),
    ],
)
def test_container_states(status: dict[str, Any], line: str) -> None:
    assert describe_container(status) == line


def test_an_event_without_a_time_still_reads() -> None:
    assert (
        describe_event({"type": "Warning", "reason": "FailedMount", "message": "no"})
        == "--:--:-- Warning FailedMount: no"
    )


def test_diagnose_names_the_unready_nodes_and_pods_only() -> None:
    kubectl = FakeKubectl(
        {
            "get nodes -o json": items(NODES),
            "get pods -n kube-system -o json": items([DNS, PROXY]),
            "get events -n kube-system -o json": items(EVENTS),
            "logs -n kube-system kube-proxy-x7k2p --all-containers --prefix --tail=15": "",
            "logs -n kube-system kube-proxy-x7k2p --all-containers --prefix --tail=15 --previous": "E1202 conntrack\n",
        }
    )
    text = diagnose(kubectl, journal, ["cp1", "w1"])
    assert text.splitlines()[:3] == [
        "node w1: Ready=False (KubeletNotReady: PLEG is not healthy)",
        "kubelet journal on w1 (last 15 lines):",
        "    E1202 kubelet on w1: PLEG is not healthy",
    ]
    assert "pod kube-system/kube-proxy-x7k2p on w1" in text and "    E1202 conntrack" in text
    assert "coredns" not in text  # Ready: not worth a line


def test_diagnose_without_an_api_asks_every_kubelet() -> None:
    kubectl = FakeKubectl({"get nodes -o json": kubeadm.KubeadmError("connection refused")})
    text = diagnose(kubectl, journal, ["w1", "cp1"])
    assert text.splitlines()[0] == "the API server does not answer (kubectl get nodes: connection refused)"
    assert (
        "kubelet journal on cp1" in text and "kubelet journal on w1" in text and kubectl.asked == ["get nodes -o json"]
    )


def test_diagnose_says_when_a_node_never_registered_and_logs_cannot_be_read() -> None:
    stuck = pod(
        "kube-proxy-q", "w1", False, [{"name": "kube-proxy", "state": {"waiting": {"reason": "ContainerCreating"}}}]
    )
    kubectl = FakeKubectl(
        {
            "get nodes -o json": items(NODES[:1]),
            "get pods -n kube-system -o json": items([stuck]),
            "get events -n kube-system -o json": kubeadm.KubeadmError("timed out"),
            "logs -n kube-system kube-proxy-q --all-containers --prefix --tail=15": kubeadm.KubeadmError(
                "container is waiting to start"
            ),
        }
    )
    text = diagnose(kubectl, journal, ["cp1", "w1"])
    assert text.splitlines()[0] == "node w1: not registered"
    assert "kubectl get events -n kube-system: timed out" in text and "events: none" in text
    assert "(kubectl logs failed: container is waiting to start)" in text


def test_wait_ready_gives_the_diagnosis_when_time_is_up(monkeypatch: pytest.MonkeyPatch) -> None:
    node_names = [SimpleNamespace(name="cp1", container="c-cp1"), SimpleNamespace(name="w1", container="c-w1")]
    kubectl = FakeKubectl(
        {
            "get nodes -o json": items(NODES),
            "get pods -n kube-system -o json": items([DNS, PROXY]),
            "get events -n kube-system -o json": items(EVENTS),
            "logs -n kube-system kube-proxy-x7k2p --all-containers --prefix --tail=15": "starting\n",
            "logs -n kube-system kube-proxy-x7k2p --all-containers --prefix --tail=15 --previous": "E1202 boom\n",
        }
    )
    run = SimpleNamespace(nodes=node_names, node=lambda name: next(n for n in node_names if n.name == name))
    docker: list[tuple[str, ...]] = []

    def fake_docker(*args: str, check: bool = True, timeout: float | None = None) -> str:
        docker.append(args)
        return "kubelet says hello\n"

    monkeypatch.setattr(kubeadm.dockercli, "docker", fake_docker)
    with pytest.raises(kubeadm.KubeadmError) as err:
        kubeadm.wait_ready(SimpleNamespace(run=run, kubectl=kubectl), timeout=0)  # type: ignore[arg-type]
    message = str(err.value)
    assert message.startswith("cluster not ready after 0s: ")
    assert "pod kube-system/kube-proxy-x7k2p on w1" in message and "    E1202 boom" in message
    assert "BackOff (x5)" in message and "    kubelet says hello" in message
    assert docker == [("exec", "c-w1", "journalctl", "-u", "kubelet", "--no-pager", "-o", "cat", "-n", "15")]


def test_bring_up_retries_once_on_fresh_nodes_then_fails_with_both_reasons() -> None:
    said: list[str] = []
    reasons = iter([kubeadm.KubeadmError("cluster not ready: kube-proxy-a"), TimeoutError("w1: systemd not booted")])

    def start(workers: int) -> kubeadm.KubeadmCluster:
        raise next(reasons)

    with pytest.raises(kubeadm.KubeadmError) as err:
        kubeadm.bring_up(attempts=2, start=start, log=said.append)
    assert str(err.value).splitlines() == [
        "the kubeadm cluster did not come up in 2 attempts:",
        "attempt 1: KubeadmError: cluster not ready: kube-proxy-a",
        "attempt 2: TimeoutError: w1: systemd not booted",
    ]
    assert len(said) == 1 and said[0].startswith("bring-up attempt 1 of 2 failed; starting a fresh cluster")


def test_bring_up_returns_the_second_attempts_cluster() -> None:
    made = SimpleNamespace(name="second")
    attempts = iter([kubeadm.KubeadmError("not ready"), made])

    def start(workers: int) -> Any:
        outcome = next(attempts)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert kubeadm.bring_up(attempts=2, start=start, log=lambda _m: None) is made
