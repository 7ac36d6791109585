"""Integration fixtures: a real sshd on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.sshd import Sshd, start_sshd
from tests.testbed.fixtures import unavailable


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    """A real OpenSSH server for the whole session."""
    try:
        server = start_sshd(tmp_path_factory.mktemp("sshd"))
    except FileNotFoundError as exc:
        unavailable("a local OpenSSH server", str(exc))
    yield server
    server.stop()
