"""The CNI lab's breakers and the pod network probe, on refusing fakes."""

from __future__ import annotations

from typing import Any

from breakers import cni
from breakers import kube as kube_breakers
from breakfix.changes import ChangeLog
from breakfix.transport.base import FileStat
from breakfix.transport.node import Node
from breakfix.undo import replay
from graders import probe
from tests.fakes import FakeKube, FakeTransport
from tests.unit.contexts import FakeClock, make_ctx
from tests.unit.test_new_graders import CLUSTER, IMAGES

CONF = "/etc/cni/net.d/10-breakfix-bridge.conflist"
BRIDGE = b'{"ipam": {"ranges": [[{"subnet": "10.244.0.0/24"}]]}}'
FIND = r"find /etc/cni/net\.d -mindepth 1 -maxdepth 1 -type f"


def node_obj(name: str, cidr: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}, "spec": {"podCIDR": cidr}}


def test_remove_config_deletes_every_file_and_reset_brings_them_back() -> None:
    worker = FakeTransport({CONF: b"w1 range", "/etc/cni/net.d/calico-kubeconfig": b"token"})
    worker.expect(FIND, stdout=f"{CONF}\n/etc/cni/net.d/calico-kubeconfig\n")
    ctx = make_ctx(worker)
    cni.remove_config(ctx.node("cp1"), ChangeLog(ctx, "break"))
    assert not worker.files
    replay(ctx)
    assert worker.files == {CONF: b"w1 range", "/etc/cni/net.d/calico-kubeconfig": b"token"}


def test_remove_config_refuses_an_empty_folder() -> None:
    worker = FakeTransport()
    worker.expect(FIND, rc=1, stderr="find: '/etc/cni/net.d': No such file or directory")
    ctx = make_ctx(worker)
    try:
        cni.remove_config(ctx.node("cp1"), ChangeLog(ctx, "break"))
    except Exception as exc:
        assert "holds no CNI configuration" in str(exc)
    else:
        raise AssertionError("an empty folder was accepted")


def test_copy_config_puts_this_nodes_range_in_and_keeps_the_mode() -> None:
    kube = FakeKube({"Node"})
    kube.create(node_obj("cp1", "10.244.0.0/24"))
    kube.create(node_obj("w1", "10.244.1.0/24"))
    source = FakeTransport({CONF: BRIDGE})
    source.stats[CONF] = FileStat(0o640, 0, 0)
    source.expect(FIND, stdout=CONF + "\n")
    target = FakeTransport()
    ctx = make_ctx(target, kube)
    nodes = [Node("w1", "worker", target), Node("cp1", "control-plane", source)]
    cni.copy_config(nodes[0], nodes, kube, ChangeLog(ctx, "solve"), source="cp1")
    assert target.files[CONF] == BRIDGE.replace(b"10.244.0.0/24", b"10.244.1.0/24")
    assert target.stats[CONF].mode == 0o640
    assert source.files[CONF] == BRIDGE  # the healthy node is only read


def test_copy_config_names_a_missing_source() -> None:
    ctx = make_ctx(FakeTransport())
    try:
        cni.copy_config(ctx.node("cp1"), [ctx.node("cp1")], FakeKube({"Node"}), ChangeLog(ctx, "solve"), "nope")
    except Exception as exc:
        assert "no node 'nope'" in str(exc)
    else:
        raise AssertionError("a missing source was accepted")


class Kubelet(FakeKube):
    """Pods created with a nodeName get a running container and IP, when the node's network works."""

    def __init__(self, network: bool) -> None:
        super().__init__({"Pod", "Event"})
        self.network = network

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        out = super().create(obj)
        name = obj["metadata"]["name"]
        if obj["kind"] == "Pod" and self.network:
            self.objects[("v1", "Pod", "default", name)]["status"] = {
                "podIP": "10.244.1.7",
                "containerStatuses": [{"state": {"running": {}}}],
            }
        elif obj["kind"] == "Pod":
            super().create(
                {
                    "apiVersion": "v1",
                    "kind": "Event",
                    "metadata": {"name": f"{name}.1", "namespace": "default"},
                    "involvedObject": {"name": name},
                    "type": "Warning",
                    "message": "Failed to create pod sandbox: plugin type=bridge: cni plugin not initialized",
                }
            )
        return out


CURL = r"curl -sS -o /dev/null -w '%\{http_code\}' -m 5 http://10\.244\.1\.7:80/"


def test_pod_network_probe_calls_a_pod_on_the_node_from_another_and_cleans_up() -> None:
    seen: list[dict[str, Any]] = []

    class Recording(Kubelet):
        def create(self, obj: dict[str, Any]) -> dict[str, Any]:
            seen.append(obj)
            return super().create(obj)

    kube = Recording(network=True)
    client = FakeTransport()
    client.expect(CURL, stdout="200")
    result = probe.pod_network(kube, Node("cp1", "control-plane", client), IMAGES, CLUSTER, "w1", wait_for=1)
    assert result.ok and "10.244.1.7" in result.message
    assert seen[0]["spec"]["nodeName"] == "w1" and seen[0]["spec"]["containers"][0]["image"] == IMAGES["web"]
    assert not kube.objects


def test_pod_network_probe_says_why_the_pod_got_no_address() -> None:
    kube = Kubelet(network=False)
    result = probe.pod_network(kube, Node("cp1", "control-plane", FakeTransport()), IMAGES, CLUSTER, "w1", wait_for=0.3)
    assert result.status == "fail" and "cni plugin not initialized" in result.message
    assert not [key for key in kube.objects if key[1] == "Pod"]


def test_pod_network_probe_fails_when_the_address_does_not_answer() -> None:
    client = FakeTransport()
    client.expect(CURL, rc=7, stdout="000", stderr="curl: (7) Failed to connect")
    node = Node("cp1", "control-plane", client)
    result = probe.pod_network(Kubelet(network=True), node, IMAGES, CLUSTER, "w1", wait_for=1, answer_within=0)
    assert result.status == "fail" and "cannot reach it" in result.message and "pod range" in result.hint


def test_delete_waits_until_the_object_is_gone(fast_clock: FakeClock) -> None:
    class Finalizing(FakeKube):
        """Keeps a deleted object for two more reads, as a finalizer would."""

        def __init__(self) -> None:
            super().__init__({"PersistentVolumeClaim"})
            self.lingering = 0
            self.ghost: dict[str, Any] | None = None

        def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> None:
            self.ghost = self.get(api_version, kind, name, namespace)
            self.lingering = 2
            super().delete(api_version, kind, name, namespace)

        def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
            if self.lingering:
                self.lingering -= 1
                return self.ghost
            return super().get(api_version, kind, name, namespace)

    kube = Finalizing()
    kube.create({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "c", "namespace": "b"}})
    ctx = make_ctx(FakeTransport(), kube)
    kube_breakers.delete(ChangeLog(ctx, "cheat"), kube, "PersistentVolumeClaim", "c", "b")
    assert kube.lingering == 0 and kube.get("v1", "PersistentVolumeClaim", "c", "b") is None
    assert fast_clock.slept == [1, 1]  # it waited while the finalizer held the object
