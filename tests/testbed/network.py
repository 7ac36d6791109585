"""Pick a free private subnet, create the per-run docker network and keep its traffic inside it."""

from __future__ import annotations

import ipaddress
import socket
import struct
import subprocess
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
        except dockercli.DockerError as exc:  # overlapping pool: a concurrent run won the race
            last_error = exc
            continue
        guard(name, subnet)
        return subnet
    raise RuntimeError(f"no free subnet for the test bed network: {last_error}")


# Packets a node or pod sends to an address outside its own test bed network (a Service IP before
# kube-proxy programmed it, a name that resolved outside) would be routed by the host to its default
# route. The test bed never targets any other address: docker's DOCKER-USER chain rejects packets that
# come in on a test bed network's bridge and would leave through any other interface. Traffic that
# stays on the bridge (node to node, and pod to pod across nodes, whose pod addresses are routed
# through the nodes) is bridged, not routed, and passes. One rule per network, tagged with its name.
GUARD_CHAIN = "DOCKER-USER"
GUARD_TAG = "breakfix-testbed:"


def iptables(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run `iptables -w 10 ARGS` (waiting for the xtables lock); raise on failure when CHECK."""
    proc = subprocess.run(["iptables", "-w", "10", *args], capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"iptables {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc


def bridge_of(name: str) -> str:
    """Return the Linux bridge interface of docker network NAME."""
    (info,) = dockercli.inspect("network", [name])
    return str((info.get("Options") or {}).get("com.docker.network.bridge.name") or "br-" + info["Id"][:12])


def _guard_rule(name: str) -> list[str]:
    bridge = bridge_of(name)
    return ["-i", bridge, "!", "-o", bridge, "-m", "comment", "--comment", GUARD_TAG + name, "-j", "REJECT"]


def guard(name: str, subnet: Net | None = None) -> None:
    """Reject packets from network NAME's bridge to any other interface (nothing leaves the network)."""
    del subnet  # the rule names the bridge: pod addresses routed through nodes stay allowed
    if iptables("-C", GUARD_CHAIN, *_guard_rule(name), check=False).returncode != 0:
        iptables("-I", GUARD_CHAIN, *_guard_rule(name))


def guarded() -> dict[str, list[str]]:
    """Return {network name: [rule spec, ...]} of the guard rules in place."""
    rules: dict[str, list[str]] = {}
    for line in iptables("-S", GUARD_CHAIN).stdout.splitlines():
        if GUARD_TAG in line and line.startswith(f"-A {GUARD_CHAIN} "):
            name = line.split(GUARD_TAG, 1)[1].split()[0].strip('"')
            rules.setdefault(name, []).append(line)
    return rules


def unguard(name: str) -> None:
    """Remove the guard rules of network NAME."""
    for line in guarded().get(name, []):
        spec = line.split()[2:]  # "-A DOCKER-USER <spec>"
        iptables("-D", GUARD_CHAIN, *[part.strip('"') for part in spec], check=False)


def remove(*names: str) -> None:
    """Remove docker networks and their guard rules."""
    if names:
        dockercli.docker("network", "rm", *names, check=False)
    for name in names:
        unguard(name)


def remove_orphan_guards() -> list[str]:
    """Remove guard rules whose network is gone (a run that was killed); return their names."""
    existing = set(dockercli.lines("network", "ls", "--format", "{{.Name}}"))
    orphans = [name for name in guarded() if name not in existing]
    for name in orphans:
        unguard(name)
    return orphans
