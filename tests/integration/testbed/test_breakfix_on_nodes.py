"""breakfix's own ssh transport and node breakers on the test bed's systemd nodes, host keys checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from breakers import manifest, systemd
from breakfix.changes import ChangeLog
from breakfix.context import Context
from breakfix.errors import NodeError
from breakfix.inventory import load_inventory
from breakfix.state import State
from breakfix.undo import replay, verify_restored
from tests.integration.test_node_breakers import KUBEADM_ETCD

MANIFEST = "/etc/kubernetes/manifests/etcd.yaml"


@pytest.fixture
def ctx(testbed_inventory: Path) -> Context:
    spec = load_inventory(testbed_inventory)
    assert all(n.transport.scheme == "ssh" and n.transport.check_host_key for n in spec.nodes)
    context = Context(spec, State(), log=lambda _m: None)
    yield context
    context.close()


def state_of(node, path: str) -> str:  # type: ignore[no-untyped-def]
    return node.check("sha256sum %s && stat -c '%%a %%u:%%g' %s", path, path)


def test_manifest_edit_and_reset_byte_identical(ctx: Context) -> None:
    cp = ctx.node("control-plane")
    cp.check("mkdir -p /etc/kubernetes/manifests")
    cp.write(MANIFEST, KUBEADM_ETCD)
    cp.check("chmod 600 %s && chown root:root %s", MANIFEST, MANIFEST)
    before = state_of(cp, MANIFEST)
    manifest.set_flag(cp, ChangeLog(ctx, "break"), "etcd", "--data-dir", "/var/lib/etcd-fresh")
    manifest.set_probe_host(cp, ChangeLog(ctx, "break"), "etcd", "10.9.9.9")
    assert "--data-dir=/var/lib/etcd-fresh" in cp.read_text(MANIFEST)
    cp.check("chmod 644 %s && chown 65534:65534 %s", MANIFEST, MANIFEST)  # the student fiddles too
    entries = ctx.store.journal(ctx.cluster.name)
    assert replay(ctx) == 2
    assert state_of(cp, MANIFEST) == before
    assert verify_restored(ctx, entries) == []
    assert cp.check("ls -A /etc/kubernetes/manifests").split() == ["etcd.yaml"]  # no temp files left
    cp.remove(MANIFEST)  # the node is shared by the session


def test_stop_containerd_and_undo(ctx: Context) -> None:
    worker = ctx.node("worker")
    assert worker.run("systemctl is-active containerd").stdout.strip() == "active"
    systemd.stop(worker, ChangeLog(ctx, "break"), "containerd")
    assert worker.run("systemctl is-active containerd").stdout.strip() == "inactive"
    replay(ctx)
    assert worker.run("systemctl is-active containerd").stdout.strip() == "active"
    assert worker.run("ctr version").ok


def test_host_key_checking_is_on(ctx: Context, tmp_path: Path) -> None:
    from breakfix.transport.node import Node
    from breakfix.transport.ssh import SSHTransport

    spec = ctx.cluster.nodes[0].transport
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    node = Node("cp1", "control-plane", SSHTransport(spec.host, spec.port, spec.user, spec.key_file, str(empty)))
    with pytest.raises(NodeError, match="refusing to connect"):
        node.run("true")


def test_node_files_fingerprint_finds_and_puts_back_what_the_student_changed(ctx: Context) -> None:
    """Files changed, added and removed under the watched paths and a stopped unit are named, then put back."""
    from breakfix import node_files

    cp = ctx.node("control-plane")
    cp.check("mkdir -p /etc/kubernetes/manifests /etc/cni/net.d")
    cp.write(MANIFEST, KUBEADM_ETCD)
    cp.check("chmod 600 %s && ln -sfn %s /etc/kubernetes/etcd-link", MANIFEST, MANIFEST)
    cp.write("/etc/cni/net.d/10-bridge.conflist", '{"cniVersion": "1.0.0"}')
    try:
        before = node_files.take(cp)
        assert before["files"][MANIFEST].startswith("F 600:0:0 ")
        assert before["files"]["/etc/kubernetes/etcd-link"] == f"L {MANIFEST}"
        assert before["units"]["containerd"] == ["enabled", "active"]
        assert node_files.differences(cp, before) == []

        cp.write(MANIFEST, KUBEADM_ETCD.replace("/var/lib/etcd", "/var/lib/etcd-fresh"))  # the student's work
        cp.write("/etc/cni/net.d/99-second.conflist", "{}")
        cp.remove("/etc/cni/net.d/10-bridge.conflist")
        cp.check("ln -sfn /dev/null /etc/kubernetes/etcd-link && systemctl stop containerd")
        assert node_files.differences(cp, before) == [
            "cp1: /etc/cni/net.d/10-bridge.conflist was removed",
            "cp1: /etc/cni/net.d/99-second.conflist was added",
            "cp1: /etc/kubernetes/etcd-link was changed",
            f"cp1: {MANIFEST} was changed",
            "cp1: containerd is enabled/inactive, was enabled/active",
        ]
        said: list[str] = []
        assert node_files.restore(cp, before, said.append) == []
        assert node_files.differences(cp, before) == [] and len(said) == 5
        assert cp.read_text(MANIFEST) == KUBEADM_ETCD and state_of(cp, MANIFEST).endswith("600 0:0\n")
    finally:
        cp.check("rm -f %s /etc/kubernetes/etcd-link /etc/cni/net.d/*.conflist; systemctl start containerd", MANIFEST)


def test_node_files_restore_restarts_a_unit_whose_start_up_files_it_put_back(ctx: Context) -> None:
    """containerd reads its configuration only when it starts: reset that puts it back restarts the unit."""
    from breakfix import node_files

    cp = ctx.node("control-plane")
    config = "/etc/containerd/config.toml"
    original = cp.read(config)
    started = "systemctl show -p ExecMainStartTimestampMonotonic --value containerd"
    try:
        before = node_files.take(cp)
        assert before["units"]["containerd"] == ["enabled", "active"]
        cp.write(config, (original or b"") + b"\n# the student's edit, not yet read by containerd\n")
        was_started = cp.check(started)
        said: list[str] = []
        assert node_files.restore(cp, before, said.append) == []
        assert cp.read(config) == original and node_files.differences(cp, before) == []
        assert cp.check(started) != was_started, "containerd still runs with what it read before the reset"
        assert said[-1] == "  restarted containerd on cp1: it reads the files put back only when it starts"
    finally:
        if original is not None and cp.read(config) != original:
            cp.write(config, original)
        cp.check("systemctl restart containerd")
