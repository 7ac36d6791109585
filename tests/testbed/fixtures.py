"""Pytest fixtures for the test bed; load with `pytest_plugins = ["tests.testbed.fixtures"]`."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import paramiko
import pytest

from tests.testbed import cleanup, dockercli
from tests.testbed.nodes import Run, start_nodes
from tests.testbed.sshclient import connect

REQUIRE_ENV = "BREAKFIX_REQUIRE_TESTBED"
KEEP_ENV = "BREAKFIX_TESTBED_KEEP"


def _truthy(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


def unavailable(what: str, reason: str) -> None:
    """Skip because WHAT is missing, or fail when BREAKFIX_REQUIRE_TESTBED says it must be there."""
    if _truthy(REQUIRE_ENV):
        pytest.fail(f"{what} is required ({REQUIRE_ENV} is set) but {reason}", pytrace=False)
    pytest.skip(f"{what} unavailable: {reason} (set {REQUIRE_ENV}=1 to make this an error)")


def require_docker() -> None:
    """Skip when docker is absent, unless BREAKFIX_REQUIRE_TESTBED is set: then fail."""
    reason = dockercli.available()
    if reason is None:
        return
    unavailable("the test bed", reason)


@pytest.fixture(scope="session")
def testbed_docker() -> None:
    """Ensure a docker daemon answers (skip or fail as require_docker says)."""
    require_docker()


@pytest.fixture(scope="session")
def testbed_run(testbed_docker: None) -> Iterator[Run]:
    """Start one control plane (cp1) and one worker (w1) for the session; tear down at the end."""
    cleanup.remove_stale()
    run = start_nodes(count_workers=1)
    try:
        yield run
    finally:
        if _truthy(KEEP_ENV):
            print(f"\n[testbed] kept run {run.run_id}: {run.inventory_path}")
        else:
            run.teardown()


@pytest.fixture(scope="session")
def testbed_inventory(testbed_run: Run) -> Path:
    """Return the path of the session run's Ansible inventory."""
    return testbed_run.inventory_path


@pytest.fixture
def testbed_ssh(testbed_run: Run) -> Iterator[Callable[[str], paramiko.SSHClient]]:
    """Return a factory of paramiko clients (host keys checked) by node name, closed after the test."""
    clients: list[paramiko.SSHClient] = []

    def open_client(name: str) -> paramiko.SSHClient:
        node = testbed_run.node(name)
        client = connect(node.ssh_port, testbed_run.key_path, testbed_run.known_hosts_path)
        clients.append(client)
        return client

    yield open_client
    for client in clients:
        client.close()
