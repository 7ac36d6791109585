"""The small interface every transport implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class CommandResult:
    """What a command on a node returned."""

    rc: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        """True when the command exited 0."""
        return self.rc == 0


@dataclass(frozen=True)
class FileStat:
    """Mode and owner of a file on a node."""

    mode: int
    uid: int
    gid: int


class Transport(Protocol):
    """Runs shell commands and moves bytes to and from one node."""

    description: str

    def run(self, command: str, timeout: float | None = None, stdin: bytes | None = None) -> CommandResult:
        """Run a shell command line and wait for it."""
        ...

    def read_bytes(self, path: str) -> bytes | None:
        """Return a file's content, or None if it does not exist."""
        ...

    def write_bytes(self, path: str, data: bytes, stat: FileStat | None) -> None:
        """Replace a file atomically; keep or set its mode and owner."""
        ...

    def stat(self, path: str) -> FileStat | None:
        """Return a file's mode and owner, or None if it does not exist."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...
