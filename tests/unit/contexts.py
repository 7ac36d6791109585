"""Contexts and labs for unit tests on fakes: a context, a marked lab cluster's context, a lab from a dict."""

from __future__ import annotations

import time
from pathlib import Path

import yaml

from breakfix.catalog import Lab, load_lab
from breakfix.clusters import MARKER_NAME, MARKER_NAMESPACE
from breakfix.context import Context
from breakfix.inventory import ClusterSpec, NodeSpec
from breakfix.object_fingerprint import CLUSTER_SCOPED, NAMESPACED
from breakfix.state import State
from breakfix.transport.node import Node
from breakfix.transport.spec import TransportSpec
from tests.fakes import FakeKube, FakeTransport


def make_ctx(transport: FakeTransport, kube: FakeKube | None = None, worker: FakeTransport | None = None) -> Context:
    """A context on node cp1 (TRANSPORT), and worker w1 (WORKER) when given."""
    nodes = [NodeSpec("cp1", "control-plane", TransportSpec("local"), "10.0.0.2")]
    if worker is not None:
        nodes.append(NodeSpec("w1", "worker", TransportSpec("local"), "10.0.0.3"))
    spec = ClusterSpec("test", "inventory", Path("/dev/null"), tuple(nodes), None, None, frozenset())
    ctx = Context(spec, State(), kube=kube or FakeKube(), log=lambda _m: None)
    ctx._nodes["cp1"] = Node("cp1", "control-plane", transport, "10.0.0.2")  # the fake instead of a connection
    if worker is not None:
        ctx._nodes["w1"] = Node("w1", "worker", worker, "10.0.0.3")
    return ctx


LAB = {
    "id": "demo",
    "title": "Demo lab",
    "domain": "troubleshooting",
    "difficulty": "easy",
    "time_limit": "5m",
    "task": "Make /etc/app.conf say good on {{ control_plane }}.",
    "setup": [{"sentinel": {"name": "ledger"}}],
    "break": [{"tests.steps.write": {"path": "/etc/app.conf", "content": "bad"}}],
    "confirm": [
        {"tests.steps.file_is": {"path": "/etc/app.conf", "content": "good", "expect": "fail", "within": "5s"}}
    ],
    "grade": [
        {"tests.steps.file_is": {"path": "/etc/app.conf", "content": "good", "weight": 2}},
        {"graders.api.sentinel_intact": {"name": "ledger"}},
    ],
    "hints": ["look at /etc/app.conf"],
    "solve": [{"tests.steps.write": {"path": "/etc/app.conf", "content": "good"}}],
    "cheats": {"wrong-value": [{"tests.steps.write": {"path": "/etc/app.conf", "content": "meh"}}]},
    "solution": "write good",
}


def lab_from(tmp_path: Path, **change: object) -> Lab:
    path = tmp_path / "demo" / "lab.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({**LAB, **change}))
    return load_lab(path)


def node_obj(name: str, taints: list[dict[str, str]] | None = None, ready: bool = True) -> dict[str, object]:
    """A Node as the API server returns it."""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "spec": {"taints": taints} if taints else {},
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


CP_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


#: what the engine reads before and after every lab: the guard's nodes and bindings, the cluster's own objects
CLUSTER_KINDS = {"Node", "Namespace", "PersistentVolume"} | {kind for _, kind in (*NAMESPACED, *CLUSTER_SCOPED)}


def marked_ctx(files: dict[str, bytes]) -> tuple[Context, FakeTransport, FakeKube]:
    kube = FakeKube(set(CLUSTER_KINDS))
    kube.create(node_obj("cp1", [CP_TAINT]))
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": MARKER_NAME, "namespace": MARKER_NAMESPACE},
            "data": {"id": "m1"},
        }
    )
    t = FakeTransport(files)
    t.expect("true")
    ctx = make_ctx(t, kube)
    ctx.store.add_cluster("test", "/dev/null", "inventory", "m1")
    return ctx, t, kube


class FakeClock:
    """Monotonic time that sleeping moves forward at once: waiting loops run their course without waiting."""

    def __init__(self) -> None:
        self.now = time.monotonic()
        self.slept: list[float] = []

    def monotonic(self) -> float:
        """The fake time."""
        return self.now

    def sleep(self, seconds: float) -> None:
        """Move the fake time on, and note the sleep."""
        self.slept.append(seconds)
        self.now += seconds
