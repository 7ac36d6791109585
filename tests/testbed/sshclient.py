"""Paramiko connections to test bed nodes with host-key checking on (RejectPolicy)."""

from __future__ import annotations

from pathlib import Path

import paramiko


def connect(port: int, key: Path, known_hosts: Path, timeout: float = 10) -> paramiko.SSHClient:
    """Return a client connected as root to 127.0.0.1:PORT, refusing unknown host keys."""
    client = paramiko.SSHClient()
    client.load_host_keys(str(known_hosts))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        client.connect(
            "127.0.0.1", port=port, username="root", key_filename=str(key),
            look_for_keys=False, allow_agent=False, timeout=timeout,
            banner_timeout=timeout, auth_timeout=timeout,
        )  # fmt: skip
    except BaseException:
        client.close()
        raise
    return client


def run(client: paramiko.SSHClient, command: str, timeout: float = 60) -> tuple[int, str, str]:
    """Run a shell command over SSH and return (rc, stdout, stderr)."""
    _, stdout, stderr = client.exec_command(command, timeout=timeout)
    out = stdout.read().decode(errors="replace")
    err = stderr.read().decode(errors="replace")
    return stdout.channel.recv_exit_status(), out, err
