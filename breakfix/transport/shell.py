"""File operations built on running shell commands, shared by every transport."""

from __future__ import annotations

import shlex
import uuid
from abc import ABC, abstractmethod

from breakfix.errors import NodeError
from breakfix.transport.base import CommandResult, FileStat


class ShellTransport(ABC):
    """A transport that can execute a shell line with stdin; files are handled with cat/stat/mv."""

    description: str = "node"
    become: bool = False

    @abstractmethod
    def _exec(self, line: str, stdin: bytes | None, timeout: float | None) -> tuple[int, bytes, bytes]:
        """Execute a shell line; return (rc, stdout, stderr)."""

    def close(self) -> None:  # noqa: B027 - a no-op default that SSH overrides
        """Release the connection (nothing to do by default)."""

    def _wrap(self, command: str) -> str:
        return f"sudo -n sh -c {shlex.quote(command)}" if self.become else command

    def run(self, command: str, timeout: float | None = None, stdin: bytes | None = None) -> CommandResult:
        """Run a shell command line and wait for it."""
        rc, out, err = self._exec(self._wrap(command), stdin, timeout)
        return CommandResult(rc, out.decode(errors="replace"), err.decode(errors="replace"))

    def read_bytes(self, path: str) -> bytes | None:
        """Return a file's content, or None if it does not exist."""
        q = shlex.quote(path)
        rc, out, err = self._exec(self._wrap(f"if [ -e {q} ]; then cat -- {q}; else exit 66; fi"), None, 60)
        if rc == 66:
            return None
        if rc != 0:
            raise NodeError(f"{self.description}: cannot read {path}: {err.decode(errors='replace').strip()}")
        return out

    def stat(self, path: str) -> FileStat | None:
        """Return a file's mode and owner, or None if it does not exist."""
        result = self.run(f"stat -c '%a %u %g' -- {shlex.quote(path)}", timeout=30)
        if not result.ok:
            return None
        mode, uid, gid = result.stdout.split()
        return FileStat(mode=int(mode, 8), uid=int(uid), gid=int(gid))

    def write_bytes(self, path: str, data: bytes, stat: FileStat | None) -> None:
        """Replace a file atomically, keeping its mode/owner (or setting STAT)."""
        folder, _, name = path.rpartition("/")
        # A dot-name: kubelet ignores hidden files in its static-pod folder.
        tmp = shlex.quote(f"{folder}/.breakfix-{uuid.uuid4().hex[:8]}-{name}")
        q = shlex.quote(path)
        if stat is not None:
            keep = f"chmod {stat.mode:o} {tmp} && chown {stat.uid}:{stat.gid} {tmp}"
        else:
            keep = (
                f"if [ -e {q} ]; then chmod --reference={q} {tmp} && chown --reference={q} {tmp}; "
                f"else chmod 644 {tmp}; fi"
            )
        line = f"mkdir -p -- {shlex.quote(folder or '/')} && cat > {tmp} && {keep} && mv -f -- {tmp} {q}"
        rc, _, err = self._exec(self._wrap(line), data, 60)
        if rc != 0:
            self._exec(self._wrap(f"rm -f -- {tmp}"), None, 30)
            raise NodeError(f"{self.description}: cannot write {path}: {err.decode(errors='replace').strip()}")

    def remove(self, path: str) -> None:
        """Delete a file if it exists."""
        result = self.run(f"rm -f -- {shlex.quote(path)}", timeout=30)
        if not result.ok:
            raise NodeError(f"{self.description}: cannot remove {path}: {result.stderr.strip()}")
