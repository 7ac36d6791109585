"""SSH keys for a run: one client key, one host key per node, files OpenSSH and paramiko accept."""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


@dataclass(frozen=True)
class KeyPair:
    """An ed25519 key pair in OpenSSH text formats."""

    private: str
    public: str  # "ssh-ed25519 AAAA... comment"


def generate(comment: str) -> KeyPair:
    """Generate a fresh ed25519 key pair."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    return KeyPair(private=private, public=f"{public} {comment}")


def write_private(path: Path, pair: KeyPair) -> None:
    """Write a key pair as PATH (mode 0600) and PATH.pub."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(pair.private)
    path.with_name(path.name + ".pub").write_text(pair.public + "\n")


def known_hosts_line(hosts: list[str], pair: KeyPair) -> str:
    """Return a known_hosts line naming HOSTS (e.g. "[127.0.0.1]:2201") for a host key."""
    key_type, key_b64 = pair.public.split()[:2]
    return f"{','.join(hosts)} {key_type} {key_b64}"


def tar_files(files: dict[str, tuple[str, int]]) -> bytes:
    """Pack {path: (text, mode)} into a tar owned by root; parent folders must already exist."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path, (text, mode) in sorted(files.items()):
            data = text.encode()
            info = tarfile.TarInfo(path.strip("/"))
            info.size = len(data)
            info.mode = mode
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()
