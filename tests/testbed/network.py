"""Pick a free private subnet and create the per-run docker network."""

from __future__ import annotations

import ipaddress
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

from tests.testbed import dockercli

Net = ipaddress.IPv4Network


def _host_routes() -> list[Net]:
    """Return the IPv4 destinations in this machine's routing table (from /proc/net/route)."""
    nets: list[Net] = []
    path = Path("/proc/net/route")
    if not path.exists():
        return nets
    for line in path.read_text().splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8:
            continue
        dest = socket.inet_ntoa(struct.pack("<L", int(fields[1], 16)))
        mask = socket.inet_ntoa(struct.pack("<L", int(fields[7], 16)))
        if dest != "0.0.0.0":
            nets.append(ipaddress.IPv4Network(f"{dest}/{mask}", strict=False))
    return nets


def _docker_subnets() -> list[Net]:
    """Return the IPv4 subnets of every docker network."""
    ids = dockercli.lines("network", "ls", "-q")
    nets: list[Net] = []
    for info in dockercli.inspect("network", ids):
        for cfg in (info.get("IPAM") or {}).get("Config") or []:
            subnet = cfg.get("Subnet", "")
            if subnet and ":" not in subnet:
                nets.append(ipaddress.IPv4Network(subnet, strict=False))
    return nets


def free_subnets() -> Iterator[Net]:
    """Yield /24 subnets of 172.20.0.0/14 that no route or docker network uses."""
    used = _host_routes() + _docker_subnets()
    for candidate in ipaddress.IPv4Network("172.20.0.0/14").subnets(new_prefix=24):
        if not any(candidate.overlaps(u) for u in used):
            yield candidate


def create(name: str, labels: dict[str, str]) -> Net:
    """Create a bridge network NAME on a free subnet; retry when another run took it first."""
    label_args = [a for k, v in labels.items() for a in ("--label", f"{k}={v}")]
    last_error: Exception | None = None
    for attempt, subnet in enumerate(free_subnets()):
        if attempt >= 20:
            break
        try:
            dockercli.docker(
                "network", "create", "--driver", "bridge", "--subnet", str(subnet),
                "--gateway", str(subnet.network_address + 1), *label_args, name,
            )  # fmt: skip
            return subnet
        except dockercli.DockerError as exc:  # overlapping pool: a concurrent run won the race
            last_error = exc
    raise RuntimeError(f"no free subnet for the test bed network: {last_error}")
