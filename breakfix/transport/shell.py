"""File operations built on running shell commands, shared by every transport."""

from __future__ import annotations

import contextlib
import os
import selectors
import shlex
import signal
import subprocess
import threading
import time
import uuid
from abc import ABC, abstractmethod

from breakfix.errors import NodeError
from breakfix.transport.base import CommandResult, FileStat

MAX_OUTPUT = 64 << 20  # 64 MiB: a node file or command output larger than this is refused, not buffered


class OutputTooLarge(Exception):
    """A command wrote more than the transport's cap (raised by _exec, named by the caller)."""

    def __init__(self, cap: int) -> None:
        super().__init__(cap)
        self.cap = cap


def _mib(cap: int) -> str:
    return f"{cap / (1 << 20):g} MiB" if cap >= 1 << 20 else f"{cap} bytes"


def run_capped(argv: list[str], stdin: bytes | None, timeout: float | None, cap: int) -> tuple[int, bytes, bytes]:
    """Run ARGV with at most CAP bytes of stdout+stderr (OutputTooLarge beyond) and a deadline (rc 124)."""
    proc = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None

    def feed() -> None:
        assert proc.stdin is not None
        try:
            if stdin:
                proc.stdin.write(stdin)
        except OSError:
            pass  # the command did not read it all
        finally:
            with contextlib.suppress(OSError):
                proc.stdin.close()

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    bufs = {proc.stdout.fileno(): bytearray(), proc.stderr.fileno(): bytearray()}
    out_fd, err_fd = proc.stdout.fileno(), proc.stderr.fileno()
    deadline = None if timeout is None else time.monotonic() + timeout
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    sel.register(proc.stderr, selectors.EVENT_READ)
    timed_out = False
    try:
        while sel.get_map():
            wait = None if deadline is None else deadline - time.monotonic()
            if wait is not None and wait <= 0:
                timed_out = True
                break
            for key, _ in sel.select(wait):
                chunk = os.read(key.fd, 1 << 16)
                if not chunk:
                    sel.unregister(key.fileobj)
                    continue
                bufs[key.fd] += chunk
                if len(bufs[out_fd]) + len(bufs[err_fd]) > cap:
                    raise OutputTooLarge(cap)
    finally:
        sel.close()
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
        writer.join(5)
    if timed_out:
        return 124, bytes(bufs[out_fd]), bytes(bufs[err_fd]) + b"\ntimed out"
    return proc.returncode, bytes(bufs[out_fd]), bytes(bufs[err_fd])


class ShellTransport(ABC):
    """A transport that can execute a shell line with stdin; files are handled with cat/stat/mv."""

    description: str = "node"
    become: bool = False
    max_output: int = MAX_OUTPUT

    @abstractmethod
    def _exec(self, line: str, stdin: bytes | None, timeout: float | None) -> tuple[int, bytes, bytes]:
        """Execute a shell line; return (rc, stdout, stderr)."""

    def close(self) -> None:  # noqa: B027 - a no-op default that SSH overrides
        """Release the connection (nothing to do by default)."""

    def _wrap(self, command: str) -> str:
        return f"sudo -n sh -c {shlex.quote(command)}" if self.become else command

    def run(self, command: str, timeout: float | None = None, stdin: bytes | None = None) -> CommandResult:
        """Run a shell command line and wait for it."""
        try:
            rc, out, err = self._exec(self._wrap(command), stdin, timeout)
        except OutputTooLarge as exc:
            shown = command if len(command) <= 120 else command[:117] + "..."
            raise NodeError(
                f"{self.description}: `{shown}` wrote more than {_mib(exc.cap)} of output; refusing to buffer it"
            ) from None
        return CommandResult(rc, out.decode(errors="replace"), err.decode(errors="replace"))

    def read_bytes(self, path: str) -> bytes | None:
        """Return a file's content, or None if it does not exist."""
        q = shlex.quote(path)
        try:
            rc, out, err = self._exec(self._wrap(f"if [ -e {q} ]; then cat -- {q}; else exit 66; fi"), None, 60)
        except OutputTooLarge as exc:
            raise NodeError(
                f"{self.description}: {path} is larger than {_mib(exc.cap)} (or endless, like a device); "
                "refusing to read it"
            ) from None
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
