"""What a provider offers: create, delete and describe lab clusters."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, runtime_checkable

from breakfix.errors import ClusterError
from breakfix.paths import state_dir

Log = Callable[[str], None]

INSTALL_HINTS = {
    "docker": "apt-get install docker.io (or Docker Desktop), and start the daemon",
    "kind": "go install sigs.k8s.io/kind@v0.30.0 (then add $(go env GOPATH)/bin to PATH)",
    "kubectl": "see https://kubernetes.io/docs/tasks/tools/ (any version within one minor of the cluster)",
    "vagrant": "apt-get install vagrant (plus VirtualBox or vagrant-libvirt)",
    "ansible-playbook": "pip install ansible-core (breakfix's dependencies include it)",
}


class Provider(Protocol):
    """Creates and deletes lab clusters of one kind."""

    name: str
    capabilities: frozenset[str]

    def missing_tools(self) -> list[str]:
        """One line per missing tool, with how to install it."""
        ...

    def up(self, name: str, workers: int, log: Log, image: str | None = None) -> Path:
        """Create a cluster (IMAGE: the node image, where the provider has one); returns its inventory."""
        ...

    def down(self, name: str, log: Log) -> None:
        """Delete a cluster this provider created."""
        ...


#: The snapshot `lab cluster up` takes of a fresh cluster, and what `lab reset --snapshot` restores.
CLEAN_SNAPSHOT = "breakfix-clean"


@runtime_checkable
class Snapshots(Protocol):
    """A provider whose clusters can be saved and restored whole (a fast reset between labs)."""

    def snapshot_save(self, name: str, label: str, log: Log) -> None:
        """Save every node of cluster NAME as snapshot LABEL (replacing one of that name)."""
        ...

    def snapshot_restore(self, name: str, label: str, log: Log) -> None:
        """Put every node of cluster NAME back to snapshot LABEL."""
        ...

    def snapshot_list(self, name: str) -> list[str]:
        """The snapshots every node of cluster NAME has."""
        ...


@runtime_checkable
class Pausable(Protocol):
    """A provider whose clusters can be stopped to free the machine and started again as they were."""

    def stop(self, name: str, log: Log) -> None:
        """Stop every node of cluster NAME (its disks, and so the cluster's state, are kept)."""
        ...

    def start(self, name: str, log: Log) -> Path:
        """Start every node of cluster NAME again; returns its inventory, rewritten where node addresses moved."""
        ...


def cluster_dir(name: str) -> Path:
    """Where breakfix keeps a created cluster's inventory, kubeconfig and keys."""
    return state_dir() / "clusters" / name


def missing(tools: list[str], path: str | None = None) -> list[str]:
    """Lines for the tools that are not on PATH (or on PATH given)."""
    return [
        f"{tool}: not found; install: {INSTALL_HINTS.get(tool, 'see its documentation')}"
        for tool in tools
        if shutil.which(tool, path=path) is None
    ]


def stream(argv: list[str], log: Log, what: str, timeout: float = 1800, env: dict[str, str] | None = None) -> None:
    """Run a long command, passing its output lines on as progress; fail with its last lines."""
    log(f"{what}: {' '.join(argv)}")
    start = time.monotonic()
    tail: list[str] = []
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip()
            if line:
                tail = [*tail, line][-15:]
                log(f"  [{time.monotonic() - start:4.0f}s] {line}")
            if time.monotonic() - start > timeout:
                proc.kill()
                raise ClusterError(f"{what} took more than {timeout:.0f}s")
    if proc.returncode != 0:
        raise ClusterError(f"{what} failed (exit {proc.returncode}): " + " | ".join(tail[-3:]))
