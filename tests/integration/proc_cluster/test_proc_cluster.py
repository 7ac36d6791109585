"""The process test cluster is a real Kubernetes control plane: controllers, scheduler and kwok nodes work."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.polling import eventually
from tests.testbed.proc_cluster import PROVIDER, ProcCluster

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client, config  # noqa: E402

pytestmark = pytest.mark.slow


def api_client(cluster: ProcCluster) -> Any:
    """Return a kubernetes ApiClient for the cluster's admin kubeconfig."""
    return config.new_client_from_config(config_file=str(cluster.kubeconfig))


@pytest.fixture
def namespace(proc_cluster: ProcCluster) -> Iterator[str]:
    """A fresh namespace in the session cluster, deleted afterwards."""
    core = client.CoreV1Api(api_client(proc_cluster))
    name = f"t-{secrets.token_hex(3)}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    core.delete_namespace(name)


def web_deployment(name: str, replicas: int) -> Any:
    labels = {"app": name}
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        spec=client.V1DeploymentSpec(
            replicas=replicas,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(
                    containers=[
                        client.V1Container(
                            name="web",
                            image="registry.invalid/web:1",  # kwok runs nothing: the image is never pulled
                            ports=[client.V1ContainerPort(container_port=80)],
                        )
                    ]
                ),
            ),
        ),
    )


def running_ready_pods(core: Any, ns: str, app: str) -> list[Any]:
    pods = core.list_namespaced_pod(ns, label_selector=f"app={app}").items
    return [
        p
        for p in pods
        if p.status.phase == "Running"
        and p.status.pod_ip
        and any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])
    ]


def ready_endpoint_ips(discovery: Any, ns: str, service: str) -> set[str]:
    slices = discovery.list_namespaced_endpoint_slice(ns, label_selector=f"kubernetes.io/service-name={service}").items
    return {
        address
        for s in slices
        for ep in s.endpoints or []
        if ep.conditions is None or ep.conditions.ready is not False
        for address in ep.addresses
    }


def test_inventory_describes_the_cluster(proc_cluster: ProcCluster) -> None:
    inventory = yaml.safe_load(proc_cluster.inventory.read_text())
    vars_ = inventory["all"]["vars"]
    assert vars_["breakfix_provider"] == PROVIDER
    assert vars_["breakfix_capabilities"] == []
    assert (proc_cluster.inventory.parent / vars_["breakfix_kubeconfig"]).resolve() == proc_cluster.kubeconfig
    kubeconfig = yaml.safe_load(proc_cluster.kubeconfig.read_text())
    assert kubeconfig["current-context"] == vars_["breakfix_context"]
    assert kubeconfig["clusters"][0]["cluster"]["server"].startswith("https://127.0.0.1:")


def test_breakfix_reads_the_inventory(proc_cluster: ProcCluster) -> None:
    from breakfix.inventory import load_inventory

    spec = load_inventory(proc_cluster.inventory)
    assert spec.provider == PROVIDER
    assert spec.name == proc_cluster.name
    assert spec.nodes == ()
    assert spec.capabilities == frozenset()
    assert spec.kubeconfig == proc_cluster.kubeconfig
    assert spec.context == proc_cluster.context


def test_control_plane_is_real(proc_cluster: ProcCluster) -> None:
    version = proc_cluster.kubectl("version", "-o", "yaml").stdout
    info = yaml.safe_load(version)
    assert info["serverVersion"]["gitVersion"].startswith("v1.34.")
    assert info["serverVersion"]["gitVersion"] == info["clientVersion"]["gitVersion"]
    nodes = client.CoreV1Api(api_client(proc_cluster)).list_node().items
    assert sorted(n.metadata.name for n in nodes) == ["kwok-node-0", "kwok-node-1"]
    for node in nodes:
        assert node.spec.pod_cidr, "the node IPAM controller gave the node a pod CIDR"


def test_deployment_gets_running_pods_on_kwok_nodes(proc_cluster: ProcCluster, namespace: str) -> None:
    api = api_client(proc_cluster)
    client.AppsV1Api(api).create_namespaced_deployment(namespace, web_deployment("web", 2))
    core = client.CoreV1Api(api)
    pods = eventually("2 Running and Ready pods", lambda: len(running_ready_pods(core, namespace, "web")) == 2)
    assert pods
    pods = running_ready_pods(core, namespace, "web")
    assert {p.spec.node_name for p in pods} <= {"kwok-node-0", "kwok-node-1"}
    assert all(p.spec.node_name for p in pods)
    assert len({p.status.pod_ip for p in pods}) == 2
    # The ReplicaSet controller replaces a deleted pod.
    core.delete_namespaced_pod(pods[0].metadata.name, namespace, grace_period_seconds=0)
    eventually(
        "a replacement pod",
        lambda: {p.metadata.name for p in running_ready_pods(core, namespace, "web")} - {p.metadata.name for p in pods},
    )
    eventually("2 Ready pods again", lambda: len(running_ready_pods(core, namespace, "web")) == 2)


def test_service_endpoints_follow_the_selector(proc_cluster: ProcCluster, namespace: str) -> None:
    api = api_client(proc_cluster)
    core = client.CoreV1Api(api)
    discovery = client.DiscoveryV1Api(api)
    client.AppsV1Api(api).create_namespaced_deployment(namespace, web_deployment("shop", 2))
    service = client.V1Service(
        metadata=client.V1ObjectMeta(name="shop"),
        spec=client.V1ServiceSpec(selector={"app": "shop"}, ports=[client.V1ServicePort(port=80, target_port=80)]),
    )
    created = core.create_namespaced_service(namespace, service)
    assert created.spec.cluster_ip.startswith("10.96.")
    eventually("2 Ready pods", lambda: len(running_ready_pods(core, namespace, "shop")) == 2)
    pod_ips = {p.status.pod_ip for p in running_ready_pods(core, namespace, "shop")}
    eventually("EndpointSlices with the pod IPs", lambda: ready_endpoint_ips(discovery, namespace, "shop") == pod_ips)
    # A wrong selector (the classic CKA fault) empties the endpoints.
    core.patch_namespaced_service("shop", namespace, {"spec": {"selector": {"app": "shpo"}}})
    eventually("empty EndpointSlices", lambda: ready_endpoint_ips(discovery, namespace, "shop") == set())
    endpoints = core.read_namespaced_endpoints("shop", namespace)
    assert not endpoints.subsets
    # The fix brings them back.
    core.patch_namespaced_service("shop", namespace, {"spec": {"selector": {"app": "shop"}}})
    eventually("EndpointSlices back", lambda: ready_endpoint_ips(discovery, namespace, "shop") == pod_ips)


def test_two_clusters_run_at_once(proc_cluster: ProcCluster, proc_cluster_factory: Callable[..., ProcCluster]) -> None:
    other = proc_cluster_factory(name="second", nodes=["kwok-node-a"])
    assert other.server != proc_cluster.server
    assert other.run_dir != proc_cluster.run_dir
    assert not set(other.ports.values()) & set(proc_cluster.ports.values())
    mine = client.CoreV1Api(api_client(proc_cluster))
    theirs = client.CoreV1Api(api_client(other))
    theirs.create_namespaced_config_map(
        "default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="only-in-second"))
    )
    assert [n.metadata.name for n in theirs.list_node().items] == ["kwok-node-a"]
    names = {c.metadata.name for c in mine.list_namespaced_config_map("default").items}
    assert "only-in-second" not in names
    pids = other.pids()
    assert set(pids) == {"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"}
    run_dir = other.run_dir
    other.stop()
    assert not Path(run_dir).exists()
    for pid in pids.values():
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
    assert mine.list_node().items, "the first cluster still answers"
