"""Graders for the cgroup driver of a node's kubelet: the one the cluster's kubelet configuration gives."""

from __future__ import annotations

from breakers.cgroups import kubelet_driver
from breakers.kubelet_config import CONFIG_MAP
from breakfix.context import SessionState
from breakfix.errors import StepError
from breakfix.kube import Kube
from breakfix.results import CheckResult, failed, passed
from breakfix.transport.node import Node
from graders.kubelet_config import cluster_setting


def last_flag(argv: list[str], flag: str) -> str | None:
    """The value of FLAG in a command line as Go programs read it: the last one given wins."""
    value = None
    for i, arg in enumerate(argv):
        if arg.startswith(flag + "="):
            value = arg.partition("=")[2]
        elif arg == flag and i + 1 < len(argv):
            value = argv[i + 1]
    return value


def kubelet_driver_as_cluster(node: Node, kube: Kube, state: SessionState) -> CheckResult:
    """NODE's running kubelet keeps a setting of the cluster's kubelet configuration (kubeadm's, as at setup).

    The setting is the cgroup driver; what the kubelet runs with counts: a --cgroup-driver flag, else its
    --config file."""
    setting = cluster_setting(kube, state, "cgroupDriver", "cgroupfs")
    if isinstance(setting, CheckResult):
        return setting
    want = str(setting)
    argv = node.run("tr '\\000' '\\n' < /proc/$(systemctl show kubelet -p MainPID --value)/cmdline", timeout=30)
    words = [w for w in argv.stdout.split("\n") if w] if argv.ok else []
    if not words:
        return failed(f"the kubelet is not running on {node.name}", "systemctl status kubelet")
    have = last_flag(words, "--cgroup-driver")
    source = "its --cgroup-driver flag"
    if have is None:
        path = last_flag(words, "--config") or "/var/lib/kubelet/config.yaml"
        try:
            have = kubelet_driver(node, path)
        except StepError as exc:
            return failed(str(exc), "Which configuration file does the kubelet read (its --config)?")
        source = path
    if have == want:
        return passed(f"the kubelet on {node.name} uses the cluster's cgroup driver, {want}")
    return failed(
        f"the kubelet on {node.name} uses the {have} cgroup driver ({source}); the cluster's kubelet configuration "
        f"(kube-system/{CONFIG_MAP}) says {want}",
        "The kubelet's configuration is the cluster's: kubeadm writes it again on every upgrade or join.",
    )
