"""Wait until a cluster that was just started answers, its nodes are Ready and kube-system's workloads serve."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from breakfix.clock import CLOCK
from breakfix.collateral import system_workloads
from breakfix.errors import BreakfixError, ClusterError
from breakfix.kube import Kube

Log = Callable[[str], None]


def not_ready(kube: Kube) -> list[str]:
    """What is not back yet, one phrase each: nodes not Ready (with the kubelet's reason), workloads short of pods."""
    waiting = [f"node {name} is not Ready ({why})" for name, why in _nodes_not_ready(kube.list("v1", "Node"))]
    for workload, (wanted, available) in sorted(system_workloads(kube).items()):
        if available < wanted:
            waiting.append(f"kube-system {workload} has {available} of {wanted} pods available")
    return waiting


def _nodes_not_ready(nodes: list[dict[str, Any]]) -> list[tuple[str, str]]:
    found = []
    for node in nodes:
        conditions = (node.get("status") or {}).get("conditions") or []
        ready = next((c for c in conditions if c.get("type") == "Ready"), None)
        if ready is None or ready.get("status") != "True":
            why = (ready or {}).get("message") or (ready or {}).get("reason") or "no Ready condition yet"
            found.append((node["metadata"]["name"], str(why)))
    return found


def wait_until_ready(kube: Kube, log: Log, timeout: float = 600, poll: float = 5) -> float:
    """Poll until nothing is waiting; returns the seconds it took, or fails naming what never came back."""
    started = CLOCK.monotonic()
    last: list[str] = []
    said = ""
    while True:
        try:
            last = not_ready(kube)
        except BreakfixError as exc:
            last = [f"the API server does not answer yet ({exc})"]
        took = CLOCK.monotonic() - started
        if not last:
            return took
        if last[0] != said:
            said = last[0]
            log(f"  [{took:4.0f}s] waiting: {said}" + (f" (and {len(last) - 1} more)" if len(last) > 1 else ""))
        if took > timeout:
            raise ClusterError(f"the cluster was not back within {timeout:.0f}s: " + "; ".join(last))
        CLOCK.sleep(poll)
