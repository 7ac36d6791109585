"""Every change is journaled before it is made; replaying the journal restores bytes, mode and owner."""

from __future__ import annotations

from typing import Any

import pytest

from breakers import files, manifest
from breakfix.changes import ChangeLog
from breakfix.errors import BreakfixError, NodeError, StepError
from breakfix.transport.base import FileStat
from breakfix.undo import replay, verify_restored
from tests.fakes import FakeKube, FakeTransport
from tests.unit.contexts import make_ctx
from tests.unit.test_manifests import MANIFEST

PATH = "/etc/kubernetes/manifests/etcd.yaml"


def test_edit_then_replay_restores_bytes_mode_owner() -> None:
    t = FakeTransport({PATH: MANIFEST})
    t.stats[PATH] = FileStat(0o600, 0, 0)
    ctx = make_ctx(t)
    node = ctx.node("control-plane")
    manifest.set_flag(node, ChangeLog(ctx, "break"), "etcd", "--data-dir", "/var/lib/etcd-fresh")
    assert b"--data-dir=/var/lib/etcd-fresh" in t.files[PATH]
    entries = ctx.store.journal("test")
    assert [e.kind for e in entries] == ["file"] and entries[0].record["mode"] == 0o600
    t.stats[PATH] = FileStat(0o644, 1000, 1000)  # the student also changed mode and owner
    assert replay(ctx) == 1
    assert t.files[PATH] == MANIFEST and t.stats[PATH] == FileStat(0o600, 0, 0)
    assert ctx.store.journal("test") == []
    assert verify_restored(ctx, entries) == []


def test_journal_is_written_before_the_change() -> None:
    """A crash after the journal write and before the change leaves an entry whose undo is harmless."""
    t = FakeTransport({PATH: MANIFEST})
    ctx = make_ctx(t)

    class Boom(Exception):
        pass

    def exploding_write(path: str, data: bytes, stat: FileStat | None) -> None:
        assert ctx.store.journal("test"), "the journal entry must exist before the write"
        raise Boom

    t.write_bytes = exploding_write  # type: ignore[method-assign]
    with pytest.raises(Boom):
        manifest.set_flag(ctx.node("cp1"), ChangeLog(ctx, "break"), "etcd", "--data-dir", "/x")
    del t.write_bytes
    assert replay(ctx) == 1 and t.files[PATH] == MANIFEST


def test_new_file_is_removed_and_replay_is_idempotent() -> None:
    t = FakeTransport()
    ctx = make_ctx(t)
    files.write(ctx.node("cp1"), ChangeLog(ctx, "break"), "/etc/new.conf", "x=1")
    assert t.files["/etc/new.conf"] == b"x=1"
    replay(ctx)
    assert "/etc/new.conf" not in t.files
    assert replay(ctx) == 0


def test_move_file_and_undo() -> None:
    t = FakeTransport({PATH: MANIFEST})
    ctx = make_ctx(t)
    manifest.move_out(ctx.node("cp1"), ChangeLog(ctx, "break"), "etcd")
    assert PATH not in t.files and t.files["/etc/kubernetes/etcd.yaml"] == MANIFEST
    replay(ctx)
    assert t.files == {PATH: MANIFEST}


def test_unchanged_edit_is_not_journaled() -> None:
    t = FakeTransport({"/f": b"same"})
    ctx = make_ctx(t)
    files.write(ctx.node("cp1"), ChangeLog(ctx, "break"), "/f", "same")
    assert ctx.store.journal("test") == []


def test_replace_text_requires_the_text() -> None:
    t = FakeTransport({"/f": b"abc"})
    ctx = make_ctx(t)
    with pytest.raises(StepError, match="does not contain"):
        files.replace_text(ctx.node("cp1"), ChangeLog(ctx, "break"), "/f", "zzz", "y")


def test_units_are_restored() -> None:
    t = FakeTransport()
    t.expect(r"systemctl is-active --quiet containerd .*")
    t.expect(r"systemctl is-enabled --quiet containerd")
    t.expect(r"systemctl is-enabled containerd", stdout="enabled\n")
    t.expect(r"systemctl stop containerd")
    ctx = make_ctx(t)
    from breakers import systemd

    systemd.stop(ctx.node("cp1"), ChangeLog(ctx, "break"), "containerd")
    t.expect(r"systemctl (unmask|enable|start) containerd")
    replay(ctx)
    assert t.log[-3:] == ["systemctl unmask containerd", "systemctl enable containerd", "systemctl start containerd"]


def test_objects_are_put_back_and_created_ones_deleted() -> None:
    kube = FakeKube({"ConfigMap", "Service"})
    ctx = make_ctx(FakeTransport(), kube)
    svc = kube.create(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"selector": {"app": "web"}},
        }
    )
    from breakers import kube as kb

    log = ChangeLog(ctx, "break")
    kb.set_selector(log, "web", {"tier": "x"}, "shop")
    kb.create_sentinel(ChangeLog(ctx, "setup"), ctx.state, "ledger")
    assert kube.get("v1", "Service", "web", "shop")["spec"]["selector"] == {"tier": "x"}
    replay(ctx)
    after = kube.get("v1", "Service", "web", "shop")
    assert after["spec"]["selector"] == {"app": "web"} and after["metadata"]["uid"] == svc["metadata"]["uid"]
    assert kube.get("v1", "ConfigMap", "ledger", "default") is None


def test_undo_waits_for_the_api_server() -> None:
    kube = FakeKube({"ConfigMap"})
    ctx = make_ctx(FakeTransport(), kube)
    from breakers import kube as kb

    kb.create_sentinel(ChangeLog(ctx, "setup"), ctx.state, "ledger")
    entries = ctx.store.journal("test")
    kube.down = True
    from breakfix import undo

    with pytest.raises(Exception, match="fake outage"):
        undo.undo_entry(ctx, entries[0], api_wait=0)
    kube.down = False
    undo.undo_entry(ctx, entries[0], api_wait=0)
    assert kube.get("v1", "ConfigMap", "ledger", "default") is None


def test_reset_stops_at_the_first_failed_undo() -> None:
    """Undoing older entries past a failure would leave the newer change in place with an empty journal."""
    t = FakeTransport({"/f": b"A0"})
    ctx = make_ctx(t)
    files.write(ctx.node("cp1"), ChangeLog(ctx, "break"), "/f", "A1")
    files.write(ctx.node("cp1"), ChangeLog(ctx, "break"), "/f", "A2")

    def flaky(path: str, data: bytes, stat: FileStat | None) -> None:
        raise NodeError("ssh hiccup")

    t.write_bytes = flaky  # type: ignore[method-assign]
    with pytest.raises(BreakfixError, match="0 of 2 changes were undone"):
        replay(ctx)
    assert t.files["/f"] == b"A2" and len(ctx.store.journal("test")) == 2
    del t.write_bytes
    assert replay(ctx) == 2 and t.files["/f"] == b"A0"


def test_masked_units_are_masked_again() -> None:
    t = FakeTransport()
    t.expect(r"systemctl is-active --quiet kubelet .*", rc=3)
    t.expect(r"systemctl is-enabled --quiet kubelet", rc=1)
    t.expect(r"systemctl is-enabled kubelet", stdout="masked\n")
    t.expect(r"systemctl (unmask|start|stop|mask) kubelet")
    ctx = make_ctx(t)
    from breakers import systemd

    systemd.start(ctx.node("cp1"), ChangeLog(ctx, "solve"), "kubelet")
    replay(ctx)
    assert t.log[-2:] == ["systemctl stop kubelet", "systemctl mask kubelet"]


def test_recreated_service_is_replaced_by_ours() -> None:
    """A student who deleted and re-created the Service must not make reset fail on its immutable clusterIP."""
    kube = FakeKube({"Service"})
    ctx = make_ctx(FakeTransport(), kube)
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"selector": {"app": "web"}},
        }
    )
    from breakers import kube as kb

    kb.set_selector(ChangeLog(ctx, "break"), "web", {"tier": "x"}, "shop")
    kube.delete("v1", "Service", "web", "shop")
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"selector": {"app": "other"}},
        }
    )
    replay(ctx)
    assert kube.get("v1", "Service", "web", "shop")["spec"]["selector"] == {"app": "web"}


def claim(class_name: str | None = None, volume: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    if class_name:
        spec["storageClassName"] = class_name
    if volume:
        spec["volumeName"] = volume
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "invoices", "namespace": "billing"},
        "spec": spec,
    }


def test_an_object_whose_spec_cannot_go_back_in_place_is_recreated() -> None:
    """A claim that got a class and bound refuses its old spec (HTTP 422, immutable): reset recreates it."""
    kube = FakeKube({"PersistentVolumeClaim"})
    ctx = make_ctx(FakeTransport(), kube)
    first_uid = kube.create(claim())["metadata"]["uid"]
    from breakers import kube as kb

    kb.patch(
        ChangeLog(ctx, "cheat"), "PersistentVolumeClaim", "invoices", {"spec": {"storageClassName": "x"}}, "billing"
    )
    kube.objects[("v1", "PersistentVolumeClaim", "billing", "invoices")]["spec"]["volumeName"] = "pv1"  # bound
    replay(ctx)
    live = kube.get("v1", "PersistentVolumeClaim", "invoices", "billing")
    assert live["spec"] == claim()["spec"] and live["metadata"]["uid"] != first_uid
    replaced = kube.calls.index("replace PersistentVolumeClaim")
    after = [call.split()[0] for call in kube.calls[replaced + 1 : replaced + 4]]
    assert after == ["delete", "get", "create"]  # deleted, gone, created as it was


def test_other_refusals_of_an_undo_are_not_papered_over() -> None:
    kube = FakeKube({"Service"})
    ctx = make_ctx(FakeTransport(), kube)
    kube.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"}, "spec": {}})
    from breakers import kube as kb

    kb.patch(ChangeLog(ctx, "break"), "Service", "web", {"spec": {"clusterIP": "10.96.0.99"}}, "shop")
    with pytest.raises(BreakfixError, match="clusterIP may not change"):
        replay(ctx)  # the fake's refusal is a plain StepError, not an "immutable" 422: reset stops and says why
    assert "delete Service" not in kube.calls


def test_keep_journals_an_object_without_changing_it() -> None:
    """A volume a cheat binds is put back unbound."""
    kube = FakeKube({"PersistentVolume"})
    ctx = make_ctx(FakeTransport(), kube)
    pv = {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pv1"}, "spec": {"capacity": "1Gi"}}
    kube.create(pv)
    from breakers import kube as kb

    kb.keep(ChangeLog(ctx, "cheat"), "PersistentVolume", "pv1")
    assert kube.get("v1", "PersistentVolume", "pv1")["spec"] == pv["spec"]
    kube.objects[("v1", "PersistentVolume", None, "pv1")]["spec"]["claimRef"] = {"name": "invoices"}
    replay(ctx)
    assert kube.get("v1", "PersistentVolume", "pv1")["spec"] == pv["spec"]
    with pytest.raises(StepError, match="PersistentVolume gone does not exist"):
        kb.keep(ChangeLog(ctx, "cheat"), "PersistentVolume", "gone")


def test_api_refusals_keep_to_one_line() -> None:
    from breakfix.kube import _reason

    class Refusal(Exception):
        body = (
            '{"message": "PersistentVolumeClaim \\"x\\" is invalid: spec is immutable\\n@@ -9,8 +9,8 @@\\n-  a\\n+  b"}'
        )

    assert _reason(Refusal()) == 'PersistentVolumeClaim "x" is invalid: spec is immutable'


def test_restart_on_reset_changes_nothing_now_and_restarts_after_the_later_undos() -> None:
    api = "/etc/kubernetes/manifests/kube-apiserver.yaml"
    api_manifest = MANIFEST.replace(b"- etcd\n", b"- kube-apiserver\n", 1)
    t = FakeTransport({PATH: MANIFEST, api: api_manifest})
    t.expect(r"test -L .*")
    t.expect(r"true")
    ctx = make_ctx(t)
    node = ctx.node("control-plane")
    changes = ChangeLog(ctx, "break")
    after = "^etcd .*--data-dir=/var/lib/etcd( |$)"
    manifest.restart_on_reset(node, changes, "kube-apiserver", after=after)
    manifest.set_flag(node, changes, "etcd", "--data-dir", "/var/lib/etcd-fresh")
    entries = ctx.store.journal("test")
    assert [e.kind for e in entries] == ["file", "command", "file"]
    assert t.files[api] == api_manifest  # nothing changed yet
    undo = entries[1].record["undo"]
    assert entries[1].record["timeout"] > 2 * manifest.RESTART_WAIT_S
    assert "pgrep -f -- '^etcd .*--data-dir=/var/lib/etcd( |$)'" in undo and "'^kube-apiserver( |$)'" in undo
    assert f"mv {api} /etc/kubernetes/kube-apiserver.yaml.breakfix-restart" in undo

    order: list[str] = []
    t.expect(r".*pgrep -f.*")  # the restart script, run by reset
    original_run = t.run

    def run(command: str, timeout: float | None = None, stdin: bytes | None = None) -> Any:
        if "pgrep" in command:
            order.append("restart" if b"etcd-fresh" not in t.files[PATH] else "restart before etcd was put back")
            t.files.pop(api)  # say the restart stopped half-way, with the manifest moved aside
        return original_run(command, timeout, stdin)

    t.run = run  # type: ignore[method-assign]
    assert replay(ctx) == 3
    assert order == ["restart"] and t.files[PATH] == MANIFEST and t.files[api] == api_manifest


def test_an_object_without_a_namespace_is_journaled_where_it_is_created() -> None:
    kube = FakeKube({"ConfigMap", "Namespace"})
    ctx = make_ctx(FakeTransport({}), kube)
    changes = ChangeLog(ctx, "setup")
    changes.apply_object({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app"}, "data": {"a": "1"}})
    changes.create_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    assert ("v1", "ConfigMap", "default", "app") in kube.objects  # as kubectl would place it
    assert [e.record["namespace"] for e in ctx.store.journal("test")] == ["default", None]
    assert replay(ctx) == 2 and kube.objects == {}


def test_an_object_a_finalizer_holds_fails_the_undo_at_once_not_as_an_api_outage(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A volume held by its claim is not an API server restarting: no minutes of waiting, the finalizer named."""
    from breakers import kube as kb
    from breakfix import undo

    kube = FakeKube({"ConfigMap"})
    said: list[str] = []
    ctx = make_ctx(FakeTransport(), kube)
    ctx.log = said.append
    kb.create_sentinel(ChangeLog(ctx, "setup"), ctx.state, "ledger")
    kube.objects[("v1", "ConfigMap", "default", "ledger")]["metadata"]["finalizers"] = ["example.com/hold"]
    monkeypatch.setattr(undo, "gone_within", lambda *_a: False)
    monkeypatch.setattr(undo.time, "sleep", lambda _s: pytest.fail("waited as if the API server were down"))
    with pytest.raises(BreakfixError, match="still there 120s after deletion"):
        replay(ctx)
    assert not any("API server" in line for line in said)
