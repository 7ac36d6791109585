"""breakers.etcd_backup and graders.etcd_backup: snapshot, restore, the store put back on reset, objects by UID."""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path

import pytest

from breakers import etcd_backup
from breakfix.changes import ChangeLog
from breakfix.context import SessionState
from breakfix.errors import StepError
from breakfix.state import State
from breakfix.transport.node import Node
from breakfix.undo import replay
from graders.etcd_backup import objects_back, store_kept
from tests.fakes import FakeKube, FakeTransport
from tests.unit.contexts import make_ctx

MANIFEST = b"""apiVersion: v1
kind: Pod
metadata: {name: etcd, namespace: kube-system}
spec:
  containers:
  - name: etcd
    image: breakfix.local/k8s/etcd:v3.6.16
    command: [etcd, --data-dir=/var/lib/etcd]
"""
OBJECTS = ["ConfigMap orders/price-list", "Deployment orders/orders-api"]


def test_snapshot_runs_etcdctl_from_etcds_image_and_undo_removes_the_backup_folder() -> None:
    t = FakeTransport({etcd_backup.ETCD: MANIFEST})
    t.expect(r"^mkdir -p /var/lib/etcd-backup && ctr -n k8s.io run --rm --net-host .*")
    t.expect(r"^rm -rf -- /var/lib/etcd-backup$")
    ctx = make_ctx(t)
    etcd_backup.snapshot(ctx.node("cp1"), ChangeLog(ctx, "setup"))
    ran = t.log[-1]
    assert "breakfix.local/k8s/etcd:v3.6.16" in ran and "snapshot save /backup/snapshot.db" in ran
    assert "src=/var/lib/etcd-backup,dst=/backup,options=rbind:rw" in ran
    replay(ctx)
    assert t.log[-1] == "rm -rf -- /var/lib/etcd-backup"


def test_snapshot_and_restore_refuse_a_folder_that_exists() -> None:
    t = FakeTransport({etcd_backup.ETCD: MANIFEST, "/var/lib/etcd-backup": b"", "/var/lib/etcd-new": b""})
    ctx = make_ctx(t)
    with pytest.raises(StepError, match="must be the lab's own"):
        etcd_backup.snapshot(ctx.node("cp1"), ChangeLog(ctx, "setup"))
    with pytest.raises(StepError, match="exists already"):
        etcd_backup.restore(ctx.node("cp1"), ChangeLog(ctx, "solve"), "/var/lib/b/s.db", "/var/lib/etcd-new")


def test_restore_bumps_the_revision_and_undo_removes_the_new_store() -> None:
    t = FakeTransport({etcd_backup.ETCD: MANIFEST})
    t.expect(r"^ctr -n k8s.io run --rm --mount .* etcdutl snapshot restore /backup/s.db .*")
    t.expect(r"^rm -rf -- /var/lib/etcd-new$")
    ctx = make_ctx(t)
    etcd_backup.restore(ctx.node("cp1"), ChangeLog(ctx, "solve"), "/var/lib/b/s.db", "/var/lib/etcd-new")
    assert "--data-dir /restore/etcd-new --bump-revision 1000000000 --mark-compacted" in t.log[-1]
    replay(ctx)
    assert t.log[-1] == "rm -rf -- /var/lib/etcd-new"


def test_store_back_keeps_the_manifest_in_the_journal_and_notes_the_store() -> None:
    t = FakeTransport({etcd_backup.ETCD: MANIFEST})
    t.expect(r"^stat -c %d:%i /var/lib/etcd/member/snap/db$", stdout="65024:77\n")
    t.expect(r"^stat -c %a:%u:%g /etc/kubernetes/manifests/etcd.yaml$", stdout="600:0:0\n")
    t.expect(r"^true$")
    ctx = make_ctx(t)
    state = _state()
    etcd_backup.store_back_on_reset(ctx.node("cp1"), ChangeLog(ctx, "break"), state)
    assert state.get(etcd_backup.store_key("/var/lib/etcd")) == "65024:77"
    script = etcd_backup._store_back_script(MANIFEST, "/var/lib/etcd", "65024:77")
    subprocess.run(["sh", "-n", "-c", script], check=True)
    assert base64.b64encode(MANIFEST).decode() in script and "kube-apiserver.yaml" in script
    assert "--skip-hash-check --bump-revision 1000000000000 --mark-compacted" in script


FAKE_PGREP = """#!/bin/sh
# etcd runs while its manifest is in the manifests folder; kube-apiserver stops at once when moved out
case "$*" in
  *kube-apiserver*) exit 1;;
  *) [ -f "$ROOT/etc/kubernetes/manifests/etcd.yaml" ] && echo 1 || exit 1;;
esac
"""
FAKE_CTR = """#!/bin/sh
# etcdutl snapshot restore DB ... --data-dir DIR: a copy of DB as DIR's database
db=""; dir=""; prev=""
for a in "$@"; do
  [ "$prev" = restore ] && db="$a"; [ "$prev" = --data-dir ] && dir="$a"; prev="$a"
done
mkdir -p "$dir/member/snap" "$dir/member/wal" && cp "$db" "$dir/member/snap/db" && echo new > "$dir/member/wal/0.wal"
"""


def _node_tree(root: Path, student_manifest: bytes) -> tuple[Path, dict[str, str]]:
    (root / "etc/kubernetes/manifests").mkdir(parents=True)
    (root / "var/lib/etcd/member/snap").mkdir(parents=True)
    (root / "var/lib/etcd/member/wal").mkdir(parents=True)
    (root / "var/lib/etcd/member/wal/old.wal").write_text("old")
    db = root / "var/lib/etcd/member/snap/db"
    db.write_bytes(b"store")
    (root / "etc/kubernetes/manifests/etcd.yaml").write_bytes(student_manifest)
    (root / "etc/kubernetes/manifests/kube-apiserver.yaml").write_bytes(b"apiserver\n")
    (root / "proc/1/fd").mkdir(parents=True)
    (root / "proc/1/fd/7").symlink_to(db)  # etcd has its database open (by path: the file there now)
    bin_dir = root / "bin"
    bin_dir.mkdir()
    for name, text in (("pgrep", FAKE_PGREP), ("ctr", FAKE_CTR)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    return db, {"PATH": f"{bin_dir}:/usr/bin:/bin", "ROOT": str(root)}


def _on(root: Path, script: str) -> str:
    for path in ("/etc/", "/var/lib", "/proc/"):
        script = script.replace(path, f"{root}{path}")
    return script


def test_the_store_back_script_copies_the_store_forward_and_says_when_it_was_replaced(tmp_path: Path) -> None:
    """Run for real by sh, the node's paths under TMP_PATH, stand-ins for pgrep and ctr (etcdutl)."""
    db, env = _node_tree(tmp_path, b"changed by the student\n")
    inode = subprocess.run(["stat", "-c", "%d:%i", str(db)], capture_output=True, text=True, check=True).stdout.strip()
    owner = f"{os.getuid()}:{os.getgid()}"
    script = _on(tmp_path, etcd_backup._store_back_script(MANIFEST, "/var/lib/etcd", inode, f"600:{owner}"))
    done = subprocess.run(["sh", "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "etc/kubernetes/manifests/etcd.yaml").read_bytes() == MANIFEST
    assert (tmp_path / "etc/kubernetes/manifests/etcd.yaml").stat().st_mode & 0o777 == 0o600  # as it was
    assert (tmp_path / "etc/kubernetes/manifests/kube-apiserver.yaml").exists()  # moved out and back
    assert db.read_bytes() == b"store"  # the same data, copied forward into the same file
    assert sorted(p.name for p in (tmp_path / "var/lib/etcd/member/wal").iterdir()) == ["0.wal"]  # the new log
    assert not list(tmp_path.glob("var/lib/etcd.breakfix-*"))  # no copy left beside it
    done = subprocess.run(["sh", "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr  # a second reset (another phase of verify) sees the same store
    fresh = db.with_name("db.new")
    fresh.write_bytes(b"restored in place")  # another file, as a restore over the old folder makes
    fresh.replace(db)
    done = subprocess.run(["sh", "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 1 and "held other data than before the lab" in done.stderr


def test_store_kept_compares_the_databases_identity() -> None:
    state = _state()
    state.set(etcd_backup.store_key("/var/lib/etcd"), "65024:77")
    for stdout, status in (("65024:77\n", "pass"), ("65024:99\n", "fail")):
        t = FakeTransport()
        t.expect(r"^stat -c %d:%i /var/lib/etcd/member/snap/db$", stdout=stdout)
        assert store_kept(Node("cp1", "control-plane", t), state).status == status
    assert store_kept(Node("cp1", "control-plane", FakeTransport()), _state()).status == "error"


def _state() -> SessionState:
    return SessionState(State(), None)


def test_objects_back_by_uid_only() -> None:
    kube = FakeKube({"ConfigMap", "Deployment"})
    state = _state()
    cm = kube.create(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "price-list", "namespace": "orders"}}
    )
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "orders-api", "namespace": "orders"}}
    kube.create(dep)
    etcd_backup.remember_uids(kube, state, OBJECTS)
    assert objects_back(kube, state, OBJECTS).ok
    kube.delete("apps/v1", "Deployment", "orders-api", "orders")
    result = objects_back(kube, state, OBJECTS)
    assert result.status == "fail" and "missing: Deployment orders/orders-api" in result.message
    kube.create(dep)  # made again by hand: a new UID
    result = objects_back(kube, state, OBJECTS)
    assert result.status == "fail" and "made anew" in result.message
    assert cm["metadata"]["uid"] == state.get("uid:ConfigMap orders/price-list")


@pytest.mark.parametrize("ref", ["ConfigMap price-list", "Pod orders/x", "ConfigMap /x"])
def test_a_reference_that_is_not_kind_namespace_name_is_refused(ref: str) -> None:
    with pytest.raises(StepError, match="Kind namespace/name"):
        etcd_backup.parse_ref(ref)
    assert objects_back(FakeKube(set()), _state(), [ref]).status == "error"
