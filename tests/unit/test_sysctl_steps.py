"""breakers.sysctl and graders.sysctl: the live value (journaled, put back) and the value a node sets at boot."""

from __future__ import annotations

import pytest

from breakers import sysctl as breaker
from breakfix.changes import ChangeLog
from breakfix.errors import StepError
from breakfix.transport.node import Node
from breakfix.undo import replay
from graders import sysctl
from tests.fakes import FakeTransport
from tests.unit.contexts import make_ctx

CAT_CONFIG = """# /usr/lib/sysctl.d/50-pid-max.conf
kernel.pid_max = 4194304

# /etc/sysctl.d/99-kubernetes.conf
net.bridge.bridge-nf-call-iptables = 1
net.ipv4.ip_forward = 1

# /etc/sysctl.d/99-sysctl.conf
# net.ipv4.ip_forward = 0   (a comment does not count)
"""


def node(pattern: str, stdout: str = "", rc: int = 0) -> Node:
    t = FakeTransport()
    t.expect(pattern, rc=rc, stdout=stdout, stderr="failed" if rc else "")
    return Node("w1", "worker", t)


def test_the_last_assignment_in_systemds_order_is_the_boot_value() -> None:
    assert sysctl.boot_value(CAT_CONFIG, "net.ipv4.ip_forward") == "1"
    later = CAT_CONFIG + "# /etc/sysctl.d/99-zz-hardening.conf\n-net/ipv4/ip_forward=0\n"
    assert sysctl.boot_value(later, "net.ipv4.ip_forward") == "0"  # slashes, a leading "-", no spaces
    assert sysctl.boot_value(CAT_CONFIG, "net.ipv4.conf.all.rp_filter") is None


@pytest.mark.parametrize(("config", "status"), [(CAT_CONFIG, "pass"), (CAT_CONFIG + "net.ipv4.ip_forward=0\n", "fail")])
def test_value_at_boot_reads_the_nodes_configuration(config: str, status: str) -> None:
    result = sysctl.value_at_boot(node(r"^systemd-analyze cat-config sysctl\.d$", config), "net.ipv4.ip_forward", "1")
    assert result.status == status
    assert "ip_forward" not in result.message  # the parameter is what the student must find


def test_value_now_compares_the_live_value_without_naming_it() -> None:
    assert sysctl.value_now(node(r"^sysctl -n net\.ipv4\.ip_forward$", "1\n"), "net.ipv4.ip_forward", "1").ok
    result = sysctl.value_now(node(r"^sysctl -n net\.ipv4\.ip_forward$", "0\n"), "net.ipv4.ip_forward", "1")
    assert result.status == "fail" and "ip_forward" not in result.message
    assert sysctl.value_now(node(r"^sysctl -n .*", rc=1), "net.ipv4.ip_forward", "1").status == "error"
    with pytest.raises(ValueError, match="not a kernel parameter"):
        sysctl.value_now(node("x"), "net.ipv4.ip_forward; reboot", "1")


def test_set_now_journals_the_old_value_reset_writes_it_back_and_odd_input_is_refused() -> None:
    t = FakeTransport()
    t.expect(r"^sysctl -n net\.ipv4\.ip_forward$", stdout="1\n")
    t.expect(r"^sysctl -w net\.ipv4\.ip_forward=[01]$")
    ctx = make_ctx(t)
    breaker.set_now(ctx.node("cp1"), ChangeLog(ctx, "break"), "net.ipv4.ip_forward", "0")
    assert t.log[-1] == "sysctl -w net.ipv4.ip_forward=0"
    replay(ctx)
    assert t.log[-1] == "sysctl -w net.ipv4.ip_forward=1"
    for key, value in (("net.ipv4.ip_forward;id", "0"), ("net.ipv4.ip_forward", "0 && id")):
        with pytest.raises(StepError):
            breaker.set_now(ctx.node("cp1"), ChangeLog(ctx, "break"), key, value)
