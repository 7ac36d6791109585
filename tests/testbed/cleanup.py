"""Remove what a run made, found by its `breakfix.testbed=<runid>` label; also stale runs."""

from __future__ import annotations

import os
import shutil
import socket
import time
from dataclasses import dataclass

from tests.testbed import dockercli, network
from tests.testbed.paths import LABEL, run_dir

OWNER_PID = f"{LABEL}.pid"
OWNER_HOST = f"{LABEL}.host"
KEEP = f"{LABEL}.keep"
CREATED = f"{LABEL}.created"
STALE_AFTER_S = float(os.environ.get("BREAKFIX_TESTBED_STALE_HOURS", "12")) * 3600


def owner_labels(run_id: str, keep: bool) -> dict[str, str]:
    """Return the labels put on every container, volume and network of a run."""
    return {
        LABEL: run_id,
        OWNER_PID: str(os.getpid()),
        OWNER_HOST: socket.gethostname(),
        KEEP: "1" if keep else "0",
        CREATED: str(int(time.time())),
    }


@dataclass(frozen=True)
class Leftovers:
    """Docker objects carrying one run's label."""

    containers: list[str]
    volumes: list[str]
    networks: list[str]

    def empty(self) -> bool:
        """Tell whether nothing is left."""
        return not (self.containers or self.volumes or self.networks)


_LS = {
    "container": ("ps", "-a", "-q", "--no-trunc"),
    "volume": ("volume", "ls", "-q"),
    "network": ("network", "ls", "-q", "--no-trunc"),
}


def _ls(kind: str, label: str) -> list[str]:
    return dockercli.lines(*_LS[kind], "--filter", f"label={label}")


def leftovers(run_id: str) -> Leftovers:
    """List the containers, volumes and networks labelled with RUN_ID."""
    label = f"{LABEL}={run_id}"
    return Leftovers(_ls("container", label), _ls("volume", label), _ls("network", label))


def remove_run(run_id: str) -> Leftovers:
    """Remove every container, volume and network of a run, and its run folder; return what is left."""
    found = leftovers(run_id)
    if found.containers:
        dockercli.docker("rm", "-f", "-v", *found.containers, check=False)
    if found.networks:
        names = [info["Name"] for info in dockercli.inspect("network", found.networks)]
        network.remove(*names)
    if found.volumes:
        dockercli.docker("volume", "rm", "-f", *found.volumes, check=False)
    shutil.rmtree(run_dir(run_id), ignore_errors=True)
    return leftovers(run_id)


def _labels_of_all() -> dict[str, dict[str, str]]:
    """Map each labelled run id to the owner labels found on any of its objects."""
    runs: dict[str, dict[str, str]] = {}
    for kind in ("container", "volume", "network"):
        ids = _ls(kind, LABEL)
        for info in dockercli.inspect(kind, ids, missing_ok=True):  # parallel runs remove theirs meanwhile
            labels = (info.get("Config") or {}).get("Labels") if kind == "container" else info.get("Labels")
            labels = labels or {}
            if LABEL in labels:
                runs.setdefault(labels[LABEL], {}).update(labels)
    return runs


def all_runs() -> list[str]:
    """Return the ids of every run with objects in docker."""
    return sorted(_labels_of_all())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stale_runs() -> list[str]:
    """Return runs not marked keep whose owner process on this host is gone, or that are too old.

    A run made on another host (a CI job sharing the docker daemon) is only stale once older than
    BREAKFIX_TESTBED_STALE_HOURS (12 by default): its owner cannot be checked from here.
    """
    stale = []
    now = time.time()
    for run_id, labels in _labels_of_all().items():
        if labels.get(KEEP) == "1":
            continue
        pid = int(labels.get(OWNER_PID, "0") or 0)
        created = float(labels.get(CREATED, "0") or 0)
        same_host = labels.get(OWNER_HOST) == socket.gethostname()
        owner_gone = same_host and not (pid and _alive(pid))
        if owner_gone or now - created > STALE_AFTER_S:
            stale.append(run_id)
    return sorted(stale)


def remove_stale() -> list[str]:
    """Remove stale runs and return their ids."""
    gone = stale_runs()
    for run_id in gone:
        remove_run(run_id)
    network.remove_orphan_guards()
    return gone
