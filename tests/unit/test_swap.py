"""Swap on a node: refused on containers, undone at reset, graded now and at boot."""

from __future__ import annotations

import re

import pytest

from breakers import swap
from breakfix.changes import ChangeLog
from breakfix.context import Context
from breakfix.errors import StepError
from breakfix.transport.base import CommandResult
from breakfix.transport.node import Node
from breakfix.undo import replay
from graders.swap import off, stays_off
from tests.fakes import FakeTransport, Unexpected
from tests.unit.contexts import make_ctx

FSTAB = b"UUID=abc / ext4 defaults 0 1\n"
HEADER = "Filename\tType\tSize\tUsed\tPriority\n"


class SwapNode(FakeTransport):
    """A VM worker's swap areas, fstab and kubelet restarts."""

    def __init__(self, virt: str = "none") -> None:
        super().__init__({"/etc/fstab": FSTAB}, name="w1")
        self.areas: list[str] = []
        self.restarts = 0
        self.expect(r"systemd-detect-virt --container", rc=0 if virt != "none" else 1, stdout=virt + "\n")
        self.scripts.append((re.compile(r"(.*)"), self._answer))

    def read_bytes(self, path: str) -> bytes | None:
        if path == "/proc/swaps":
            return (HEADER + "".join(f"{a}\tfile\t262140\t0\t-2\n" for a in self.areas)).encode()
        return super().read_bytes(path)

    def _answer(self, line: str) -> CommandResult:
        if m := re.fullmatch(r"fallocate -l \d+M (\S+) && chmod 600 \S+ && mkswap \S+ >/dev/null && swapon \S+", line):
            self.files[m[1]] = b"swap"
            self.areas.append(m[1])
        elif m := re.fullmatch(r"swapoff (\S+) 2>/dev/null; rm -f (\S+)", line):
            self.areas = [a for a in self.areas if a != m[1]]
            self.files.pop(m[2], None)
        elif line == "swapoff -a":
            self.areas = []
        elif line == "swapon -a":
            self.areas = [f.split()[0] for f in self.files["/etc/fstab"].decode().splitlines() if " swap " in f
                          and not f.startswith("#") and f.split()[0] in self.files]  # fmt: skip
        elif re.fullmatch(r"systemctl (try-)?restart kubelet", line):
            self.restarts += 1
        elif re.fullmatch(r"systemctl is-(active|enabled).*|test -L .*|systemctl (unmask|enable|start) kubelet", line):
            pass
        elif line.startswith("systemctl list-unit-files --type=swap"):
            return CommandResult(0, "", "")
        else:
            raise Unexpected(f"w1: unexpected command {line!r}")
        return CommandResult(0, "", "")


def worker(transport: FakeTransport) -> tuple[Node, Context]:
    ctx = make_ctx(FakeTransport(), worker=transport)
    return ctx.node("w1"), ctx


def test_a_container_nodes_swap_is_never_touched() -> None:
    vm = SwapNode(virt="docker")
    node, ctx = worker(vm)
    with pytest.raises(StepError, match="w1 is a container \\(docker\\): its swap is its host's"):
        swap.swap_on(ChangeLog(ctx, "break"), node)
    assert vm.areas == [] and vm.files["/etc/fstab"] == FSTAB and vm.restarts == 0


def test_swap_on_is_undone_at_reset_whatever_the_student_did() -> None:
    vm = SwapNode()
    node, ctx = worker(vm)
    swap.swap_on(ChangeLog(ctx, "break"), node)
    assert vm.areas == ["/swap.img"] and vm.restarts == 1
    assert vm.files["/etc/fstab"] == FSTAB + b"/swap.img none swap sw 0 0\n"
    assert "swaps to /swap.img" in off(node).message
    assert "/etc/fstab: /swap.img none swap sw 0 0" in stays_off(node).message
    swap.swap_off(ChangeLog(ctx, "solve"), node)  # the reference fix
    assert vm.areas == [] and off(node).ok and stays_off(node).ok
    assert vm.files["/etc/fstab"].endswith(b"#/swap.img none swap sw 0 0\n")
    replay(ctx)
    assert vm.areas == [] and vm.files["/etc/fstab"] == FSTAB and "/swap.img" not in vm.files


def test_swap_off_until_the_next_boot_is_not_enough() -> None:
    vm = SwapNode()
    node, ctx = worker(vm)
    swap.swap_on(ChangeLog(ctx, "break"), node)
    swap.swap_off_now(ChangeLog(ctx, "cheat"), node)
    assert off(node).ok and not stays_off(node).ok
    replay(ctx)
    assert vm.areas == [] and vm.files["/etc/fstab"] == FSTAB


def test_an_enabled_swap_unit_counts_as_swap_at_boot() -> None:
    vm = SwapNode()
    vm.scripts.insert(0, (re.compile(r"systemctl list-unit-files --type=swap.*"),
                          lambda _l: CommandResult(0, "dev-sdb2.swap enabled -\n", "")))  # fmt: skip
    node, _ctx = worker(vm)
    assert "unit dev-sdb2.swap" in stays_off(node).message


def test_a_size_out_of_range_is_refused() -> None:
    node, ctx = worker(SwapNode())
    with pytest.raises(StepError, match="size_mb must be between"):
        swap.swap_on(ChangeLog(ctx, "break"), node, size_mb=10)
