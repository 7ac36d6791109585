"""Commands in a container through `docker exec` (kind nodes)."""

from __future__ import annotations

import shutil
import subprocess

from breakfix.errors import NodeError
from breakfix.transport.shell import ShellTransport


class DockerTransport(ShellTransport):
    """Runs commands in a running container with `docker exec -i`."""

    def __init__(self, container: str, docker: str = "docker") -> None:
        self.container = container
        self.description = f"docker://{container}"
        found = shutil.which(docker)
        if found is None:
            raise NodeError(f"{self.description}: the docker command is not installed")
        self.docker = found

    def _exec(self, line: str, stdin: bytes | None, timeout: float | None) -> tuple[int, bytes, bytes]:
        argv = [self.docker, "exec", "-i", self.container, "/bin/sh", "-c", line]
        try:
            proc = subprocess.run(argv, input=stdin or b"", capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            return 124, exc.stdout or b"", (exc.stderr or b"") + b"\ntimed out"
        if proc.returncode != 0 and proc.stderr.startswith(b"Error response from daemon: No such container"):
            raise NodeError(f"{self.description}: no such container")
        return proc.returncode, proc.stdout, proc.stderr
