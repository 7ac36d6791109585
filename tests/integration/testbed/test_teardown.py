"""Proof that tear-down leaves nothing behind, and that stale runs are found and removed."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.testbed import cleanup, dockercli
from tests.testbed.nodes import start_nodes
from tests.testbed.paths import LABEL

pytestmark = pytest.mark.testbed


def test_teardown_leaves_nothing(testbed_docker: None) -> None:
    """A run's containers, volumes, network and folder all disappear on tear-down."""
    run = start_nodes(count_workers=0)
    found = cleanup.leftovers(run.run_id)
    assert (len(found.containers), len(found.volumes), len(found.networks)) == (1, 1, 1)
    assert run.directory.is_dir()
    left = run.teardown()
    assert left.empty(), left
    assert not run.directory.exists()
    for kind in (["ps", "-a", "-q"], ["volume", "ls", "-q"], ["network", "ls", "-q"]):
        assert dockercli.lines(*kind, "--filter", f"label={LABEL}={run.run_id}") == []


def test_stale_runs_are_removed(testbed_docker: None) -> None:
    """Objects of a run whose owner process is gone count as stale and are removed."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    run_id = "bfstale" + str(dead.pid)
    labels = cleanup.owner_labels(run_id, keep=False) | {cleanup.OWNER_PID: str(dead.pid)}
    args = [a for k, v in labels.items() for a in ("--label", f"{k}={v}")]
    dockercli.docker("volume", "create", *args, f"{run_id}-var")
    dockercli.docker("network", "create", *args, f"{run_id}-net")
    assert run_id in cleanup.stale_runs()
    assert run_id in cleanup.remove_stale()
    assert cleanup.leftovers(run_id).empty()


def test_listing_runs_survives_objects_removed_meanwhile(testbed_docker: None) -> None:
    """A parallel run removes its objects between `ls` and `inspect`: they are skipped, other errors still raise."""
    name = f"bfgone{os.getpid()}"
    dockercli.docker("volume", "create", "--label", f"{LABEL}={name}", name)
    dockercli.docker("volume", "rm", name)
    assert dockercli.inspect("volume", [name], missing_ok=True) == []
    with pytest.raises(dockercli.DockerError):
        dockercli.inspect("volume", [name])
    with pytest.raises(dockercli.DockerError):
        dockercli.inspect("no-such-kind", [name], missing_ok=True)
