"""Commands on this machine (for local clusters and tests)."""

from __future__ import annotations

from breakfix.transport.shell import ShellTransport, run_capped


class LocalTransport(ShellTransport):
    """Runs commands with /bin/sh on this machine."""

    def __init__(self, become: bool = False) -> None:
        self.description = "local"
        self.become = become

    def _exec(self, line: str, stdin: bytes | None, timeout: float | None) -> tuple[int, bytes, bytes]:
        return run_capped(["/bin/sh", "-c", line], stdin, timeout, self.max_output)
