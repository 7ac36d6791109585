"""A node's clock: the jump refuses shared clocks, is undone from the API server's time, and is graded by outcome."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from breakers import clock as clock_breakers
from breakfix.changes import ChangeLog
from breakfix.clock import CLOCK
from breakfix.context import Context
from breakfix.errors import StepError
from breakfix.transport.base import CommandResult
from breakfix.transport.node import Node
from breakfix.undo import replay
from graders.clock import in_step, kept_in_step
from tests.fakes import FakeTransport, Unexpected
from tests.unit.contexts import make_ctx

NOW = 1_800_000_000.0
RUNS_OR_STARTS = r'systemctl is-active --quiet (\S+) \|\| test "\$\(systemctl is-active \S+\)" = activating'
DAY = 86400


class VmNode(FakeTransport):
    """A VM worker: its own clock (seconds off breakfix's), systemd units, an API server whose Date it can read."""

    def __init__(self, virt: str = "none", units: dict[str, tuple[bool, str]] | None = None) -> None:
        super().__init__(name="w1")
        self.off = 0.0
        self.units = dict(
            {"systemd-timesyncd": (True, "enabled")} if units is None else units
        )  # unit -> (running, enablement)
        self.expect(r"systemd-detect-virt --container", rc=0 if virt != "none" else 1, stdout=virt + "\n")
        self.scripts.append((re.compile(r"(.*)"), self._answer))

    def _answer(self, line: str) -> CommandResult:
        if m := re.fullmatch(r"systemctl is-active --quiet (\S+)", line):
            return CommandResult(0 if self.units.get(m[1], (False, ""))[0] else 3, "", "")
        if m := re.fullmatch(r"systemctl is-active (\S+)", line):
            return CommandResult(0, "active\n" if self.units.get(m[1], (False, ""))[0] else "inactive\n", "")
        if m := re.fullmatch(
            r'systemctl is-active --quiet (\S+) \|\| test "\$\(systemctl is-active \S+\)" = activating', line
        ):
            return CommandResult(0 if self.units.get(m[1], (False, ""))[0] else 1, "", "")
        if m := re.fullmatch(r"systemctl is-enabled --quiet (\S+)", line):
            return CommandResult(0 if self.units.get(m[1], (False, "disabled"))[1] == "enabled" else 1, "", "")
        if m := re.fullmatch(r"systemctl is-enabled (\S+)", line):
            return CommandResult(0, self.units.get(m[1], (False, "disabled"))[1] + "\n", "")
        if m := re.fullmatch(r"systemctl cat (\S+)", line):
            return CommandResult(0 if m[1] in self.units else 1, "", "")
        if m := re.fullmatch(r"systemctl (start|stop|enable|disable|unmask) (\S+)", line):
            running, enablement = self.units[m[2]]
            running = {"start": True, "stop": False}.get(m[1], running)
            enablement = {"enable": "enabled", "disable": "disabled"}.get(m[1], enablement)
            self.units[m[2]] = (running, enablement)
            return CommandResult(0, "", "")
        if m := re.fullmatch(r"systemctl enable --runtime (\S+)", line):
            self.units[m[1]] = (self.units[m[1]][0], "enabled-runtime")
            return CommandResult(0, "", "")
        if m := re.fullmatch(r"date -s @\$\(\( \$\(date \+%s\) \+ (-?\d+) \)\) >/dev/null", line):
            self.off += int(m[1])
            return CommandResult(0, "", "")
        if line == clock_breakers.FROM_API_SERVER:
            self.off = 0.0  # the API server's clock is breakfix's
            return CommandResult(0, "", "")
        if line == "date +%s.%N":
            return CommandResult(0, f"{CLOCK.wall() + self.off:.9f}\n", "")
        if line == "true" or re.fullmatch(r"systemctl show \S+ .*|systemctl show-environment", line):
            return CommandResult(0, "", "")
        raise Unexpected(f"w1: unexpected command {line!r}")


@pytest.fixture(autouse=True)
def wall(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(CLOCK, "wall", lambda: NOW)
    yield


def worker(transport: FakeTransport) -> tuple[Node, ChangeLog, Context]:
    ctx = make_ctx(FakeTransport(), worker=transport)
    return ctx.node("w1"), ChangeLog(ctx, "break"), ctx


def test_a_container_nodes_clock_is_never_touched() -> None:
    vm = VmNode(virt="docker")
    node, changes, _ctx = worker(vm)
    with pytest.raises(StepError, match="w1 is a container \\(docker\\): its clock is its host's"):
        clock_breakers.jump(changes, node)
    assert not any(c.startswith(("date -s", "systemctl stop", "systemctl disable")) for c in vm.log)
    assert vm.off == 0


def test_a_control_plane_clock_is_refused() -> None:
    ctx = make_ctx(VmNode())
    with pytest.raises(StepError, match="control-plane node"):
        clock_breakers.jump(ChangeLog(ctx, "break"), ctx.node("cp1"))


def test_the_jump_stops_sync_and_reset_takes_the_api_servers_time() -> None:
    vm = VmNode(units={"systemd-timesyncd": (True, "enabled"), "chrony": (False, "disabled")})
    node, changes, ctx = worker(vm)
    clock_breakers.jump(changes, node, days=400)
    assert vm.off == 400 * DAY
    assert vm.units == {"systemd-timesyncd": (False, "disabled"), "chrony": (False, "disabled")}
    far = in_step(node)
    assert not far.ok and "400 days ahead" in far.message
    assert not kept_in_step(node).ok
    replay(ctx)
    assert vm.off == 0 and vm.units["systemd-timesyncd"] == (True, "enabled")
    assert vm.units["chrony"] == (False, "disabled")  # it did not run: it stays as it was
    assert in_step(node).ok and kept_in_step(node).ok


def test_reset_after_the_student_fixed_it_leaves_the_right_time() -> None:
    vm = VmNode()
    node, changes, ctx = worker(vm)
    clock_breakers.jump(changes, node, days=-30)
    clock_breakers.sync_again(ChangeLog(ctx, "solve"), node)
    assert vm.off == 0 and in_step(node).ok and kept_in_step(node).ok
    replay(ctx)
    assert vm.off == 0 and vm.units["systemd-timesyncd"] == (True, "enabled")


def test_time_by_hand_or_sync_until_reboot_is_not_kept_in_step() -> None:
    vm = VmNode()
    node, changes, _ctx = worker(vm)
    clock_breakers.jump(changes, node)
    clock_breakers.set_from_api_server(changes, node)
    assert in_step(node).ok
    assert "systemd-timesyncd is inactive" in kept_in_step(node).message
    node.check("systemctl start systemd-timesyncd")
    node.check("systemctl enable --runtime systemd-timesyncd")
    runtime = kept_in_step(node)
    assert not runtime.ok and "would not start after a reboot" in runtime.message


def test_no_sync_service_at_all_fails_and_bad_days_are_refused() -> None:
    node, changes, _ctx = worker(VmNode(units={}))
    assert "no time-sync service installed" in kept_in_step(node).message
    with pytest.raises(StepError, match="no time-sync service is installed"):
        clock_breakers.sync_again(changes, node)
    with pytest.raises(StepError, match="days must be between"):
        clock_breakers.jump(changes, node, days=0)


def test_a_slow_answer_widens_the_tolerance_by_half_its_time(monkeypatch: pytest.MonkeyPatch) -> None:
    times = iter([NOW, NOW + 20.0])  # the question took 20 s: the node's answer may be 10 s either way
    monkeypatch.setattr(CLOCK, "wall", lambda: next(times))
    vm = VmNode()
    vm.off = 14.0
    vm.scripts.insert(0, (re.compile(r"date \+%s\.%N"), lambda _l: CommandResult(0, f"{NOW + 10 + 14}\n", "")))
    node, _changes, _ctx = worker(vm)
    assert in_step(node, tolerance=5.0).ok
    times = iter([NOW, NOW + 20.0])
    assert not in_step(node, tolerance=3.0).ok
