"""Pytest fixture `kind_cluster`: one real kind cluster (control plane + 1 worker) for the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.testbed.fixtures import KEEP_ENV, _truthy, require_docker, unavailable
from tests.testbed.kind.cluster import KindCluster, remove_stale, start_kind_cluster
from tests.testbed.kind.node_image import ensure_node_image
from tests.testbed.kubeadm.fixtures import missing_prerequisites


def require_kind_testbed() -> None:
    """Skip when docker or a built part is missing; fail instead when BREAKFIX_REQUIRE_TESTBED is set."""
    require_docker()
    from tests.testbed.artifacts import missing

    absent = missing(("kind",))
    reason = missing_prerequisites() or (
        f"kind is not built (python -m tests.testbed.artifacts {' '.join(absent)})" if absent else None
    )
    if reason is not None:
        unavailable("the kind test bed", reason)


@pytest.fixture(scope="session")
def kind_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KindCluster]:
    """Create a kind cluster through `lab cluster up --provider kind` for the session; delete it after."""
    require_kind_testbed()
    remove_stale()
    cluster = start_kind_cluster(ensure_node_image(), tmp_path_factory.mktemp("kind-state"), workers=1)
    try:
        yield cluster
    finally:
        if _truthy(KEEP_ENV):
            print(f"\n[kind] kept cluster {cluster.name}: {cluster.inventory}")
        else:
            cluster.stop()
