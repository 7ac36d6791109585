"""A real OpenSSH server on 127.0.0.1 with its own keys and config, for transport tests."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SSHD = "/usr/sbin/sshd"


@dataclass
class Sshd:
    """A running sshd and what a client needs to reach it."""

    port: int
    key_file: Path
    known_hosts: Path
    log: Path
    process: subprocess.Popen[bytes]

    def accepted_logins(self) -> int:
        """How many logins sshd accepted so far (its log counts them)."""
        return self.log.read_text().count("Accepted publickey")

    def stop(self) -> None:
        """Stop the server."""
        self.process.terminate()
        self.process.wait(timeout=10)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_sshd(folder: Path) -> Sshd:
    """Generate keys, write a config and start sshd in the foreground on a free loopback port."""
    if not Path(SSHD).exists() or shutil.which("ssh-keygen") is None:
        raise FileNotFoundError("openssh-server is not installed (scripts/setup.sh --host installs it)")
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / name)], check=True)
    (folder / "authorized_keys").write_text((folder / "client_key.pub").read_text())
    port = free_port()
    host_pub = (folder / "host_key.pub").read_text().split()
    (folder / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
    config = folder / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {folder / 'host_key'}\n"
        f"AuthorizedKeysFile {folder / 'authorized_keys'}\nPidFile {folder / 'sshd.pid'}\n"
        "PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "UsePAM no\nStrictModes no\nLogLevel VERBOSE\nSubsystem sftp internal-sftp\nMaxSessions 50\n"
    )
    Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation folder
    log = folder / "sshd.log"
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stderr=log.open("wb"))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"sshd exited: {log.read_text()}") from None
            time.sleep(0.1)
    return Sshd(port, folder / "client_key", folder / "known_hosts", log, proc)
