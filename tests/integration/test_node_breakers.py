"""Node-level breakers over real SSH: break, then reset restores every file byte for byte."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from breakers import files, manifest
from breakfix.changes import ChangeLog
from breakfix.context import Context
from breakfix.inventory import load_inventory
from breakfix.state import State
from breakfix.undo import replay, verify_restored
from tests.integration.sshd import Sshd

REPO = Path(__file__).resolve().parents[2]
KUBEADM_ETCD = """apiVersion: v1
kind: Pod
metadata:
  annotations:
    kubeadm.kubernetes.io/etcd.advertise-client-urls: https://172.30.0.2:2379
  labels:
    component: etcd
    tier: control-plane
  name: etcd
  namespace: kube-system
spec:
  containers:
  - command:
    - etcd
    - --advertise-client-urls=https://172.30.0.2:2379
    - --data-dir=/var/lib/etcd
    - --listen-client-urls=https://127.0.0.1:2379,https://172.30.0.2:2379
    image: registry.k8s.io/etcd:3.5.21-0
    livenessProbe:
      httpGet:
        host: 127.0.0.1
        path: /livez
        port: 2381
    name: etcd
    volumeMounts:
    - mountPath: /var/lib/etcd
      name: etcd-data
  hostNetwork: true
  volumes:
  - hostPath:
      path: /var/lib/etcd
      type: DirectoryOrCreate
    name: etcd-data
status: {}
"""


def write_inventory(sshd: Sshd, folder: Path) -> Path:
    inv = folder / "inventory.yaml"
    inv.write_text(
        yaml.safe_dump(
            {
                "all": {
                    "vars": {
                        "breakfix_cluster": "sshd",
                        "breakfix_known_hosts": str(sshd.known_hosts),
                        "ansible_ssh_private_key_file": str(sshd.key_file),
                        "ansible_user": "root",
                    },
                    "children": {
                        "control_plane": {"hosts": {"cp1": {"ansible_host": "127.0.0.1", "ansible_port": sshd.port}}}
                    },
                }
            }
        )
    )
    return inv


@pytest.fixture
def node_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "manifests"
    folder.mkdir()
    etcd = folder / "etcd.yaml"
    etcd.write_text(KUBEADM_ETCD)
    os.chmod(etcd, 0o600)
    os.chown(etcd, 0, 0)
    (folder / "kubelet.conf").write_text("server: https://172.30.0.2:6443\n")
    os.chmod(folder / "kubelet.conf", 0o644)
    os.chown(folder / "kubelet.conf", 4321, 4321)
    return folder


def snapshot(folder: Path) -> dict[str, tuple[bytes, int, int, int]]:
    return {
        p.name: (p.read_bytes(), p.stat().st_mode, p.stat().st_uid, p.stat().st_gid) for p in sorted(folder.iterdir())
    }


def test_break_then_reset_is_byte_identical(sshd: Sshd, node_dir: Path, tmp_path: Path) -> None:
    before = snapshot(node_dir)
    ctx = Context(load_inventory(write_inventory(sshd, tmp_path)), State(), log=lambda _m: None)
    node = ctx.node("control-plane")
    log = ChangeLog(ctx, "break")
    etcd = str(node_dir / "etcd.yaml")
    manifest.set_flag(node, log, etcd, "--data-dir", "/var/lib/etcd-fresh")
    manifest.set_volume_path(node, log, etcd, "etcd-data", "/var/lib/etcd-fresh")
    manifest.set_probe_host(node, log, etcd, "10.9.9.9")
    files.replace_text(node, log, str(node_dir / "kubelet.conf"), ":6443", ":6444")
    files.write(node, log, str(node_dir / "extra.yaml"), "kind: Pod\n")
    pod = yaml.safe_load((node_dir / "etcd.yaml").read_text())
    assert "--data-dir=/var/lib/etcd-fresh" in pod["spec"]["containers"][0]["command"]
    assert pod["spec"]["volumes"][0]["hostPath"]["path"] == "/var/lib/etcd-fresh"
    assert snapshot(node_dir) != before
    entries = ctx.store.journal("sshd")
    assert replay(ctx) == 5
    assert snapshot(node_dir) == before
    assert verify_restored(ctx, entries) == []
    ctx.close()


DRIVER = """
import sys
from breakfix.catalog import load_lab
from breakfix.context import Context
from breakfix.inventory import load_inventory
from breakfix.runner import run_steps
from breakfix.state import State
from pathlib import Path
lab = load_lab(Path(sys.argv[1]))
ctx = Context(load_inventory(sys.argv[2]), State(), log=lambda m: None)
run_steps(ctx, lab.steps["break"], "break")
print("COMPLETED")
"""


def crash_lab(folder: Path, node_dir: Path) -> Path:
    etcd, kubelet = str(node_dir / "etcd.yaml"), str(node_dir / "kubelet.conf")
    lab = folder / "crashlab" / "lab.yaml"
    lab.parent.mkdir()
    lab.write_text(
        yaml.safe_dump(
            {
                "id": "crashlab",
                "title": "Crash lab",
                "domain": "troubleshooting",
                "difficulty": "easy",
                "time_limit": "5m",
                "task": "Nothing to do here at all.",
                "solution": "none",
                "break": [
                    {"breakers.manifest.set_flag": {"manifest": etcd, "flag": "--data-dir", "value": "/x"}},
                    {"breakers.manifest.set_probe_host": {"manifest": etcd, "host": "10.9.9.9"}},
                    {"breakers.files.replace_text": {"path": kubelet, "old": ":6443", "new": ":6444"}},
                    {"breakers.files.write": {"path": str(node_dir / "new.yaml"), "content": "x: 1\n"}},
                ],
                "confirm": [{"graders.api.reachable": {}}],
                "grade": [{"graders.api.reachable": {}}],
                "solve": [{"breakers.files.write": {"path": "/tmp/unused", "content": "x"}}],
            }
        )
    )
    return lab


@pytest.mark.parametrize(
    "point", [f"journal:{n}:{stage}" for n in (1, 2, 3, 4) for stage in ("before", "after")] + ["none"]
)
def test_sigkill_at_each_journal_step_then_reset(sshd: Sshd, node_dir: Path, tmp_path: Path, point: str) -> None:
    """Kill the breaking process with SIGKILL at every journal step; `lab reset` then restores everything."""
    before = snapshot(node_dir)
    inventory = write_inventory(sshd, tmp_path)
    lab = crash_lab(tmp_path, node_dir)
    env = {**os.environ, "BREAKFIX_FAILPOINT": point, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER, str(lab), str(inventory)], env=env, capture_output=True, text=True, timeout=120
    )
    if point == "none":
        assert proc.returncode == 0 and "COMPLETED" in proc.stdout, proc.stderr
    else:
        assert proc.returncode == -9, proc.stderr  # really killed, mid-break
    store = State()
    store.add_cluster("sshd", str(inventory), "inventory", "unused")
    from breakfix.cli.main import main

    assert main(["--cluster", "sshd", "reset"]) == 0
    assert snapshot(node_dir) == before
    assert store.journal("sshd") == []
