"""Wait until a node's systemd has booted and its SSH server accepts our key and host key."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from tests.testbed import dockercli
from tests.testbed.sshclient import connect

BOOTED = {"running", "degraded"}


def system_state(container: str, timeout: float) -> str:
    """Return `systemctl is-system-running --wait` inside the container ('' if systemctl fails)."""
    try:
        proc = subprocess.run(
            ["docker", "exec", container, "systemctl", "is-system-running", "--wait"],
            capture_output=True, text=True, check=False, timeout=max(timeout, 1),
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return "timeout"
    return proc.stdout.strip()


def _diagnose(container: str) -> str:
    logs = dockercli.docker("logs", "--tail", "30", container, check=False)
    failed = dockercli.docker("exec", container, "systemctl", "--failed", "--no-legend", "--plain", check=False)
    return f"failed units:\n{failed}\nlast container output:\n{logs}"


def wait_ready(container: str, port: int, key: Path, known_hosts: Path, deadline: float) -> None:
    """Block until systemd reports running/degraded and an SSH command succeeds, or raise."""
    state = ""
    while time.monotonic() < deadline:
        state = system_state(container, deadline - time.monotonic())
        if state in BOOTED:
            break
        time.sleep(0.5)
    else:
        raise TimeoutError(f"{container}: systemd not booted (state {state!r})\n{_diagnose(container)}")
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with connect(port, key, known_hosts, timeout=5) as client:
                _, stdout, _ = client.exec_command("true", timeout=10)
                if stdout.channel.recv_exit_status() == 0:
                    return
        except Exception as exc:  # sshd may still be starting: keep trying
            last = exc
        time.sleep(0.5)
    raise TimeoutError(f"{container}: SSH on 127.0.0.1:{port} not ready: {last!r}\n{_diagnose(container)}")
