"""Breakers for how many pods a node's kubelet takes (its maxPods)."""

from __future__ import annotations

import time

import yaml

from breakers.kubelet import CONFIG, set_config
from breakfix.changes import ChangeLog
from breakfix.durations import Seconds
from breakfix.errors import ClusterError, StepError
from breakfix.kube import Kube
from breakfix.transport.node import Node


def running_pods(kube: Kube, node_name: str) -> int:
    """How many pods count on a node now: bound to it, not finished, not being deleted."""
    return sum(
        1
        for pod in kube.list("v1", "Pod")
        if (pod.get("spec") or {}).get("nodeName") == node_name
        and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
        and not (pod.get("metadata") or {}).get("deletionTimestamp")
    )


def max_pods_to_running(node: Node, changes: ChangeLog, kube: Kube) -> None:
    """Set the kubelet's maxPods to the pods the node runs now, so that none more fits; restart the kubelet after.

    The pods it runs go on; the scheduler finds no room there for a new one ("Too many pods")."""
    set_config(node, changes, "maxPods", running_pods(kube, node.name))


def configured_max_pods(node: Node, path: str = CONFIG) -> int:
    """The maxPods NODE's kubelet config file names (the kubelet's default, 110, when unset)."""
    data = node.read(path)
    if data is None:
        raise StepError(f"{node.name}: {path} does not exist")
    config = yaml.safe_load(data) or {}
    return int((config if isinstance(config, dict) else {}).get("maxPods") or 110)


def wait_pod_capacity(node: Node, kube: Kube, timeout: Seconds = 180.0) -> None:
    """Wait until NODE reports the pod capacity its kubelet config file names (the restarted kubelet has posted it)."""
    want = str(configured_max_pods(node))
    deadline = time.monotonic() + timeout
    while True:
        try:
            obj = kube.get("v1", "Node", node.name) or {}
        except ClusterError:
            obj = {}
        have = str(((obj.get("status") or {}).get("capacity") or {}).get("pods") or "")
        if have == want:
            return
        if time.monotonic() >= deadline:
            raise StepError(f"node {node.name} reports a capacity of {have or 'no'} pods, not {want} ({timeout:.0f}s)")
        time.sleep(2)
