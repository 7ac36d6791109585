"""An SSH connection the server dropped since its last use: the command starts once more on a new one."""

from __future__ import annotations

from typing import Any

import pytest

from breakfix.errors import NodeError
from breakfix.transport.ssh import SSHTransport


class Channel:
    """A channel whose command printed OUT and exited 0; nothing else may be asked of it."""

    def __init__(self, out: bytes) -> None:
        self.out, self.eof_received, self.closed, self.ran = out, False, False, ""

    def exec_command(self, line: str) -> None:
        self.ran = line

    def settimeout(self, _seconds: float) -> None:
        pass

    def shutdown_write(self) -> None:
        pass

    def recv_ready(self) -> bool:
        return bool(self.out)

    def recv(self, _size: int) -> bytes:
        out, self.out, self.eof_received = self.out, b"", True
        return out

    def recv_stderr_ready(self) -> bool:
        return False

    def recv_exit_status(self) -> int:
        return 0

    def close(self) -> None:
        self.closed = True


class Client:
    """A connection whose next session opens CHANNEL, or fails with FAILURE (the server dropped it)."""

    def __init__(self, channel: Channel | None = None, failure: Exception | None = None) -> None:
        self.channel, self.failure, self.closed = channel, failure, False

    def get_transport(self) -> Client:
        return self

    def open_session(self, timeout: float) -> Channel:
        if self.failure is not None:
            raise self.failure
        assert self.channel is not None
        return self.channel

    def close(self) -> None:
        self.closed = True


def transport_with(clients: list[Client], monkeypatch: pytest.MonkeyPatch) -> SSHTransport:
    t = SSHTransport("127.0.0.1", 2222, check_host_key=False)
    given = iter(clients)

    def connect() -> Any:
        t._client = next(given)  # type: ignore[assignment]  # a new connection each time; none beyond the list
        return t._client

    monkeypatch.setattr(t, "_connect", connect)
    return t


def test_a_dropped_connection_is_replaced_and_the_command_runs_once(monkeypatch: pytest.MonkeyPatch) -> None:
    dead, fresh = Client(failure=BrokenPipeError(32, "Broken pipe")), Client(Channel(b"still fine\n"))
    t = transport_with([dead, fresh], monkeypatch)
    assert t.run("echo still fine").stdout == "still fine\n"
    assert dead.closed and fresh.channel is not None and fresh.channel.ran.endswith("echo still fine")


def test_a_second_failure_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    failing = [Client(failure=BrokenPipeError(32, "Broken pipe")), Client(failure=EOFError())]
    t = transport_with(failing, monkeypatch)
    with pytest.raises(NodeError, match=r"^ssh://root@127.0.0.1:2222: cannot run a command: EOFError$"):
        t.run("true")


def test_a_refusal_by_the_server_is_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only a dead connection is replaced: a server that answers with an error is not asked twice."""
    import paramiko

    t = transport_with([Client(failure=paramiko.SSHException("administratively prohibited"))], monkeypatch)
    with pytest.raises(NodeError, match="administratively prohibited"):
        t.run("true")
