"""Commands in a container through `docker exec` (kind nodes)."""

from __future__ import annotations

import shutil

from breakfix.errors import NodeError
from breakfix.transport.shell import ShellTransport, run_capped


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
        rc, out, err = run_capped(argv, stdin, timeout, self.max_output)
        if rc != 0 and err.startswith(b"Error response from daemon: No such container"):
            raise NodeError(f"{self.description}: no such container")
        return rc, out, err
