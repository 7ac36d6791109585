"""Setup steps for workloads the generic waits do not cover (they change nothing, they wait)."""

from __future__ import annotations

import time
from collections.abc import Callable

from breakfix.durations import Seconds
from breakfix.errors import StepError
from breakfix.kube import Kube
from graders.workload_specs import on_every_node


def wait_on_every_node(
    kube: Kube,
    name: str,
    namespace: str = "default",
    timeout: Seconds = 180.0,
    log: Callable[[str], None] | None = None,
) -> None:
    """Wait until DaemonSet NAME runs a Ready pod of its current template on every node (setup, before a break)."""
    deadline = time.monotonic() + timeout
    next_note = time.monotonic() + 10
    while True:
        result = on_every_node(kube, name, namespace)
        if result.ok:
            return
        if time.monotonic() > deadline:
            raise StepError(f"after {timeout:.0f}s: {result.message}")
        if log and time.monotonic() > next_note:
            log(f"  waiting: {result.message}")
            next_note = time.monotonic() + 10
        time.sleep(2)
