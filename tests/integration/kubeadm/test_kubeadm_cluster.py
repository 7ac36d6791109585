"""A real kubeadm cluster on the test bed: nodes, static pods, pod networking across nodes, DNS."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from breakers import clock as clock_breakers
from breakers import swap as swap_breakers
from breakfix.changes import ChangeLog
from breakfix.context import Context
from breakfix.errors import StepError
from breakfix.inventory import load_inventory
from breakfix.state import State
from breakfix.transport.node import Node
from breakfix.transport.spec import open_transport
from tests.polling import eventually
from tests.testbed.kubeadm.cluster import KubeadmCluster, reprovision

pytestmark = [pytest.mark.testbed, pytest.mark.slow]

SCHEDULER_MANIFEST = "/etc/kubernetes/manifests/kube-scheduler.yaml"


def _json(cluster: KubeadmCluster, *args: str) -> Any:
    return json.loads(cluster.kubectl(*args, "-o", "json"))


@pytest.fixture
def node(kubeadm_cluster: KubeadmCluster) -> Iterator[Callable[[str], Node]]:
    """Return breakfix Node handles (SSH, host keys checked) built from the cluster's inventory."""
    spec = load_inventory(kubeadm_cluster.inventory)
    opened: list[Node] = []

    def get(name: str) -> Node:
        n = next(s for s in spec.nodes if s.name == name)
        handle = Node(n.name, n.role, open_transport(n.transport), n.ip)
        opened.append(handle)
        return handle

    yield get
    for handle in opened:
        handle.close()


@pytest.fixture
def namespace(kubeadm_cluster: KubeadmCluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """Create a namespace for one test and delete it afterwards."""
    name = "t-" + request.node.name.lower().replace("_", "-")[:50].strip("-")
    kubeadm_cluster.kubectl("create", "namespace", name)
    yield name
    kubeadm_cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def test_inventory_describes_the_cluster(kubeadm_cluster: KubeadmCluster) -> None:
    spec = load_inventory(kubeadm_cluster.inventory)
    assert [n.name for n in spec.control_planes] == ["cp1"]
    assert [n.name for n in spec.workers] == ["w1"]
    assert {"static-pods", "systemd", "multi-node", "cni"} <= spec.capabilities
    assert spec.images["web"] == "breakfix.local/web:1" and spec.images["shell"] == "breakfix.local/shell:1"
    assert spec.pull_policy == "Never"
    assert spec.kubeconfig == kubeadm_cluster.kubeconfig
    server = yaml.safe_load(kubeadm_cluster.kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
    assert server == f"https://127.0.0.1:{kubeadm_cluster.api_port}"


def test_all_nodes_ready_with_kubeadm_and_containerd(kubeadm_cluster: KubeadmCluster) -> None:
    nodes = {n["metadata"]["name"]: n for n in _json(kubeadm_cluster, "get", "nodes")["items"]}
    assert sorted(nodes) == ["cp1", "w1"]
    for name, n in nodes.items():
        ready = next(c for c in n["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "True", f"{name}: {ready}"
        info = n["status"]["nodeInfo"]
        assert info["kubeletVersion"] == "v1.34.4"
        assert info["containerRuntimeVersion"].startswith("containerd://")
        assert n["spec"]["podCIDR"].startswith("10.244.")
    assert "node-role.kubernetes.io/control-plane" in nodes["cp1"]["metadata"]["labels"]
    pods = _json(kubeadm_cluster, "get", "pods", "-n", "kube-system")["items"]
    names = {p["metadata"]["name"] for p in pods}
    for static in ("etcd-cp1", "kube-apiserver-cp1", "kube-controller-manager-cp1", "kube-scheduler-cp1"):
        assert static in names
    assert sum(1 for n in names if n.startswith("kube-proxy-")) == 2


def test_static_pod_restarts_when_its_manifest_is_edited(
    kubeadm_cluster: KubeadmCluster, node: Callable[[str], Node]
) -> None:
    cp1 = node("cp1")
    original = cp1.read_text(SCHEDULER_MANIFEST)

    def scheduler() -> dict[str, Any] | None:
        """The scheduler's mirror pod, or None while the kubelet replaces it (it is deleted and re-created)."""
        out = kubeadm_cluster.kubectl(
            "get", "pod", "-n", "kube-system", "kube-scheduler-cp1", "--ignore-not-found", "-o", "json"
        )
        return json.loads(out) if out.strip() else None

    def running_container(pod: dict[str, Any] | None) -> str | None:
        if pod is None:
            return None
        statuses = pod["status"].get("containerStatuses") or []
        if statuses and statuses[0].get("ready") and "running" in statuses[0].get("state", {}):
            return str(statuses[0]["containerID"])
        return None

    before = scheduler()
    assert before is not None
    old_container = running_container(before)
    assert old_container, before["status"]
    edited = yaml.safe_load(original)
    edited["spec"]["containers"][0]["command"].append("--v=3")  # harmless: more verbose logs
    try:
        cp1.write(SCHEDULER_MANIFEST, yaml.safe_dump(edited))

        def restarted() -> dict[str, Any] | None:
            pod = scheduler()
            new = running_container(pod)
            has_flag = pod is not None and "--v=3" in pod["spec"]["containers"][0]["command"]
            return pod if (new and new != old_container and has_flag) else None

        after = eventually("the scheduler's mirror pod to run the edited manifest", restarted, timeout=180)
        assert (
            after["metadata"]["annotations"]["kubernetes.io/config.hash"]
            != (before["metadata"]["annotations"]["kubernetes.io/config.hash"])
        )
        assert "ps" in cp1.check("ps -eo args | grep -c '[k]ube-scheduler.*--v=3' && echo ps")
    finally:
        cp1.write(SCHEDULER_MANIFEST, original)
    eventually(
        "the scheduler to run the original manifest again",
        lambda: (
            (p := scheduler()) is not None
            and running_container(p)
            and "--v=3" not in p["spec"]["containers"][0]["command"]
        ),
        timeout=180,
    )


def _manifests(namespace: str) -> str:
    toleration = {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}
    docs = [
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "web", "namespace": namespace, "labels": {"app": "web"}},
            "spec": {
                "nodeSelector": {"kubernetes.io/hostname": "cp1"},
                "tolerations": [toleration],
                "containers": [
                    {
                        "name": "web",
                        "image": "breakfix.local/web:1",
                        "imagePullPolicy": "Never",
                        "ports": [{"containerPort": 80}],
                        "readinessProbe": {"httpGet": {"path": "/", "port": 80}, "periodSeconds": 1},
                    }
                ],
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": namespace},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 8080, "targetPort": 80}]},
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "shell", "namespace": namespace},
            "spec": {
                "nodeSelector": {"kubernetes.io/hostname": "w1"},
                "terminationGracePeriodSeconds": 1,
                "containers": [
                    {
                        "name": "shell",
                        "image": "breakfix.local/shell:1",
                        "imagePullPolicy": "Never",
                        "command": ["sleep", "3600"],
                    }
                ],
            },
        },
    ]
    return yaml.safe_dump_all(docs)


@pytest.fixture
def web_and_shell(kubeadm_cluster: KubeadmCluster, namespace: str) -> str:
    """Start a web pod and its Service on cp1 and a shell pod on w1; return the namespace."""
    kubeadm_cluster.kubectl("apply", "-f", "-", input=_manifests(namespace))
    kubeadm_cluster.kubectl("wait", "-n", namespace, "--for=condition=Ready", "pod/web", "pod/shell", "--timeout=120s")
    return namespace


def test_pod_on_worker_reaches_service_backed_by_pod_on_control_plane(
    kubeadm_cluster: KubeadmCluster, web_and_shell: str
) -> None:
    ns = web_and_shell
    pods = {p["metadata"]["name"]: p for p in _json(kubeadm_cluster, "get", "pods", "-n", ns)["items"]}
    assert pods["web"]["spec"]["nodeName"] == "cp1" and pods["shell"]["spec"]["nodeName"] == "w1"
    web_ip, shell_ip = pods["web"]["status"]["podIP"], pods["shell"]["status"]["podIP"]
    cidrs = {n["metadata"]["name"]: n["spec"]["podCIDR"] for n in _json(kubeadm_cluster, "get", "nodes")["items"]}
    assert web_ip.rsplit(".", 1)[0] == cidrs["cp1"].rsplit(".", 1)[0]
    assert shell_ip.rsplit(".", 1)[0] == cidrs["w1"].rsplit(".", 1)[0]
    cluster_ip = _json(kubeadm_cluster, "get", "service", "-n", ns, "web")["spec"]["clusterIP"]

    def fetch(url: str) -> str:
        return kubeadm_cluster.kubectl("exec", "-n", ns, "shell", "--", "timeout", "10", "wget", "-q", "-O", "-", url)

    assert "breakfix web" in fetch(f"http://{web_ip}/")  # pod to pod across nodes
    assert "breakfix web" in fetch(f"http://{cluster_ip}:8080/")  # through kube-proxy's iptables rules
    assert "breakfix web" in fetch(f"http://web.{ns}.svc.cluster.local:8080/")  # through CoreDNS too
    # the web server saw the shell pod's own address: no masquerading inside the pod network
    log = kubeadm_cluster.kubectl("logs", "-n", ns, "web")
    assert shell_ip in log, log


def test_dns_resolves_kubernetes_default(kubeadm_cluster: KubeadmCluster, web_and_shell: str) -> None:
    ns = web_and_shell
    kubernetes_ip = _json(kubeadm_cluster, "get", "service", "-n", "default", "kubernetes")["spec"]["clusterIP"]
    dns_ip = _json(kubeadm_cluster, "get", "service", "-n", "kube-system", "kube-dns")["spec"]["clusterIP"]
    resolv = kubeadm_cluster.kubectl("exec", "-n", ns, "shell", "--", "cat", "/etc/resolv.conf")
    assert f"nameserver {dns_ip}" in resolv and f"search {ns}.svc.cluster.local svc.cluster.local" in resolv
    # a DNS query straight to CoreDNS (busybox's nslookup does not apply the search list)
    out = kubeadm_cluster.kubectl("exec", "-n", ns, "shell", "--", "nslookup", "kubernetes.default.svc.cluster.local")
    assert dns_ip in out and kubernetes_ip in out, out
    # the short name through the C library's resolver, search list included (as any program resolves it)
    out = kubeadm_cluster.kubectl(
        "exec", "-n", ns, "shell", "--", "sh", "-c", "timeout 10 wget -O /dev/null http://kubernetes.default:443/ 2>&1",
        check=False,
    )  # fmt: skip
    assert f"kubernetes.default:443 ({kubernetes_ip}:443)" in out, out


def test_metrics_api_measures_every_node_and_a_pod(kubeadm_cluster: KubeadmCluster, web_and_shell: str) -> None:
    """metrics-server (capability metrics-server) answers `kubectl top` with real figures from each kubelet."""
    assert "metrics-server" in load_inventory(kubeadm_cluster.inventory).capabilities
    service = _json(kubeadm_cluster, "get", "apiservice", "v1beta1.metrics.k8s.io")
    assert any(c["type"] == "Available" and c["status"] == "True" for c in service["status"]["conditions"]), service

    def nodes_measured() -> list[str]:
        out = kubeadm_cluster.kubectl("top", "nodes", "--no-headers", check=False)
        return sorted(line.split()[0] for line in out.splitlines() if line.strip() and "error" not in line)

    assert eventually("kubectl top nodes to list cp1 and w1", lambda: nodes_measured() == ["cp1", "w1"], 120)

    def shell_measured() -> str:
        out = kubeadm_cluster.kubectl("top", "pod", "shell", "-n", web_and_shell, "--no-headers", check=False)
        return out if out.startswith("shell ") else ""

    cpu, memory = eventually("kubectl top pod shell", shell_measured, 120).split()[1:3]
    assert cpu.endswith("m") and memory.endswith("Mi"), (cpu, memory)


def test_kube_proxy_runs_in_iptables_mode(kubeadm_cluster: KubeadmCluster, node: Callable[[str], Node]) -> None:
    rules = node("w1").check("iptables-save -t nat")
    assert "KUBE-SERVICES" in rules and "KUBE-SVC-" in rules
    mode = node("w1").check("curl -s http://127.0.0.1:10249/proxyMode")
    assert mode.strip() == "iptables"


def test_roles_are_idempotent_on_the_running_cluster(kubeadm_cluster: KubeadmCluster) -> None:
    stats = reprovision(kubeadm_cluster)
    assert stats.get("failures", {}) == {} and stats.get("dark", {}) == {}
    assert stats.get("changed", {}) == {}, f"a second run of site.yml changed something: {stats.get('changed')}"
    assert kubeadm_cluster.kubectl("get", "--raw", "/readyz").strip() == "ok"


def test_vm_only_breakers_are_refused_on_container_nodes(
    kubeadm_cluster: KubeadmCluster, tmp_path: Path, node: Callable[[str], Node]
) -> None:
    """Test-bed nodes share the host's clock and swap: the clock and swap breakers refuse them, change nothing."""
    spec = load_inventory(kubeadm_cluster.inventory)
    store = State(tmp_path / "state.db")
    ctx = Context(spec, store, log=lambda _m: None)
    worker = ctx.node("w1")
    before = float(node("w1").check("date +%s"))
    swaps = node("w1").check("cat /proc/swaps")
    fstab = node("w1").check("cat /etc/fstab")
    with pytest.raises(StepError, match="w1 is a container \\(docker\\): its clock is its host's"):
        clock_breakers.jump(ChangeLog(ctx, "break"), worker, days=400)
    with pytest.raises(StepError, match="w1 is a container \\(docker\\): its swap is its host's"):
        swap_breakers.swap_on(ChangeLog(ctx, "break"), worker)
    assert abs(float(node("w1").check("date +%s")) - before) < 120
    assert node("w1").check("cat /proc/swaps") == swaps and node("w1").check("cat /etc/fstab") == fstab
    assert node("w1").run("test -e /swap.img").rc != 0
    assert store.journal(spec.name) == []
    store.close()


def test_private_registry_asks_for_credentials(kubeadm_cluster: KubeadmCluster, namespace: str) -> None:
    """A pull from the private registry fails without credentials and works with the role's login Secret."""
    inv = load_inventory(kubeadm_cluster.inventory)
    assert "private-registry" in inv.capabilities
    image = inv.images["private-web"]
    login = _json(kubeadm_cluster, "get", "secret", "-n", "kube-system", "breakfix-registry-login")
    secret = {"apiVersion": "v1", "kind": "Secret", "type": login["type"], "data": login["data"],
              "metadata": {"name": "registry-login", "namespace": namespace}}  # fmt: skip

    def pod(name: str, secrets: list[str]) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace},
                "spec": {"imagePullSecrets": [{"name": s} for s in secrets], "terminationGracePeriodSeconds": 0,
                         "containers": [{"name": "web", "image": image, "imagePullPolicy": "Always"}]}}  # fmt: skip

    docs = [secret, pod("with-login", ["registry-login"]), pod("anonymous", [])]
    kubeadm_cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(docs))
    kubeadm_cluster.kubectl("wait", "-n", namespace, "--for=condition=Ready", "pod/with-login", "--timeout=120s")

    def refusal() -> str:
        status = _json(kubeadm_cluster, "get", "pod", "-n", namespace, "anonymous")["status"]
        waiting = ((status.get("containerStatuses") or [{}])[0].get("state") or {}).get("waiting") or {}
        return (
            str(waiting.get("message") or "") if waiting.get("reason") in ("ErrImagePull", "ImagePullBackOff") else ""
        )

    message = eventually("the anonymous pull to be refused", refusal, timeout=120)
    assert "401" in message or "nauthorized" in message or "credentials" in message, message
