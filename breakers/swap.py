"""Breakers for swap on a node (VMs only: a container node's swap is its host's, and is never touched)."""

from __future__ import annotations

import re
import shlex

from breakers.vm_only import refuse_container
from breakfix.changes import ChangeLog
from breakfix.errors import StepError
from breakfix.transport.node import Node

FSTAB = "/etc/fstab"
#: An fstab line that mounts swap: device, mount point, type swap (not a comment).
SWAP_LINE = re.compile(r"^\s*[^#\s]+\s+\S+\s+swap\s.*$", re.MULTILINE)


def swap_on(changes: ChangeLog, node: Node, path: str = "/swap.img", size_mb: int = 256) -> None:
    """Give NODE a swap file, on now and in fstab, then restart its kubelet (undo: swap off, file and line gone)."""
    if not 64 <= size_mb <= 4096:
        raise StepError(f"size_mb must be between 64 and 4096 (got {size_mb})")
    refuse_container(node, "swap", "swap")
    q = shlex.quote(path)
    changes.command(
        node,
        f"fallocate -l {size_mb}M {q} && chmod 600 {q} && mkswap {q} >/dev/null && swapon {q}",
        undo=f"swapoff {q} 2>/dev/null; rm -f {q}",
    )
    changes.edit_file(node, FSTAB, lambda old: (old or b"") + f"{path} none swap sw 0 0\n".encode())
    changes.unit(node, "kubelet", "restart")


def swap_off_now(changes: ChangeLog, node: Node) -> None:
    """Turn every swap area off, until the next boot only (fstab as it is)."""
    refuse_container(node, "swap", "swap")
    changes.command(node, "swapoff -a", undo="swapon -a")


def swap_off(changes: ChangeLog, node: Node) -> None:
    """Turn swap off now and at boot (fstab's swap lines commented out), then restart the kubelet."""
    swap_off_now(changes, node)

    def comment_out(old: bytes | None) -> bytes | None:
        if old is None:
            return None
        return SWAP_LINE.sub(lambda m: "#" + m.group(0), old.decode()).encode()

    changes.edit_file(node, FSTAB, comment_out)
    changes.unit(node, "kubelet", "restart")
