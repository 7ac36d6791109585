"""kind clusters: nodes are docker containers reached with `docker exec`."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import yaml

from breakfix.errors import ClusterError
from breakfix.providers.base import Log, cluster_dir, missing, stream

CLUSTER_LABEL = "io.x-k8s.kind.cluster"
ROLE_LABEL = "io.x-k8s.kind.role"
NODEPORT = 30080  # mapped to the same port on 127.0.0.1 for NodePort labs (another one when that is taken)
#: A node image may ship the lab images it holds (offline classrooms, the test bed): role map + pull policy.
IMAGE_MAP_PATH = "/etc/breakfix/images.yaml"


def kind_config(workers: int = 2, node_image: str | None = None, host_port: int = NODEPORT) -> dict[str, Any]:
    """A kind config: one control plane (NodePort mapped to 127.0.0.1) and WORKERS labelled workers."""
    cp: dict[str, Any] = {
        "role": "control-plane",
        "labels": {"breakfix.dev/role": "control-plane"},
        "extraPortMappings": [{"containerPort": NODEPORT, "hostPort": host_port, "listenAddress": "127.0.0.1"}],
    }
    nodes = [cp] + [{"role": "worker", "labels": {"breakfix.dev/role": "worker"}} for _ in range(workers)]
    if node_image:
        for node in nodes:
            node["image"] = node_image
    return {
        "kind": "Cluster",
        "apiVersion": "kind.x-k8s.io/v1alpha4",
        "nodes": nodes,
        "networking": {"apiServerAddress": "127.0.0.1"},
    }


def discover_nodes(cluster: str, docker: str = "docker") -> list[dict[str, str]]:
    """The cluster's node containers from their kind labels: name, role and address on the kind network."""
    out = subprocess.run(
        [docker, "ps", "--filter", f"label={CLUSTER_LABEL}={cluster}", "--format", "{{.Names}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise ClusterError(f"docker ps failed: {out.stderr.strip()}")
    names = sorted(n for n in out.stdout.split() if n)
    if not names:
        return []
    info = json.loads(subprocess.run([docker, "inspect", *names], capture_output=True, text=True, check=True).stdout)
    nodes = []
    for c in info:
        labels = c["Config"].get("Labels") or {}
        nets = c["NetworkSettings"].get("Networks") or {}
        net: dict[str, Any] = nets.get("kind") or next(iter(nets.values()), {})
        ip = str(net.get("IPAddress", ""))
        nodes.append({"name": c["Name"].lstrip("/"), "role": labels.get(ROLE_LABEL, "worker"), "ip": ip})
    return sorted(nodes, key=lambda n: (n["role"] != "control-plane", n["name"]))


def node_containers(cluster: str, docker: str = "docker") -> list[tuple[str, str]]:
    """The cluster's node containers, running or stopped, as (name, role): control planes first."""
    out = subprocess.run(
        [docker, "ps", "--all", "--filter", f"label={CLUSTER_LABEL}={cluster}",
         "--format", f'{{{{.Names}}}}\t{{{{.Label "{ROLE_LABEL}"}}}}'],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if out.returncode != 0:
        raise ClusterError(f"docker ps failed: {out.stderr.strip()}")
    found = []
    for line in out.stdout.splitlines():
        name, _, role = line.partition("\t")
        if name.strip():
            found.append((name.strip(), role.strip() or "worker"))
    if not found:
        raise ClusterError(f"no node containers carry {CLUSTER_LABEL}={cluster}: was it deleted outside breakfix?")
    return sorted(found, key=lambda n: (n[1] != "control-plane", n[0]))


def free_host_port(preferred: int = NODEPORT) -> int:
    """PREFERRED when nothing listens on it at 127.0.0.1, else a free port the system picks."""
    for port in (preferred, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise ClusterError("no free TCP port on 127.0.0.1 for the NodePort mapping")


def node_image_map(node: str, docker: str = "docker") -> dict[str, Any]:
    """The image map a node image ships at IMAGE_MAP_PATH ({} when it has none)."""
    out = subprocess.run([docker, "exec", node, "cat", IMAGE_MAP_PATH], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        return {}
    try:
        data = yaml.safe_load(out.stdout) or {}
    except yaml.YAMLError as exc:
        raise ClusterError(f"{node}:{IMAGE_MAP_PATH} is not valid YAML: {exc}") from None
    images = data.get("images") if isinstance(data, dict) else None
    if not isinstance(images, dict) or not all(isinstance(v, str) for v in images.values()):
        raise ClusterError(f"{node}:{IMAGE_MAP_PATH} must hold 'images:', a mapping of role to image")
    return {"images": dict(images), "pull_policy": data.get("pull_policy")}


def inventory_for(
    cluster: str,
    nodes: list[dict[str, str]],
    kubeconfig: Path,
    workers: int,
    image_map: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An inventory (docs/inventory.md) for a kind cluster; Ansible reaches the nodes over docker too."""
    groups: dict[str, dict[str, Any]] = {"control_plane": {"hosts": {}}, "workers": {"hosts": {}}}
    for node in nodes:
        group = "control_plane" if node["role"] == "control-plane" else "workers"
        groups[group]["hosts"][node["name"]] = {
            "ansible_connection": "community.docker.docker",
            "breakfix_node_ip": node["ip"],
        }
    caps = ["static-pods", "systemd", "cni"] + (["multi-node"] if workers else [])
    top: dict[str, Any] = {
        "breakfix_cluster": cluster,
        "breakfix_provider": "kind",
        "breakfix_kubeconfig": str(kubeconfig),
        "breakfix_capabilities": caps,
    }
    if image_map:
        top["breakfix_images"] = image_map["images"]
        if image_map.get("pull_policy"):
            top["breakfix_image_pull_policy"] = image_map["pull_policy"]
    return {"all": {"vars": top, "children": groups}}


class KindProvider:
    """Creates kind clusters (the default provider)."""

    name = "kind"
    capabilities = frozenset({"static-pods", "systemd", "multi-node", "cni"})

    def missing_tools(self) -> list[str]:
        """Missing tools with install hints; the docker daemon must answer too."""
        lines = missing(["docker", "kind"])
        if shutil.which("docker") and subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
            lines.append("docker: the daemon does not answer (start it, or add your user to the docker group)")
        return lines

    def up(self, name: str, workers: int, log: Log, image: str | None = None) -> Path:
        """Create the cluster with the kind CLI (IMAGE: the node image) and write its inventory."""
        folder = cluster_dir(name)
        folder.mkdir(parents=True, exist_ok=True)
        config = folder / "kind.yaml"
        nodeport = free_host_port()
        if nodeport != NODEPORT:
            log(f"note: 127.0.0.1:{NODEPORT} is taken; NodePort {NODEPORT} is published on 127.0.0.1:{nodeport}")
        config.write_text(yaml.safe_dump(kind_config(workers, image, nodeport)))
        kubeconfig = folder / "kubeconfig"
        stream(
            [
                "kind",
                "create",
                "cluster",
                "--name",
                name,
                "--config",
                str(config),
                "--kubeconfig",
                str(kubeconfig),
                "--wait",
                "5m",
            ],
            log,
            "creating kind cluster",
        )
        try:
            return self._describe(name, workers, kubeconfig, log)
        except BaseException:
            log("the cluster came up but could not be described; deleting it so that `lab cluster up` can retry")
            self.down(name, log)
            raise

    def _describe(self, name: str, workers: int, kubeconfig: Path, log: Log) -> Path:
        """Write the inventory of a created cluster from its containers and its node image."""
        nodes = discover_nodes(name)
        if not nodes:
            raise ClusterError(f"kind reported success but no node containers carry {CLUSTER_LABEL}={name}")
        images = node_image_map(nodes[0]["name"])
        if images:
            log(f"the node image holds the lab images: {', '.join(f'{k}={v}' for k, v in images['images'].items())}")
        inventory = cluster_dir(name) / "inventory.yaml"
        inventory.write_text(yaml.safe_dump(inventory_for(name, nodes, kubeconfig, workers, images), sort_keys=False))
        return inventory

    def stop(self, name: str, log: Log) -> None:
        """`docker stop` the node containers, workers first (systemd in each shuts its services down)."""
        nodes = node_containers(name)
        workers = [n for n, role in nodes if role != "control-plane"]
        planes = [n for n, role in nodes if role == "control-plane"]
        for group in (workers, planes):
            if group:
                stream(["docker", "stop", "--time", "60", *group], log, "stopping the node containers", timeout=600)

    def start(self, name: str, log: Log) -> Path:
        """`docker start` the node containers, control plane first; the inventory gets their new addresses."""
        nodes = node_containers(name)
        planes = [n for n, role in nodes if role == "control-plane"]
        workers = [n for n, role in nodes if role != "control-plane"]
        for group in (planes, workers):
            if group:
                stream(["docker", "start", *group], log, "starting the node containers", timeout=600)
        return self._describe(name, len(workers), cluster_dir(name) / "kubeconfig", log)

    def down(self, name: str, log: Log) -> None:
        """Delete the cluster and its folder."""
        stream(["kind", "delete", "cluster", "--name", name], log, "deleting kind cluster")
        shutil.rmtree(cluster_dir(name), ignore_errors=True)
