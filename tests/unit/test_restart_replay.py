"""A journaled restart is replayed as a restart, after the older changes the unit reads are put back."""

from __future__ import annotations

import re

import pytest

from breakers import files, systemd
from breakfix.changes import ChangeLog
from breakfix.errors import BreakfixError
from breakfix.transport.base import CommandResult
from breakfix.undo import replay
from tests.fakes import FakeTransport
from tests.unit.contexts import make_ctx

CONF = "/etc/kubernetes/kubelet.conf"
GOOD = b"server: https://10.0.0.2:6443\n"


def unit_node(active: bool = True) -> tuple[FakeTransport, list[str]]:
    """A node whose kubelet notes which kubelet.conf it read at each (re)start."""
    t = FakeTransport({CONF: GOOD})
    seen: list[str] = []
    t.expect(r"systemctl is-active --quiet kubelet .*", rc=0 if active else 3)
    t.expect(r"systemctl is-enabled --quiet kubelet")
    t.expect(r"systemctl is-enabled kubelet", stdout="enabled\n")
    t.expect(r"systemctl (unmask|enable|stop) kubelet")

    def started(line: str) -> CommandResult:
        seen.append(f"{line.split()[1]}:{t.files[CONF].decode().strip()}")
        return CommandResult(0, "", "")

    t.scripts.append((re.compile(r"systemctl (start|restart|try-restart) kubelet"), started))
    return t, seen


def test_a_restart_after_a_file_change_is_replayed_after_the_file_is_back() -> None:
    t, seen = unit_node()
    ctx = make_ctx(t)
    node = ctx.node("cp1")
    files.replace_text(node, ChangeLog(ctx, "break"), CONF, ":6443", ":6444")
    systemd.restart(node, ChangeLog(ctx, "break"), "kubelet")
    assert seen == ["restart:server: https://10.0.0.2:6444"]
    assert replay(ctx) == 2
    assert t.files[CONF] == GOOD
    assert seen[1:] == ["try-restart:server: https://10.0.0.2:6443"]  # not a no-op start on the broken file
    assert ctx.store.journal("test") == []


def test_restarts_of_one_unit_are_replayed_once_and_older_changes_first() -> None:
    t, seen = unit_node()
    ctx = make_ctx(t)
    node = ctx.node("cp1")
    files.replace_text(node, ChangeLog(ctx, "break"), CONF, ":6443", ":6444")
    systemd.restart(node, ChangeLog(ctx, "break"), "kubelet")
    files.replace_text(node, ChangeLog(ctx, "solve"), CONF, ":6444", ":6443")  # the reference fix
    systemd.restart(node, ChangeLog(ctx, "solve"), "kubelet")
    mark = ctx.store.journal("test")[1].id
    assert replay(ctx, after=mark) == 2  # verify undoes the fix alone: back to the broken kubelet
    assert seen[-1] == "try-restart:server: https://10.0.0.2:6444"
    replay(ctx)
    assert seen[-1] == "try-restart:server: https://10.0.0.2:6443" and len(seen) == 4


def test_an_interrupted_reset_keeps_the_restart_for_next_time() -> None:
    t, seen = unit_node()
    ctx = make_ctx(t)
    node = ctx.node("cp1")
    files.replace_text(node, ChangeLog(ctx, "break"), CONF, ":6443", ":6444")
    systemd.restart(node, ChangeLog(ctx, "break"), "kubelet")
    t.scripts.insert(0, (re.compile(r"systemctl try-restart kubelet"), lambda _l: CommandResult(1, "", "boom")))
    with pytest.raises(BreakfixError, match="kubelet"):
        replay(ctx)
    left = ctx.store.journal("test")
    assert [e.kind for e in left] == ["unit"] and t.files[CONF] == GOOD
    t.scripts.pop(0)
    replay(ctx)
    assert seen[-1] == "try-restart:server: https://10.0.0.2:6443" and ctx.store.journal("test") == []


def test_a_restart_of_a_stopped_unit_is_undone_by_stopping_it_in_place() -> None:
    t, seen = unit_node(active=False)
    ctx = make_ctx(t)
    systemd.restart(ctx.node("cp1"), ChangeLog(ctx, "break"), "kubelet")
    replay(ctx)
    assert t.log[-1] == "systemctl stop kubelet" and not any("try-restart" in s for s in seen)


def test_a_reset_restarts_the_kubelet_early_when_the_api_server_waits_for_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Setup object, then a kubelet break that takes the API server down: undo must not wait forever."""
    from breakers import kube as kb
    from breakfix import undo
    from tests.fakes import FakeKube

    t, seen = unit_node()
    kube = FakeKube({"ConfigMap"})
    ctx = make_ctx(t, kube)
    node = ctx.node("cp1")
    kb.create_sentinel(ChangeLog(ctx, "setup"), ctx.state, "ledger")
    files.replace_text(node, ChangeLog(ctx, "break"), CONF, ":6443", ":6444")
    systemd.restart(node, ChangeLog(ctx, "break"), "kubelet")
    kube.down = True  # the kubelet on the broken file no longer runs the API server's static pod

    def restarted(line: str) -> CommandResult:
        seen.append(f"{line.split()[1]}:{t.files[CONF].decode().strip()}")
        kube.down = t.files[CONF] != GOOD  # back only when the kubelet restarted on the good file
        return CommandResult(0, "", "")

    t.scripts.insert(0, (re.compile(r"systemctl try-restart kubelet"), restarted))
    clock = [0.0]  # a fake clock: each wait moves it on, so a wait that never ends fails after 240 fake s
    monkeypatch.setattr(undo.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(undo.time, "sleep", lambda s: clock.__setitem__(0, clock[0] + s))
    assert replay(ctx) == 3
    assert kube.get("v1", "ConfigMap", "ledger", "default") is None and ctx.store.journal("test") == []
    # once early (the file is back, the API server must come up), once more after every older change
    assert seen[1:] == ["try-restart:server: https://10.0.0.2:6443"] * 2
