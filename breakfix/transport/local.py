"""Commands on this machine (for local clusters and tests)."""

from __future__ import annotations

import subprocess

from breakfix.transport.shell import ShellTransport


class LocalTransport(ShellTransport):
    """Runs commands with /bin/sh on this machine."""

    def __init__(self, become: bool = False) -> None:
        self.description = "local"
        self.become = become

    def _exec(self, line: str, stdin: bytes | None, timeout: float | None) -> tuple[int, bytes, bytes]:
        try:
            proc = subprocess.run(["/bin/sh", "-c", line], input=stdin or b"", capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            return 124, exc.stdout or b"", (exc.stderr or b"") + b"\ntimed out"
        return proc.returncode, proc.stdout, proc.stderr
