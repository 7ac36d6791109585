"""Breakers about where pods may be scheduled: cordons and node labels (every change journaled)."""

from __future__ import annotations

from breakfix.changes import ChangeLog
from breakfix.errors import StepError
from breakfix.inventory import ClusterSpec
from breakfix.kube import Kube


def _workers(cluster: ClusterSpec) -> list[str]:
    names = [n.name for n in cluster.workers]
    if not names:
        raise StepError(f"cluster {cluster.name} has no worker nodes")
    return names


def cordon(changes: ChangeLog, node_name: str) -> None:
    """Cordon a node, as `kubectl cordon` does: it takes no new pods (undo puts it back as it was)."""
    changes.patch_object("v1", "Node", node_name, None, {"spec": {"unschedulable": True}})


def uncordon(changes: ChangeLog, node_name: str) -> None:
    """Uncordon a node, as `kubectl uncordon` does: it takes new pods again."""
    changes.patch_object("v1", "Node", node_name, None, {"spec": {"unschedulable": None}})


def cordon_workers(changes: ChangeLog, cluster: ClusterSpec) -> None:
    """Cordon every worker node (undo puts each back as it was)."""
    for name in _workers(cluster):
        cordon(changes, name)


def uncordon_workers(changes: ChangeLog, cluster: ClusterSpec) -> None:
    """Uncordon every worker node."""
    for name in _workers(cluster):
        uncordon(changes, name)


def label_workers(changes: ChangeLog, kube: Kube, cluster: ClusterSpec, labels: dict[str, str | None]) -> None:
    """Set labels on every worker node (a None value removes the label; undo puts each node's labels back)."""
    for name in _workers(cluster):
        if kube.get("v1", "Node", name) is None:
            raise StepError(f"node {name} does not exist")
        changes.patch_object("v1", "Node", name, None, {"metadata": {"labels": labels}})
