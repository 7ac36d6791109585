"""Guards for steps that change what a node shares with its host (its clock, its swap): VMs only."""

from __future__ import annotations

from breakfix.errors import StepError
from breakfix.transport.node import Node


def refuse_container(node: Node, shared: str, capability: str) -> None:
    """Refuse NODE when it is a container: its SHARED (clock, swap...) is its host's, which is never changed."""
    kind = node.run("systemd-detect-virt --container", timeout=30)
    if kind.ok and kind.stdout.strip() not in ("", "none"):
        raise StepError(
            f"node {node.name} is a container ({kind.stdout.strip()}): its {shared} is its host's and is never "
            f"changed; this lab needs VMs (capability {capability})"
        )
