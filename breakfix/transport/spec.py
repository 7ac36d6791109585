"""Transport spec strings: ssh://user@host:port, docker://container, local://."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from breakfix.errors import ClusterError
from breakfix.transport.base import Transport


@dataclass(frozen=True)
class TransportSpec:
    """How to reach a node: scheme, address and SSH options."""

    scheme: str
    host: str = ""
    port: int = 22
    user: str = "root"
    key_file: str | None = None
    known_hosts: str | None = None
    check_host_key: bool = True

    def __str__(self) -> str:
        if self.scheme == "ssh":
            return f"ssh://{self.user}@{self.host}:{self.port}"
        if self.scheme == "docker":
            return f"docker://{self.host}"
        return "local://"


def parse_spec(
    text: str, key_file: str | None = None, known_hosts: str | None = None, check_host_key: bool = True
) -> TransportSpec:
    """Parse a spec string; the SSH options come from the inventory."""
    parts = urlsplit(text)
    if parts.scheme == "ssh":
        if not parts.hostname:
            raise ClusterError(f"transport {text!r}: no host")
        try:
            port = parts.port or 22
        except ValueError:
            raise ClusterError(f"transport {text!r}: the port is not a number (1-65535)") from None
        return TransportSpec(
            "ssh",
            host=parts.hostname,
            port=port,
            user=parts.username or "root",
            key_file=key_file,
            known_hosts=known_hosts,
            check_host_key=check_host_key,
        )
    if parts.scheme == "docker":
        name = parts.netloc or parts.path.lstrip("/")
        if not name:
            raise ClusterError(f"transport {text!r}: no container name")
        return TransportSpec("docker", host=name)
    if parts.scheme == "local":
        return TransportSpec("local")
    raise ClusterError(f"transport {text!r}: unknown scheme (use ssh://, docker:// or local://)")


def open_transport(spec: TransportSpec) -> Transport:
    """Create the transport for a spec (connections open lazily)."""
    if spec.scheme == "ssh":
        from breakfix.transport.ssh import SSHTransport

        return SSHTransport(
            spec.host,
            spec.port,
            spec.user,
            key_file=spec.key_file,
            known_hosts=spec.known_hosts,
            check_host_key=spec.check_host_key,
        )
    if spec.scheme == "docker":
        from breakfix.transport.docker import DockerTransport

        return DockerTransport(spec.host)
    from breakfix.transport.local import LocalTransport

    return LocalTransport()
