"""Load the process cluster fixtures (a top-level conftest could use pytest_plugins instead)."""

from tests.testbed.proc_cluster import (  # noqa: F401 - fixtures are found by name
    proc_cluster,
    proc_cluster_factory,
)
