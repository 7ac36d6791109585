"""Load the test bed fixtures (a top-level conftest could use pytest_plugins instead)."""

from tests.testbed.fixtures import (  # noqa: F401 - fixtures are found by name
    testbed_docker,
    testbed_inventory,
    testbed_run,
    testbed_ssh,
)
