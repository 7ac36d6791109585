"""Start real systemd nodes in docker containers, reachable over SSH on 127.0.0.1, and tear them down."""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tests.testbed import cleanup, dockercli, image, inventory, keys, network
from tests.testbed.paths import run_dir
from tests.testbed.ready import wait_ready

# What systemd needs to be PID 1 without --privileged (see docs: "The offline test bed").
SYSTEMD_RUN_ARGS: tuple[str, ...] = (
    "--cap-add=ALL", "--cap-drop=SYS_RESOURCE",
    "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
    "--cgroupns=host", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
    "--tmpfs", "/run", "--tmpfs", "/run/lock", "--tmpfs", "/tmp",
    "--stop-signal", "SIGRTMIN+3",
)  # fmt: skip

READY_TIMEOUT = float(os.environ.get("BREAKFIX_TESTBED_READY_TIMEOUT", "120"))


@dataclass
class Node:
    """One node container of a run."""

    name: str  # host name inside the cluster: cp1, w1, ...
    role: str  # control-plane | worker
    container: str
    ip: str  # address on the run's private network
    ssh_port: int = 0  # published on 127.0.0.1

    @property
    def ssh_spec(self) -> str:
        """Return the breakfix transport spec of this node."""
        return f"ssh://root@127.0.0.1:{self.ssh_port}"


@dataclass
class Run:
    """A set of running nodes with their private network, keys and inventory."""

    run_id: str
    image: str
    network: str
    subnet: str
    nodes: list[Node] = field(default_factory=list)
    keep: bool = False

    @property
    def directory(self) -> Path:
        """Return the run folder (inventory.yml, id_ed25519, known_hosts, run.json)."""
        return run_dir(self.run_id)

    @property
    def inventory_path(self) -> Path:
        """Return the path of the run's Ansible inventory."""
        return self.directory / "inventory.yml"

    @property
    def key_path(self) -> Path:
        """Return the client private key that every node authorizes."""
        return self.directory / "id_ed25519"

    @property
    def known_hosts_path(self) -> Path:
        """Return the known_hosts file with every node's `[127.0.0.1]:PORT` entry."""
        return self.directory / "known_hosts"

    def node(self, name: str) -> Node:
        """Return the node called NAME."""
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(f"no node {name!r} in run {self.run_id} (have {[n.name for n in self.nodes]})")

    def exec(self, name: str, *cmd: str, check: bool = True) -> str:
        """Run a command in a node with docker exec (for debugging; tests should use SSH)."""
        return dockercli.docker("exec", self.node(name).container, *cmd, check=check)

    def save(self) -> None:
        """Write run.json so a later process can find this run."""
        (self.directory / "run.json").write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, run_id: str) -> Run:
        """Read a run from its run.json."""
        data: dict[str, Any] = json.loads((run_dir(run_id) / "run.json").read_text())
        nodes = [Node(**n) for n in data.pop("nodes")]
        return cls(nodes=nodes, **data)

    def teardown(self) -> cleanup.Leftovers:
        """Remove every container, volume and network of this run and its folder; return leftovers."""
        return cleanup.remove_run(self.run_id)


def new_run_id() -> str:
    """Return a short unique run id, usable as a docker name prefix."""
    return "bf" + secrets.token_hex(3)


def _node_names(count_workers: int, count_control_planes: int) -> list[tuple[str, str]]:
    return [(f"cp{i}", "control-plane") for i in range(1, count_control_planes + 1)] + [
        (f"w{i}", "worker") for i in range(1, count_workers + 1)
    ]


def _create_node(run: Run, node: Node, labels: dict[str, str], extra: list[str]) -> None:
    """Create (not start) a node container and its /var volume."""
    label_args = [a for k, v in labels.items() for a in ("--label", f"{k}={v}")]
    volume = f"{node.container}-var"
    dockercli.docker("volume", "create", *label_args, volume)
    modules = ["-v", "/lib/modules:/lib/modules:ro"] if Path("/lib/modules").is_dir() else []
    dockercli.docker(
        "create", "--name", node.container, "--hostname", node.name,
        *SYSTEMD_RUN_ARGS, *modules, "-v", f"{volume}:/var",
        "--network", run.network, "--ip", node.ip, "--network-alias", node.name,
        "-p", "127.0.0.1::22", *label_args,
        "--label", f"breakfix.testbed.node={node.name}", "--label", f"breakfix.testbed.role={node.role}",
        *extra, run.image,
    )  # fmt: skip


def _inject_keys(run: Run, client: keys.KeyPair, host_keys: dict[str, keys.KeyPair]) -> None:
    """Copy host keys, the authorized client key and node-to-node known_hosts into each node."""
    internal_known = "".join(keys.known_hosts_line([n.name, n.ip], host_keys[n.name]) + "\n" for n in run.nodes)
    for node in run.nodes:
        hk = host_keys[node.name]
        files = {
            "etc/ssh/ssh_host_ed25519_key": (hk.private, 0o600),
            "etc/ssh/ssh_host_ed25519_key.pub": (hk.public + "\n", 0o644),
            "root/.ssh/authorized_keys": (client.public + "\n", 0o600),
            "root/.ssh/id_ed25519": (client.private, 0o600),
            "root/.ssh/id_ed25519.pub": (client.public + "\n", 0o644),
            "root/.ssh/known_hosts": (internal_known, 0o644),
        }
        dockercli.docker("cp", "-", f"{node.container}:/", input=keys.tar_files(files))


def _published_port(container: str) -> int:
    out = dockercli.docker("port", container, "22/tcp").splitlines()
    for line in out:
        host, _, port = line.strip().rpartition(":")
        if host == "127.0.0.1":
            return int(port)
    raise RuntimeError(f"{container}: SSH port not published on 127.0.0.1 ({out})")


def start_nodes(
    count_workers: int = 1,
    count_control_planes: int = 1,
    keep: bool = False,
    extra_run_args: list[str] | None = None,
    ready_timeout: float = READY_TIMEOUT,
) -> Run:
    """Start cp1.. and w1.. nodes, wait until systemd runs and SSH answers, and return the run."""
    image_ref = image.ensure_image()
    run_id = new_run_id()
    labels = cleanup.owner_labels(run_id, keep)
    run = Run(run_id=run_id, image=image_ref, network=f"{run_id}-net", subnet="", keep=keep)
    run.directory.mkdir(parents=True, exist_ok=False)
    try:
        subnet = network.create(run.network, labels)
        run.subnet = str(subnet)
        hosts = list(subnet.hosts())
        for i, (name, role) in enumerate(_node_names(count_workers, count_control_planes)):
            run.nodes.append(Node(name, role, f"{run_id}-{name}", str(hosts[10 + i])))
        client = keys.generate(f"breakfix-testbed-{run_id}")
        keys.write_private(run.key_path, client)
        host_keys = {n.name: keys.generate(f"root@{n.name}") for n in run.nodes}
        for node in run.nodes:
            _create_node(run, node, labels, list(extra_run_args or []))
        _inject_keys(run, client, host_keys)
        dockercli.docker("start", *[n.container for n in run.nodes])
        for node in run.nodes:
            node.ssh_port = _published_port(node.container)
        run.known_hosts_path.write_text(
            "".join(keys.known_hosts_line([f"[127.0.0.1]:{n.ssh_port}"], host_keys[n.name]) + "\n" for n in run.nodes)
        )
        inv = inventory.render(run_id, list(run.nodes), run.key_path, run.known_hosts_path)
        inventory.write(run.inventory_path, inv)
        run.save()
        deadline = time.monotonic() + ready_timeout
        for node in run.nodes:
            wait_ready(node.container, node.ssh_port, run.key_path, run.known_hosts_path, deadline)
    except BaseException:
        if os.environ.get("BREAKFIX_TESTBED_KEEP_FAILED") != "1":
            run.teardown()
        raise
    return run
