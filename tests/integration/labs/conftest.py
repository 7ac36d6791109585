"""Lab tests on real clusters: the process control plane (API-level labs)."""

from tests.testbed.proc_cluster import (  # noqa: F401 - fixtures are found by name
    proc_cluster,
    proc_cluster_factory,
)
