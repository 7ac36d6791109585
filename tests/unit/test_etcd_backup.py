"""breakers.etcd_backup and graders.etcd_backup: snapshot, restore, the store put back on reset, objects by UID."""

from __future__ import annotations

import subprocess

import pytest

from breakers import etcd_backup
from breakfix.changes import ChangeLog
from breakfix.context import SessionState
from breakfix.errors import StepError
from breakfix.state import State
from breakfix.undo import replay
from graders.etcd_backup import objects_back
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


def test_the_store_back_script_is_valid_shell() -> None:
    script = etcd_backup._store_back_script("/var/lib/etcd")
    subprocess.run(["sh", "-n", "-c", script], check=True)
    assert "member/snap/db" in script and "kube-apiserver.yaml" in script


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
