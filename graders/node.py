"""Checks on nodes as the API server sees them."""

from __future__ import annotations

from breakfix.collateral import MANAGED_TAINTS
from breakfix.durations import Seconds
from breakfix.errors import ClusterError, StepError
from breakfix.inventory import ClusterSpec
from breakfix.kube import Kube
from breakfix.results import CheckResult, failed, passed
from breakfix.transport.node import Node
from graders._steady import Sample, holds
from graders.identity import judge_identity, kubeconfig_identity


def _ready_condition(kube: Kube, name: str) -> dict[str, str] | None:
    obj = kube.get("v1", "Node", name)
    if obj is None:
        return None
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return {k: str(v) for k, v in cond.items()}
    return {}


def ready(kube: Kube, node: Node, stable_for: Seconds = 0.0, poll: float = 2.0) -> CheckResult:
    """The node is Ready (and stays Ready for STABLE_FOR seconds)."""

    def sample() -> CheckResult | Sample[None]:
        try:
            cond = _ready_condition(kube, node.name)
        except ClusterError as exc:
            return CheckResult("error", f"cannot read node {node.name}: {exc}")
        if cond is None:
            return failed(f"node {node.name} is not registered", "Is its kubelet running, with a valid kubeconfig?")
        if cond.get("status") != "True":
            why = cond.get("message") or cond.get("reason") or "no Ready condition yet"
            return failed(
                f"node {node.name} is not Ready: {why}",
                "On the node: systemctl status kubelet containerd; journalctl -u kubelet -e",
            )
        steady = f" and steady for {stable_for:.0f}s" if stable_for else ""
        return Sample(None, f"node {node.name} is Ready{steady}")

    return holds(sample, stable_for, poll, lambda first, now: None)


def _node_taints(kube: Kube, name: str) -> list[dict[str, str]] | None:
    obj = kube.get("v1", "Node", name)
    return None if obj is None else list(obj.get("spec", {}).get("taints") or [])


def schedulable(kube: Kube, node: Node) -> CheckResult:
    """The node takes new pods: not cordoned, no NoSchedule/NoExecute taint of its own."""
    return _takes_pods(kube, node.name)


def workers_schedulable(kube: Kube, cluster: ClusterSpec) -> CheckResult:
    """Every worker node takes new pods: none cordoned, none with a NoSchedule/NoExecute taint of its own."""
    results = [_takes_pods(kube, worker.name) for worker in cluster.workers]
    bad = [r for r in results if not r.ok]
    if not results:
        return failed(f"cluster {cluster.name} has no worker nodes")
    if bad:
        return CheckResult(
            "error" if any(r.status == "error" for r in bad) else "fail",
            "; ".join(r.message for r in bad),
            bad[0].hint,
        )
    return passed(f"every worker takes new pods ({', '.join(w.name for w in cluster.workers)})")


def _takes_pods(kube: Kube, name: str) -> CheckResult:
    try:
        obj = kube.get("v1", "Node", name)
    except ClusterError as exc:
        return CheckResult("error", f"cannot read node {name}: {exc}")
    if obj is None:
        return failed(f"node {name} is not registered")
    if obj.get("spec", {}).get("unschedulable"):
        return failed(f"node {name} is cordoned", "A cordoned node takes no new pods.")
    blocking = [  # only the taints the node controller manages (not-ready, pressure, ...) come and go by themselves
        f"{t['key']}={t.get('value', '')}:{t['effect']}"
        for t in obj.get("spec", {}).get("taints") or []
        if t.get("effect") in ("NoSchedule", "NoExecute") and t["key"] not in MANAGED_TAINTS
    ]
    if blocking:
        return failed(
            f"node {name} repels new pods: {', '.join(blocking)}",
            "A taint keeps away every pod without a matching toleration. Is it still needed?",
        )
    return passed(f"node {name} takes new pods")


def keeps_taint(kube: Kube, node: Node, key: str) -> CheckResult:
    """The node still carries a taint with KEY (e.g. the control plane stays reserved)."""
    try:
        taints = _node_taints(kube, node.name)
    except ClusterError as exc:
        return CheckResult("error", f"cannot read node {node.name}: {exc}")
    if taints is None:
        return failed(f"node {node.name} is not registered")
    if any(t.get("key") == key for t in taints):
        return passed(f"node {node.name} keeps its {key} taint")
    return failed(
        f"node {node.name} lost its {key} taint: workloads can land there now",
        "Make room where the workload belongs instead of opening the control plane.",
    )


KUBELET_KUBECONFIG = "/etc/kubernetes/kubelet.conf"


def _kubelet_kubeconfig(node: Node) -> str:
    """The --kubeconfig of the running kubelet (kubeadm's path when it runs without one or not at all)."""
    argv = node.run("ps -o args= -C kubelet", timeout=30).stdout.split()
    for i, arg in enumerate(argv):
        if arg.startswith("--kubeconfig="):
            return arg.partition("=")[2]
        if arg == "--kubeconfig" and i + 1 < len(argv):
            return argv[i + 1]
    return KUBELET_KUBECONFIG


def kubelet_identity(node: Node) -> CheckResult:
    """The node's kubelet authenticates as this node itself (its own user, in the nodes' group)."""
    path = _kubelet_kubeconfig(node)
    try:
        found = kubeconfig_identity(node, path)
    except StepError as exc:
        return failed(str(exc), "The kubelet's credentials come from the kubeconfig kubeadm wrote for it.")
    return judge_identity(found, f"the kubelet's {path}", f"system:node:{node.name}", ["system:nodes"])
