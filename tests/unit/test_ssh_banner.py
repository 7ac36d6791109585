"""A port that accepts TCP and never greets: one clear line, no paramiko traceback, no "No existing session"."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from breakfix.errors import NodeError
from breakfix.transport.ssh import SSHTransport


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A real listening socket on 127.0.0.1 that accepts connections and never sends a byte."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    held: list[socket.socket] = []

    def accept() -> None:
        try:
            while True:
                held.append(server.accept()[0])
        except OSError:
            pass

    threading.Thread(target=accept, daemon=True).start()
    yield server.getsockname()[1]
    server.close()
    for conn in held:
        conn.close()


def test_a_port_without_an_ssh_server_is_one_line_and_no_traceback(
    silent_port: int, capfd: pytest.CaptureFixture[str]
) -> None:
    transport = SSHTransport("127.0.0.1", silent_port, check_host_key=False, connect_timeout=1)
    with pytest.raises(NodeError) as caught:
        transport.run("true")
    message = str(caught.value)
    assert message == (
        f"ssh://root@127.0.0.1:{silent_port}: the port answers but no SSH server greeted within 1s "
        "(is sshd running there, and is this its port?)"
    ), message
    err = capfd.readouterr().err
    assert "Traceback" not in err and "SSHException" not in err, err
