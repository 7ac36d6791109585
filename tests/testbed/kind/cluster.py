"""A real kind cluster made by `lab cluster up --provider kind`, offline, on this host.

kind is built from its Go module (tests.testbed.artifacts), its node image from the test bed's parts
(node_image.py). Two things differ from a workstation, both because of this host, not of breakfix:
`docker run --privileged` is refused here (no CAP_SYS_RESOURCE), so kind finds the shim in shim/
first on its PATH; and every cluster gets its own docker network on a free test bed subnet, created
here before kind runs (KIND_EXPERIMENTAL_DOCKER_NETWORK, guarded like every test bed network) and
removed with the cluster. breakfix itself runs unchanged: the `lab` console script of this interpreter.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from tests.testbed import dockercli
from tests.testbed import network as testbed_network
from tests.testbed.artifacts import component

HERE = Path(__file__).resolve().parent
SHIM_DIR = HERE / "shim"
NAME_PREFIX = "bfkind-"
OWNER_FILE = "owner-pid"


class KindClusterError(RuntimeError):
    """The kind cluster could not be brought up."""


def _log(msg: str) -> None:
    print(f"[kind] {msg}", file=sys.stderr, flush=True)


def lab_command() -> list[str]:
    """Return the `lab` console script installed beside this interpreter."""
    script = Path(sys.executable).parent / "lab"
    if not script.exists():
        raise KindClusterError(f"no `lab` console script beside {sys.executable} (pip install -e .)")
    return [str(script)]


def kind_env(network: str, state_dir: Path) -> dict[str, str]:
    """Return the environment `lab` runs kind in: the shim and kind first on PATH, its own network."""
    real = shutil.which("docker")
    if real is None:
        raise KindClusterError("docker is not installed")
    first = [str(SHIM_DIR), str(component("kind").bin_dir), str(Path(sys.executable).parent)]
    rest = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p not in first]
    return {
        **os.environ,
        "PATH": os.pathsep.join(first + rest),
        "BREAKFIX_REAL_DOCKER": real,
        "KIND_EXPERIMENTAL_DOCKER_NETWORK": network,
        "BREAKFIX_STATE_DIR": str(state_dir),
        "KUBECONFIG": str(state_dir / "user-kubeconfig"),  # `lab cluster up` adds its context here, not to ~/.kube
    }


@dataclass
class KindCluster:
    """A kind cluster registered in its own breakfix state folder."""

    name: str
    network: str
    state_dir: Path
    up_output: str = ""

    @property
    def env(self) -> dict[str, str]:
        """The environment to run `lab` (and kind) for this cluster."""
        return kind_env(self.network, self.state_dir)

    def lab(self, *args: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
        """Run `lab ARGS` against this cluster; stdout and stderr are captured."""
        return subprocess.run(
            [*lab_command(), *args], env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )

    @property
    def inventory(self) -> Path:
        """The inventory the kind provider wrote."""
        return self.state_dir / "clusters" / self.name / "inventory.yaml"

    def containers(self) -> list[str]:
        """Return the cluster's node containers."""
        return dockercli.lines(
            "ps", "-a", "--filter", f"label=io.x-k8s.kind.cluster={self.name}", "--format", "{{.ID}}"
        )

    def stop(self) -> None:
        """`lab cluster down`, then remove whatever is left (containers, network, their cgroups)."""
        # full ids, taken before `lab cluster down` removes the containers: their cgroups are found by them
        ids = [c["Id"] for c in dockercli.inspect("container", self.containers(), missing_ok=True)]
        if self.inventory.exists():  # still registered (a test may have taken it down already)
            down = self.lab("cluster", "down", "--name", self.name, timeout=300)
            if down.returncode != 0:
                _log(f"lab cluster down failed ({down.returncode}): {down.stderr.strip()[-500:]}")
        remove(self.name, self.network, ids)
        shutil.rmtree(self.state_dir, ignore_errors=True)


def container_ids(name: str) -> list[str]:
    """Return the ids of a kind cluster's node containers (running or not)."""
    return dockercli.lines("ps", "-a", "--filter", f"label=io.x-k8s.kind.cluster={name}", "--format", "{{.ID}}")


def remove(name: str, network: str, ids: list[str] | None = None) -> None:
    """Remove a cluster's containers, its network and the empty cgroups its pods left on the host."""
    ids = container_ids(name) if ids is None else ids
    found = [c["Id"] for c in dockercli.inspect("container", ids, missing_ok=True)]
    full = sorted(set(found) | {i for i in ids if len(i) == 64})  # full ids of containers already gone count too
    if ids:
        dockercli.docker("rm", "-f", "-v", *ids, check=False)
    testbed_network.remove(network)
    for container_id in full:
        remove_cgroups(container_id)


def remove_cgroups(container_id: str) -> None:
    """Remove the cgroups a node container's pods left under docker's (kind nests them in the node's)."""
    for hierarchy in Path("/sys/fs/cgroup").glob("*"):
        top = hierarchy / "docker" / container_id
        if hierarchy.is_symlink() or not top.is_dir():
            continue
        for sub in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
            with contextlib.suppress(OSError):
                sub.rmdir()
        with contextlib.suppress(OSError):
            top.rmdir()


def remove_stale() -> None:
    """Remove test clusters and networks whose owning process is gone (an interrupted earlier run)."""
    labels = dockercli.lines("ps", "-a", "--format", '{{.Label "io.x-k8s.kind.cluster"}}')
    labels += dockercli.lines("network", "ls", "--format", '{{.Label "breakfix.testbed.kind"}}')
    for name in sorted({line.strip() for line in labels if line.startswith(NAME_PREFIX)}):
        pid = name.rsplit("-", 1)[-1]
        if pid.isdigit() and Path(f"/proc/{pid}").exists():
            continue
        _log(f"removing stale kind cluster {name}")
        remove(name, f"{name}-net")
    testbed_network.remove_orphan_guards()


def start_kind_cluster(image: str, state_dir: Path, workers: int = 1) -> KindCluster:
    """Create a cluster with `lab cluster up --provider kind --image IMAGE`; tear it down on failure."""
    name = f"{NAME_PREFIX}{uuid.uuid4().hex[:6]}-{os.getpid()}"
    cluster = KindCluster(name, f"{name}-net", state_dir)
    started = time.monotonic()
    try:
        testbed_network.create(cluster.network, {"breakfix.testbed.kind": name})
        up = cluster.lab(
            "cluster", "up", "--provider", "kind", "--name", name, "--workers", str(workers), "--image", image
        )
        cluster.up_output = up.stdout + up.stderr
        if up.returncode != 0:
            raise KindClusterError(f"lab cluster up exited {up.returncode}:\n{cluster.up_output[-6000:]}")
    except BaseException:
        if os.environ.get("BREAKFIX_TESTBED_KEEP_FAILED") != "1":
            cluster.stop()
        raise
    _log(f"{name} up in {time.monotonic() - started:.0f}s")
    return cluster
