"""Commands over SSH with paramiko; host keys are checked against a known_hosts file."""

from __future__ import annotations

import logging
import os
import select
import sys
import threading
import time
from typing import TYPE_CHECKING

from breakfix.errors import NodeError
from breakfix.transport.shell import OutputTooLarge, ShellTransport

if TYPE_CHECKING:
    import paramiko

#: The nodes already warned about in this process: a host key not checked is said once per node, on stderr.
_UNCHECKED_WARNED: set[str] = set()


class SSHTransport(ShellTransport):
    """One paramiko connection to a node, opened on first use and reused."""

    def __init__(
        self,
        host: str,
        port: int = 22,
        user: str = "root",
        key_file: str | None = None,
        known_hosts: str | None = None,
        check_host_key: bool = True,
        connect_timeout: float = 10.0,
    ) -> None:
        self.host, self.port, self.user = host, port, user
        self.key_file = key_file
        self.known_hosts = known_hosts
        self.check_host_key = check_host_key
        self.connect_timeout = connect_timeout
        self.become = user != "root"
        self.description = f"ssh://{user}@{host}:{port}"
        self._client: paramiko.SSHClient | None = None

    def _connect(self) -> paramiko.SSHClient:
        if self._client is not None and self._alive(self._client):
            return self._client
        import paramiko  # imported here: the CLI starts without it

        # paramiko's transport thread logs a failed handshake as a traceback on stderr: the error below says it
        logging.getLogger("paramiko.transport").setLevel(logging.CRITICAL)
        client = paramiko.SSHClient()
        if self.check_host_key:
            if self.known_hosts:
                if not os.path.exists(self.known_hosts):
                    raise NodeError(f"{self.description}: known_hosts file {self.known_hosts} does not exist")
                client.load_host_keys(self.known_hosts)
            else:
                client.load_system_host_keys()
            client.set_missing_host_key_policy(paramiko.RejectPolicy())
        else:
            client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        try:
            client.connect(
                self.host,
                port=self.port,
                username=self.user,
                key_filename=self.key_file,
                timeout=self.connect_timeout,
                banner_timeout=self.connect_timeout,
                auth_timeout=self.connect_timeout,
                allow_agent=self.key_file is None,
                look_for_keys=self.key_file is None,
            )
        except paramiko.BadHostKeyException:
            client.close()
            raise NodeError(
                f"{self.description}: the host key does not match {self.known_hosts or 'known_hosts'} "
                "(the node was rebuilt, or someone is in between); refusing to connect"
            ) from None
        except paramiko.SSHException as exc:
            client.close()
            if "not found in known_hosts" in str(exc):
                raise NodeError(
                    f"{self.description}: host key not in {self.known_hosts or 'known_hosts'}; "
                    "refusing to connect (add it with ssh-keyscan after checking it)"
                ) from exc
            if "banner" in str(exc) or "No existing session" in str(exc):
                raise NodeError(
                    f"{self.description}: the port answers but no SSH server greeted within "
                    f"{self.connect_timeout:g}s (is sshd running there, and is this its port?)"
                ) from exc
            raise NodeError(f"{self.description}: SSH failed: {exc}") from exc
        except (TimeoutError, OSError) as exc:
            client.close()
            raise NodeError(f"{self.description}: cannot connect: {exc}") from exc
        if not self.check_host_key and self.description not in _UNCHECKED_WARNED:
            _UNCHECKED_WARNED.add(self.description)
            transport = client.get_transport()
            key = transport.get_remote_server_key() if transport else None
            seen = f"; it presented {key.get_name()} {key.fingerprint}" if key else ""
            print(
                f"warning: {self.description}: host key not checked (breakfix_check_host_key: false){seen}",
                file=sys.stderr,
            )
        self._client = client
        return client

    @staticmethod
    def _alive(client: paramiko.SSHClient) -> bool:
        transport = client.get_transport()
        return transport is not None and transport.is_active()

    def _start(self, line: str, stdin: bytes | None, timeout: float | None) -> paramiko.Channel:
        """A channel running LINE, its input sent; on a connection that died since its last use (the server
        dropped it), the command is started once more on a new one: it never ran on the dead one."""
        for attempt in (1, 2):
            client = self._connect()
            transport = client.get_transport()
            assert transport is not None
            started = False
            try:
                channel = transport.open_session(timeout=self.connect_timeout)
                # paramiko waits for the server's answer to exec without a deadline: close the channel if it stalls
                guard = threading.Timer(self.connect_timeout, channel.close)
                guard.daemon = True
                guard.start()
                try:
                    channel.exec_command(line)
                    started = True
                finally:
                    guard.cancel()
                channel.settimeout(timeout if timeout is not None else self.connect_timeout * 6)
                if stdin:
                    channel.sendall(stdin)
                channel.shutdown_write()
                return channel
            except Exception as exc:
                self.close()  # a stalled or broken connection is not reused
                dropped = isinstance(exc, (OSError, EOFError)) and not started
                if dropped and attempt == 1:
                    continue
                reason = str(exc) or type(exc).__name__
                raise NodeError(f"{self.description}: cannot run a command: {reason}") from None
        raise AssertionError("unreachable")

    def _exec(self, line: str, stdin: bytes | None, timeout: float | None) -> tuple[int, bytes, bytes]:
        channel = self._start(line, stdin, timeout)
        out, err = bytearray(), bytearray()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if len(out) + len(err) > self.max_output:
                channel.close()
                raise OutputTooLarge(self.max_output)
            if channel.recv_ready():
                out += channel.recv(65536)
                continue
            if channel.recv_stderr_ready():
                err += channel.recv_stderr(65536)
                continue
            # EOF comes after all of both streams; the exit status may arrive before the last bytes
            if (
                (channel.eof_received or channel.closed)
                and not channel.recv_ready()
                and not channel.recv_stderr_ready()
            ):
                break
            if deadline is not None and time.monotonic() > deadline:
                channel.close()
                return 124, bytes(out), bytes(err) + b"\ntimed out"
            select.select([channel], [], [], 0.2)
        # drain what arrived with the exit status
        while channel.recv_ready() and len(out) + len(err) <= self.max_output:
            out += channel.recv(65536)
        while channel.recv_stderr_ready() and len(out) + len(err) <= self.max_output:
            err += channel.recv_stderr(65536)
        if len(out) + len(err) > self.max_output:
            channel.close()
            raise OutputTooLarge(self.max_output)
        rc = channel.recv_exit_status()
        channel.close()
        return rc, bytes(out), bytes(err)

    def close(self) -> None:
        """Close the SSH connection."""
        if self._client is not None:
            self._client.close()
            self._client = None
