"""Finalizer and binding breakers: what they run on the control plane and what their undo runs (on fakes)."""

from __future__ import annotations

import json
import shlex
import subprocess

from breakers import lifecycle
from breakfix.changes import ChangeLog
from tests.fakes import FakeTransport
from tests.unit.contexts import make_ctx

FIN = "backup.example.com/snapshot-guard"


def _run(step: str, *args: str, **kwargs: str) -> tuple[str, str]:
    """Run a breaker on a fake control plane that accepts any kubectl line; (command, undo) as journaled."""
    t = FakeTransport()
    t.expect(r".*kubectl --kubeconfig /etc/kubernetes/admin\.conf .*")
    t.expect("true")
    ctx = make_ctx(t)
    getattr(lifecycle, step)(ctx.node("cp1"), ChangeLog(ctx, "break"), *args, **kwargs)
    entry = ctx.store.journal("test")[-1]  # one entry per call
    assert t.log == [entry.record["command"]]
    return entry.record["command"], entry.record["undo"]


def _syntax_ok(script: str) -> None:
    subprocess.run(["sh", "-n", "-c", script], check=True)


def test_stuck_terminating_sticks_the_finalizer_then_deletes_and_undo_takes_it_off() -> None:
    command, undo = _run("stuck_terminating", "vault-0", FIN, "vault")
    assert "patch pod vault-0 --type=merge -p" in command and "delete pod vault-0 --wait=false" in command
    assert json.dumps({"metadata": {"finalizers": [FIN]}}) in command
    assert command.index("patch") < command.index("delete pod")  # the finalizer first, or the pod would just go
    assert "jsonpath={.metadata.deletionTimestamp}" in command  # waits for a live pod of that name
    for i in range(lifecycle.FINALIZER_SLOTS):  # only its own finalizer, wherever it is in the list
        test = {"op": "test", "path": f"/metadata/finalizers/{i}", "value": FIN}
        assert shlex.quote(json.dumps([test, {"op": "remove", "path": f"/metadata/finalizers/{i}"}])) in undo
    assert undo.endswith("; true")  # nothing of that name left is fine
    _syntax_ok(command)
    _syntax_ok(undo)


def test_remove_finalizer_is_the_inverse_and_its_undo_makes_the_fault_again() -> None:
    command, undo = _run("remove_finalizer", "vault-0", FIN, "vault")
    broke, unbroke = _run("stuck_terminating", "vault-0", FIN, "vault")
    assert (command, undo) == (unbroke, broke)


def test_force_delete_skips_the_grace_period_only() -> None:
    command, undo = _run("force_delete", "vault-0", "vault")
    assert "delete pod vault-0 --force --grace-period=0 --wait=false" in command
    assert "-n vault" in command and undo == "true"
    _syntax_ok(command)


def test_unbind_on_reset_changes_nothing_now_and_clears_the_claim_reference_on_undo() -> None:
    command, undo = _run("unbind_on_reset", "gallery-a")
    assert command == "true"
    assert "patch persistentvolume gallery-a --type=merge -p" in undo
    assert shlex.quote(json.dumps({"spec": {"claimRef": None}})) in undo
    _syntax_ok(undo)


def test_cluster_scoped_objects_get_no_namespace() -> None:
    command, _undo = _run("stuck_terminating", "pv1", FIN, None, "persistentvolume")
    assert " -n " not in command and "patch persistentvolume pv1" in command
