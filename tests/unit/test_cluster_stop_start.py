"""`lab cluster stop|start`: kind and Vagrant nodes stopped and started again, against fake `docker` and `vagrant`
programs that refuse calls they were not told about, and a fake API server for the wait."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

import breakfix.context
from breakfix.cli.main import main
from breakfix.cluster_ready import not_ready, wait_until_ready
from breakfix.errors import ClusterError
from breakfix.providers.base import cluster_dir
from breakfix.providers.kind import CLUSTER_LABEL, IMAGE_MAP_PATH, ROLE_LABEL, inventory_for
from breakfix.state import State
from tests.fakes import FakeCommand, FakeKube

PS_ALL = [
    "ps",
    "--all",
    "--filter",
    f"label={CLUSTER_LABEL}=lab",
    "--format",
    f'{{{{.Names}}}}\t{{{{.Label "{ROLE_LABEL}"}}}}',
]
NODES = "lab-worker\tworker\nlab-control-plane\tcontrol-plane\n"


@pytest.fixture
def fakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[FakeCommand, FakeCommand]:
    docker, vagrant = FakeCommand("docker", tmp_path), FakeCommand("vagrant", tmp_path)
    monkeypatch.setenv("PATH", f"{docker.bin}:/usr/bin:/bin")
    return docker, vagrant


def node(name: str, ready: bool, message: str = "") -> dict[str, Any]:
    condition = {"type": "Ready", "status": "True" if ready else "False", "message": message}
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}, "status": {"conditions": [condition]}}


def coredns(available: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "coredns", "namespace": "kube-system"},
        "spec": {"replicas": 2}, "status": {"availableReplicas": available},
    }  # fmt: skip


def healthy_kube() -> FakeKube:
    kube = FakeKube({"Node", "Deployment", "DaemonSet"})
    for obj in (node("lab-control-plane", True), node("lab-worker", True), coredns(2)):
        kube.create(obj)
    return kube


def register_kind(monkeypatch: pytest.MonkeyPatch, kube: FakeKube) -> Path:
    """A kind cluster `lab cluster up` made: its inventory in its folder, the old addresses in it."""
    folder = cluster_dir("lab")
    folder.mkdir(parents=True)
    nodes = [
        {"name": "lab-control-plane", "role": "control-plane", "ip": "172.18.0.2"},
        {"name": "lab-worker", "role": "worker", "ip": "172.18.0.3"},
    ]
    inventory = folder / "inventory.yaml"
    inventory.write_text(yaml.safe_dump(inventory_for("lab", nodes, folder / "kubeconfig", 1)))
    State().add_cluster("lab", str(inventory), "kind", "m1")
    monkeypatch.setattr(breakfix.context, "KubeClient", lambda *_a: kube)
    return inventory


def inspected(name: str, role: str, ip: str) -> dict[str, Any]:
    labels = {CLUSTER_LABEL: "lab", ROLE_LABEL: role}
    return {
        "Name": f"/{name}",
        "Config": {"Labels": labels},
        "NetworkSettings": {"Networks": {"kind": {"IPAddress": ip}}},
    }


def test_kind_stop_stops_the_workers_before_the_control_plane(
    fakes: tuple[FakeCommand, FakeCommand], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    docker, _ = fakes
    register_kind(monkeypatch, healthy_kube())
    docker.expect(
        (PS_ALL, NODES, 0),
        (["stop", "--time", "60", "lab-worker"], "lab-worker\n", 0),
        (["stop", "--time", "60", "lab-control-plane"], "lab-control-plane\n", 0),
    )
    assert main(["cluster", "stop"]) == 0
    assert "cluster lab stopped: `lab cluster start --name lab` brings it back" in capsys.readouterr().out
    assert len(docker.calls) == 3


def test_kind_start_rewrites_moved_addresses_and_waits_for_ready_nodes(
    fakes: tuple[FakeCommand, FakeCommand], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    docker, _ = fakes
    inventory = register_kind(monkeypatch, healthy_kube())
    moved = [
        inspected("lab-control-plane", "control-plane", "172.18.0.3"),
        inspected("lab-worker", "worker", "172.18.0.2"),
    ]
    docker.expect(
        (PS_ALL, NODES, 0),
        (["start", "lab-control-plane"], "lab-control-plane\n", 0),
        (["start", "lab-worker"], "lab-worker\n", 0),
        (
            ["ps", "--filter", f"label={CLUSTER_LABEL}=lab", "--format", "{{.Names}}"],
            "lab-worker\nlab-control-plane\n",
            0,
        ),
        (["inspect", "lab-control-plane", "lab-worker"], json.dumps(moved), 0),
        (["exec", "lab-control-plane", "cat", IMAGE_MAP_PATH], "", 1),
    )
    assert main(["cluster", "start"]) == 0
    assert "cluster lab is back: every node Ready, kube-system serving" in capsys.readouterr().out
    hosts = yaml.safe_load(inventory.read_text())["all"]["children"]
    assert hosts["control_plane"]["hosts"]["lab-control-plane"]["breakfix_node_ip"] == "172.18.0.3"
    assert hosts["workers"]["hosts"]["lab-worker"]["breakfix_node_ip"] == "172.18.0.2"


def test_kind_cluster_deleted_behind_breakfix_is_one_line(
    fakes: tuple[FakeCommand, FakeCommand], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    docker, _ = fakes
    register_kind(monkeypatch, healthy_kube())
    docker.expect((PS_ALL, "", 0))
    assert main(["cluster", "start"]) == 1
    assert capsys.readouterr().err == (
        f"lab: no node containers carry {CLUSTER_LABEL}=lab: was it deleted outside breakfix?\n"
    )


def test_an_adopted_cluster_is_not_stopped_by_breakfix(
    tmp_path: Path, fakes: tuple[FakeCommand, FakeCommand], capsys: pytest.CaptureFixture[str]
) -> None:
    docker, _ = fakes
    inv = tmp_path / "inv.yaml"
    inv.write_text(yaml.safe_dump({"all": {"vars": {"breakfix_cluster": "lab"}, "hosts": {"cp1": None}}}))
    State().add_cluster("lab", str(inv), "inventory", "m1")
    for command in ("stop", "start"):
        assert main(["cluster", command]) == 1
        assert capsys.readouterr().err == (
            "lab: lab was adopted (inventory), not created by breakfix: stop and start its machines yourself\n"
        )
    assert docker.calls == []


def test_vagrant_halts_and_boots_without_provisioning_then_rewrites_the_inventory(
    tmp_path: Path,
    fakes: tuple[FakeCommand, FakeCommand],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, vagrant = fakes
    folder = cluster_dir("lab")
    folder.mkdir(parents=True)
    inventory = folder / "inventory.yml"
    vars_ = {
        "breakfix_cluster": "lab",
        "breakfix_provider": "vagrant",
        "breakfix_kubeconfig": str(folder / "admin.conf"),
    }
    inventory.write_text(yaml.safe_dump({"all": {"vars": vars_, "hosts": {"cp1": {"ansible_port": 2222}}}}))
    State().add_cluster("lab", str(inventory), "vagrant", "m1")
    monkeypatch.setattr(breakfix.context, "KubeClient", lambda *_a: healthy_kube())
    box = tmp_path / "box"  # a Vagrant folder whose inventory writer sees SSH on another port after the boot
    box.mkdir()
    (box / "inventory_from_ssh_config.py").write_text(
        "import sys, pathlib, yaml\n"
        "out = pathlib.Path(sys.argv[sys.argv.index('--out') + 1])\n"
        "inv = yaml.safe_load((out / 'inventory.yml').read_text())\n"
        "inv['all']['hosts']['cp1']['ansible_port'] = 2200\n"
        "(out / 'inventory.yml').write_text(yaml.safe_dump(inv))\n"
    )
    monkeypatch.setenv("BREAKFIX_VAGRANT_DIR", str(box))
    vagrant.expect((["halt"], "", 0), (["up", "--no-provision"], "", 0))
    assert main(["cluster", "stop", "--name", "lab"]) == 0
    assert main(["cluster", "start", "--name", "lab"]) == 0
    assert "cluster lab is back" in capsys.readouterr().out
    assert [c["argv"] for c in vagrant.calls] == [["halt"], ["up", "--no-provision"]]
    assert {c["dotfile"] for c in vagrant.calls} == {str(folder / ".vagrant")}
    assert yaml.safe_load(inventory.read_text())["all"]["hosts"]["cp1"]["ansible_port"] == 2200


class Recovering(FakeKube):
    """An API server that is down for the first reads, then has a NotReady worker, then is healthy."""

    def __init__(self, healthy_after: int) -> None:
        super().__init__({"Node", "Deployment", "DaemonSet"})
        self.reads = 0
        self.healthy_after = healthy_after
        self.create(node("lab-control-plane", True))
        self.create(node("lab-worker", False, "container runtime network not ready"))
        self.create(coredns(0))

    def list(self, api_version: str, kind: str, namespace: str | None = None, label_selector: str | None = None) -> Any:
        if kind == "Node":
            self.reads += 1
            self.down = self.reads <= 2
            if self.reads >= self.healthy_after:
                self.replace(node("lab-worker", True))
                self.replace(coredns(2))
        return super().list(api_version, kind, namespace, label_selector)


@pytest.mark.usefixtures("fast_clock")
def test_the_wait_says_what_it_waits_for_and_ends_when_all_is_back() -> None:
    kube, said = Recovering(healthy_after=5), []
    assert wait_until_ready(kube, said.append, timeout=600, poll=5) == pytest.approx(20)
    assert said == [
        "  [   0s] waiting: the API server does not answer yet "
        "(cannot reach the API server at https://fake:6443 (fake outage))",
        "  [  10s] waiting: node lab-worker is not Ready (container runtime network not ready) (and 1 more)",
    ]
    assert not_ready(kube) == []


@pytest.mark.usefixtures("fast_clock")
def test_the_wait_fails_naming_every_node_and_workload_not_back() -> None:
    with pytest.raises(ClusterError) as failed:
        wait_until_ready(Recovering(healthy_after=10_000), lambda _line: None, timeout=60, poll=5)
    assert str(failed.value) == (
        "the cluster was not back within 60s: node lab-worker is not Ready (container runtime network not ready); "
        "kube-system Deployment/coredns has 0 of 2 pods available"
    )
