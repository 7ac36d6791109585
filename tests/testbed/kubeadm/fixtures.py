"""Pytest fixture `kubeadm_cluster`: one real kubeadm cluster (cp1 + w1) for the session."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Iterator

import pytest

from tests.testbed import cleanup
from tests.testbed.fixtures import KEEP_ENV, _truthy, require_docker, unavailable
from tests.testbed.kubeadm.cluster import KubeadmCluster, ansible_path, bring_up
from tests.testbed.kubeadm.images import artifacts_ready, busybox_cached


def missing_prerequisites() -> str | None:
    """Return why the kubeadm test bed cannot start here, or None."""
    absent = artifacts_ready()
    if absent:
        return f"binaries not built: {', '.join(absent)} (python -m tests.testbed.artifacts {' '.join(absent)})"
    if importlib.util.find_spec("ansible_runner") is None:
        return "ansible-runner is not installed"
    if shutil.which("ansible-playbook", path=ansible_path()) is None:
        return "ansible-core (ansible-playbook) is not installed"
    if not busybox_cached() and shutil.which("apt-get") is None:
        return "busybox is not cached and apt-get cannot download it"
    return None


def require_kubeadm_testbed() -> None:
    """Skip when docker or a prerequisite is missing; fail instead when BREAKFIX_REQUIRE_TESTBED is set."""
    require_docker()
    reason = missing_prerequisites()
    if reason is None:
        return
    unavailable("the kubeadm test bed", reason)


@pytest.fixture(scope="session")
def kubeadm_cluster() -> Iterator[KubeadmCluster]:
    """Start cp1 + w1 with kubeadm, containerd and the bridge CNI for the session; tear down at the end."""
    require_kubeadm_testbed()
    cleanup.remove_stale()
    cluster = bring_up(workers=1)  # a failed bring-up says why, then is tried once more on fresh nodes
    try:
        yield cluster
    finally:
        if _truthy(KEEP_ENV):
            print(f"\n[kubeadm] kept run {cluster.run.run_id}: {cluster.inventory}")
        else:
            cluster.stop()
