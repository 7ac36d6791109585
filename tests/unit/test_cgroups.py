"""The cgroup driver of a node's container runtime (breakers.cgroups) and of its kubelet (graders.cgroups)."""

from __future__ import annotations

import pytest

from breakers import cgroups as breaker
from breakfix.changes import ChangeLog
from breakfix.context import SessionState
from breakfix.errors import StepError
from breakfix.transport.node import Node
from graders import cgroups
from tests.fakes import FakeKube, FakeTransport
from tests.unit.contexts import make_ctx

TOML = """version = 2

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
    SystemdCgroup = false
"""
KUBELET = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDriver: cgroupfs\n"


def test_the_option_is_set_in_place_added_under_its_table_or_with_its_table() -> None:
    assert "SystemdCgroup = true\n" in breaker.with_systemd_cgroup(TOML, True)
    assert breaker.with_systemd_cgroup(breaker.with_systemd_cgroup(TOML, True), False) == TOML
    without = TOML.replace("    SystemdCgroup = false\n", "")
    added = breaker.with_systemd_cgroup(without, True)
    assert added.index("SystemdCgroup = true") > added.index(breaker.RUNC_OPTIONS)
    bare = breaker.with_systemd_cgroup("version = 2\n", False)
    assert bare.endswith(f"{breaker.RUNC_OPTIONS}\n  SystemdCgroup = false\n")


@pytest.mark.parametrize(("kubelet", "runtime"), [("cgroupfs", "true"), ("systemd", "false")])
def test_the_break_gives_containerd_the_other_driver_and_the_fix_the_kubelets(kubelet: str, runtime: str) -> None:
    config = KUBELET.replace("cgroupfs", kubelet).encode()
    fake = FakeTransport({"/etc/containerd/config.toml": TOML.encode(), "/var/lib/kubelet/config.yaml": config})
    ctx = make_ctx(fake)
    node = ctx.node("cp1")
    breaker.runtime_driver_unlike_kubelet(node, ChangeLog(ctx, "break"))
    assert f"SystemdCgroup = {runtime}" in fake.files["/etc/containerd/config.toml"].decode()
    breaker.runtime_driver_like_kubelet(node, ChangeLog(ctx, "solve"))
    want = "true" if kubelet == "systemd" else "false"
    assert f"SystemdCgroup = {want}" in fake.files["/etc/containerd/config.toml"].decode()


def test_a_kubelet_config_without_a_driver_means_cgroupfs_and_a_strange_one_is_refused() -> None:
    fake = FakeTransport({"/k.yaml": b"kind: KubeletConfiguration\n", "/bad.yaml": b"cgroupDriver: cgroupv3\n"})
    node = Node("w1", "worker", fake, "10.0.0.3")
    assert breaker.kubelet_driver(node, "/k.yaml") == "cgroupfs"
    with pytest.raises(StepError, match="unknown cgroupDriver"):
        breaker.kubelet_driver(node, "/bad.yaml")
    with pytest.raises(StepError, match="does not exist"):
        breaker.kubelet_driver(node, "/none.yaml")


def test_the_last_flag_wins_as_in_go_programs() -> None:
    argv = ["/usr/bin/kubelet", "--config=/a.yaml", "--cgroup-driver", "systemd", "--config=/b.yaml"]
    assert cgroups.last_flag(argv, "--config") == "/b.yaml"
    assert cgroups.last_flag(argv, "--cgroup-driver") == "systemd"
    assert cgroups.last_flag(argv, "--kubeconfig") is None


def fresh_state() -> SessionState:
    """A session's state in which setup noted nothing (the graders then read the ConfigMap as it is)."""
    return make_ctx(FakeTransport()).state


def cluster(driver: str = "cgroupfs") -> FakeKube:
    kube = FakeKube({"ConfigMap"})
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "kubelet-config", "namespace": "kube-system"},
            "data": {"kubelet": KUBELET.replace("cgroupfs", driver)},
        }
    )
    return kube


def worker(cmdline: list[str], files: dict[str, bytes]) -> Node:
    fake = FakeTransport(files)
    fake.expect(r"tr .* < /proc/\$\(systemctl show kubelet -p MainPID --value\)/cmdline", stdout="\n".join(cmdline))
    return Node("w1", "worker", fake, "10.0.0.3")


RUNNING = ["/usr/bin/kubelet", "--config=/var/lib/kubelet/config.yaml"]


def test_the_kubelet_on_the_clusters_driver_passes() -> None:
    node = worker(RUNNING, {"/var/lib/kubelet/config.yaml": KUBELET.encode()})
    assert cgroups.kubelet_driver_as_cluster(node, cluster(), fresh_state()).ok


def test_a_kubelet_moved_to_the_other_driver_by_file_or_by_flag_fails() -> None:
    moved = KUBELET.replace("cgroupfs", "systemd").encode()
    by_file = cgroups.kubelet_driver_as_cluster(
        worker(RUNNING, {"/var/lib/kubelet/config.yaml": moved}), cluster(), fresh_state()
    )
    assert not by_file.ok and "systemd cgroup driver (/var/lib/kubelet/config.yaml)" in by_file.message
    flagged = worker([*RUNNING, "--cgroup-driver=systemd"], {"/var/lib/kubelet/config.yaml": KUBELET.encode()})
    by_flag = cgroups.kubelet_driver_as_cluster(flagged, cluster(), fresh_state())
    assert not by_flag.ok and "--cgroup-driver flag" in by_flag.message


def test_the_config_file_the_kubelet_really_reads_is_judged() -> None:
    files = {
        "/var/lib/kubelet/config.yaml": KUBELET.encode(),
        "/root/k.yaml": KUBELET.replace("cgroupfs", "systemd").encode(),
    }
    result = cgroups.kubelet_driver_as_cluster(
        worker([*RUNNING, "--config=/root/k.yaml"], files), cluster(), fresh_state()
    )
    assert not result.ok and "/root/k.yaml" in result.message


def test_a_stopped_kubelet_fails_and_a_missing_cluster_config_cannot_be_judged() -> None:
    stopped = cgroups.kubelet_driver_as_cluster(worker([], {}), cluster(), fresh_state())
    assert not stopped.ok and "not running" in stopped.message
    empty = cgroups.kubelet_driver_as_cluster(worker(RUNNING, {}), FakeKube({"ConfigMap"}), fresh_state())
    assert empty.status == "error"


def test_the_configuration_noted_at_setup_wins_over_a_later_edit_of_the_config_map() -> None:
    """A student who edits kube-system/kubelet-config to match a moved kubelet does not pass."""
    from breakers import kubelet_config

    kube = cluster("cgroupfs")
    state = fresh_state()
    kubelet_config.remember_cluster_config(kube, state)
    kube.patch("v1", "ConfigMap", "kubelet-config", "kube-system", {"data": {"kubelet": "cgroupDriver: systemd\n"}})
    moved = worker(RUNNING, {"/var/lib/kubelet/config.yaml": KUBELET.replace("cgroupfs", "systemd").encode()})
    result = cgroups.kubelet_driver_as_cluster(moved, kube, state)
    assert not result.ok and "says cgroupfs" in result.message
