"""Breakers for a node's clock (VMs only: a container node's clock is its host's, and is never touched)."""

from __future__ import annotations

import shlex

from breakers.vm_only import refuse_container
from breakfix.changes import ChangeLog
from breakfix.errors import StepError
from breakfix.transport.node import Node

#: The time-sync services a node may run; a clock lab stops (and disables) the ones that run.
SYNC_UNITS = ("systemd-timesyncd", "chrony", "chronyd", "ntp", "ntpsec", "openntpd")

#: Undo: take the time from the API server's clock (the Date header of its answer, no trust needed for that).
#: The node is a worker: its kubelet's kubeconfig names the control plane, whose clock was never moved.
FROM_API_SERVER = (
    "server=$(sed -n 's/^ *server: *//p' /etc/kubernetes/kubelet.conf | head -n 1); "
    'now=$(curl -skI --max-time 10 "$server/livez" | tr -d "\\r" | sed -n "s/^[Dd]ate: //p"); '
    '[ -n "$now" ] || { echo "no Date from the API server at $server" >&2; exit 1; }; '
    'date -s "$now" >/dev/null'
)


def refuse_shared_clock(node: Node) -> None:
    """Refuse a node whose clock is its host's (a container): setting it would move the host's clock."""
    refuse_container(node, "clock", "real-clock")
    if node.role == "control-plane":
        raise StepError(f"node {node.name} is a control-plane node: a clock lab moves a worker's clock")


def running_sync_units(node: Node) -> list[str]:
    """The time-sync services that run on NODE now."""
    return [u for u in SYNC_UNITS if node.run("systemctl is-active --quiet %s", u, timeout=30).ok]


def jump(changes: ChangeLog, node: Node, days: int = 400) -> None:
    """Stop and disable NODE's time sync, then move its clock DAYS ahead (undo: the API server's time, sync back)."""
    if days == 0 or abs(days) > 3650:
        raise StepError(f"days must be between -3650 and 3650 and not 0 (got {days})")
    refuse_shared_clock(node)
    for unit in running_sync_units(node):
        changes.unit(node, unit, "stop")
        changes.unit(node, unit, "disable")
    seconds = days * 86400
    changes.command(node, f"date -s @$(( $(date +%s) + {shlex.quote(str(seconds))} )) >/dev/null", FROM_API_SERVER)


def set_from_api_server(changes: ChangeLog, node: Node) -> None:
    """Set NODE's clock to the API server's, by hand, once (nothing keeps it right afterwards)."""
    refuse_shared_clock(node)
    changes.command(node, FROM_API_SERVER, undo="true")


def sync_again(changes: ChangeLog, node: Node, unit: str = "") -> None:
    """Set NODE's clock to the API server's and have a time-sync service (UNIT, or the first installed) keep it."""
    set_from_api_server(changes, node)
    installed = [u for u in SYNC_UNITS if node.run("systemctl cat %s", u, timeout=30).ok]
    chosen = unit or (installed[0] if installed else "")
    if chosen not in installed:
        raise StepError(f"no time-sync service {'named ' + unit + ' ' if unit else ''}is installed on {node.name}")
    changes.unit(node, chosen, "enable")
    changes.unit(node, chosen, "start")
