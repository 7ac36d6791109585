"""The node handle that breakers and graders use (modelled on testinfra's host)."""

from __future__ import annotations

import shlex
import threading

from breakfix.errors import NodeError
from breakfix.transport.base import CommandResult, FileStat, Transport


class Node:
    """A cluster node: run commands with quoted arguments, read and write files."""

    def __init__(self, name: str, role: str, transport: Transport, ip: str | None = None) -> None:
        self.name = name
        self.role = role
        self.ip = ip
        self.transport = transport
        self._lock = threading.Lock()  # one connection, one command at a time

    def __repr__(self) -> str:
        return f"Node({self.name!r}, role={self.role!r}, via={self.transport.description})"

    def run(self, command: str, *args: object, timeout: float | None = 120) -> CommandResult:
        """Run COMMAND with %s placeholders filled by shell-quoted ARGS."""
        line = command % tuple(shlex.quote(str(a)) for a in args) if args else command
        with self._lock:
            return self.transport.run(line, timeout=timeout)

    def check(self, command: str, *args: object, timeout: float | None = 120) -> str:
        """Run a command that must succeed; return its stdout."""
        result = self.run(command, *args, timeout=timeout)
        if not result.ok:
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise NodeError(
                f"{self.name}: `{command % args if args else command}` exited {result.rc}: "
                f"{detail[-1] if detail else ''}"
            )
        return result.stdout

    def read(self, path: str) -> bytes | None:
        """A file's bytes, or None when it does not exist."""
        with self._lock:
            return self.transport.read_bytes(path)

    def read_text(self, path: str) -> str:
        """A text file that must exist."""
        data = self.read(path)
        if data is None:
            raise NodeError(f"{self.name}: {path} does not exist")
        try:
            return data.decode()
        except UnicodeDecodeError as exc:
            raise NodeError(f"{self.name}: {path} is not UTF-8 text (byte {exc.start})") from None

    def write(self, path: str, data: bytes | str, stat: FileStat | None = None) -> None:
        """Replace a file atomically; keeps mode and owner of the old file unless STAT is given."""
        raw = data.encode() if isinstance(data, str) else data
        with self._lock:
            self.transport.write_bytes(path, raw, stat)

    def stat(self, path: str) -> FileStat | None:
        """Mode and owner of a file, or None."""
        with self._lock:
            return self.transport.stat(path)

    def exists(self, path: str) -> bool:
        """True when the path exists on the node."""
        return self.run("test -e %s", path, timeout=30).ok

    def remove(self, path: str) -> None:
        """Delete a file if it is there."""
        self.check("rm -f -- %s", path, timeout=30)

    def close(self) -> None:
        """Close the node's connection."""
        self.transport.close()
