"""Static pods on a node beside the control plane's: written from a lab's manifest, judged through their mirror pod."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from breakers import node_pods as breaker
from breakfix.changes import ChangeLog
from breakfix.errors import StepError
from breakfix.transport.node import Node
from breakfix.undo import replay
from graders import node_pods
from tests.fakes import FakeKube, FakeTransport
from tests.unit.contexts import make_ctx

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "node-agent", "namespace": "kube-system"},
    "spec": {"containers": [{"name": "agent", "image": "role:shell", "command": ["httpd", "-f"]}]},
}


def lab(tmp_path: Path, pod: Any = POD) -> Path:
    (tmp_path / "manifests").mkdir(parents=True)
    (tmp_path / "manifests" / "node-agent.yaml").write_text(yaml.safe_dump(pod))
    return tmp_path


def test_the_pod_goes_into_the_nodes_folder_with_the_clusters_image_and_undo_takes_it_out(tmp_path: Path) -> None:
    fake = FakeTransport()
    ctx = make_ctx(fake)
    breaker.write_static_pod(
        ctx.node("cp1"), ChangeLog(ctx, "break"), lab(tmp_path), ctx.cluster, "manifests/node-agent.yaml"
    )
    written = yaml.safe_load(fake.files["/etc/kubernetes/manifests/node-agent.yaml"])
    assert written["spec"]["containers"][0]["image"] == "docker.io/library/busybox:1.36.1"
    replay(ctx)
    assert "/etc/kubernetes/manifests/node-agent.yaml" not in fake.files


def test_a_file_outside_the_lab_or_not_one_named_pod_is_refused(tmp_path: Path) -> None:
    ctx = make_ctx(FakeTransport())
    folder = lab(tmp_path / "lab", {"kind": "Deployment", "metadata": {"name": "x"}})
    with pytest.raises(StepError, match="outside the lab's folder"):
        breaker.static_pod_manifest(folder, "../../etc/passwd", ctx.cluster)
    with pytest.raises(StepError, match="not one Pod with a name"):
        breaker.static_pod_manifest(folder, "manifests/node-agent.yaml", ctx.cluster)


def test_an_existing_manifest_is_never_overwritten(tmp_path: Path) -> None:
    fake = FakeTransport({"/etc/kubernetes/manifests/node-agent.yaml": b"theirs"})
    ctx = make_ctx(fake)
    with pytest.raises(StepError, match="already exists"):
        breaker.write_static_pod(
            ctx.node("cp1"), ChangeLog(ctx, "break"), lab(tmp_path), ctx.cluster, "manifests/node-agent.yaml"
        )
    assert fake.files["/etc/kubernetes/manifests/node-agent.yaml"] == b"theirs"


def mirror(ready: bool = True, restarts: int = 0, mirrored: bool = True, name: str = "node-agent-w1") -> dict[str, Any]:
    annotations = {node_pods.MIRROR: "abc", "kubernetes.io/config.source": "file"} if mirrored else {}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "kube-system", "uid": "u1", "annotations": annotations},
        "spec": {"nodeName": "w1"},
        "status": {
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [{"restartCount": restarts}],
        },
    }


WORKER = Node("w1", "worker", FakeTransport(), "10.0.0.3")


def judge(pod: dict[str, Any] | None) -> tuple[bool, str]:
    kube = FakeKube({"Pod"})
    if pod is not None:
        kube.create(pod)
    result = node_pods.static_pod_steady(kube, WORKER, "node-agent", stable_for=0)
    return result.ok, result.message


def test_a_ready_mirror_pod_passes() -> None:
    assert judge(mirror()) == (True, "w1 runs its static pod node-agent, Ready and steady for 0s")


def test_no_pod_an_api_pod_of_the_same_name_or_an_unready_one_fails() -> None:
    assert "runs no static pod node-agent" in judge(None)[1]
    ok, said = judge(mirror(mirrored=False))
    assert not ok and "ordinary pod made through the API" in said
    ok, said = judge(mirror(ready=False))
    assert not ok and "is not Ready" in said


def test_a_pod_that_restarts_in_the_window_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    kube = FakeKube({"Pod"})
    kube.create(mirror())
    seen = iter([0, 1, 1, 1])

    def get(*_a: Any) -> dict[str, Any]:
        return mirror(restarts=next(seen))

    monkeypatch.setattr(kube, "get", get)
    monkeypatch.setattr("graders._steady.time.sleep", lambda _s: None)
    result = node_pods.static_pod_steady(kube, WORKER, "node-agent", stable_for=0.05, poll=0.01)
    assert not result.ok and "restarted during" in result.message


def test_the_fault_shows_once_the_static_pod_has_restarted() -> None:
    kube = FakeKube({"Pod"})
    assert not node_pods.static_pod_restarts(kube, WORKER, "node-agent").ok
    kube.create(mirror(restarts=0))
    assert not node_pods.static_pod_restarts(kube, WORKER, "node-agent").ok
    kube.replace(mirror(restarts=2))
    assert node_pods.static_pod_restarts(kube, WORKER, "node-agent").ok
