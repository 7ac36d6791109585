"""Checks on who answers a port on a node: the component itself, not a forwarder or a stand-in put in front."""

from __future__ import annotations

import re
from urllib.parse import urlparse

from breakers._manifests import get_flag, main_container
from breakfix.errors import BreakfixError
from breakfix.results import CheckResult, failed, passed
from breakfix.transport.node import Node
from graders.static_pod import _pod

_WILDCARDS = frozenset({"*", "0.0.0.0", "[::]", "::"})
_PROCESS = re.compile(r'\(\("([^"]+)"')


def _listeners(text: str, address: str) -> list[tuple[str, list[str]]]:
    """(local address, process names) of the `ss -Hltnp` lines that take connections to ADDRESS."""
    out = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 5 or fields[0] != "LISTEN":
            continue
        host = fields[3].rpartition(":")[0].split("%", 1)[0]
        if host == address or host.strip("[]") == address or host in _WILDCARDS:
            out.append((fields[3], _PROCESS.findall(line)))
    return out


def served_by(node: Node, port: int, process: str, address: str = "127.0.0.1") -> CheckResult:
    """On NODE, the program that takes connections to ADDRESS:PORT is PROCESS itself (e.g. etcd on 127.0.0.1:2379)."""
    try:
        result = node.run("ss -Hltnp %s", f"sport = :{int(port)}", timeout=30)
    except BreakfixError as exc:
        return CheckResult("error", f"cannot list the listening sockets on {node.name}: {exc}")
    if not result.ok:
        return CheckResult("error", f"cannot list the listening sockets on {node.name}: {result.stderr.strip()[:200]}")
    found = _listeners(result.stdout, address)
    if not found:
        return failed(
            f"nothing takes connections to {address}:{port} on {node.name}", "Which clients use that address?"
        )
    others = sorted({name for _local, names in found for name in names if name != process})
    if others or not any(process in names for _local, names in found):
        who = ", ".join(others) or "a program that cannot be named"
        return failed(
            f"{address}:{port} on {node.name} is answered by {who}, not by {process} itself",
            f"`ss -ltnp 'sport = :{port}'` on {node.name}: who listens there, and why?",
        )
    return passed(f"{process} itself takes connections to {address}:{port} on {node.name}")


def _addresses(node: Node, host: str) -> list[str]:
    """The addresses a client on NODE reaches for HOST: itself when it is an address, else what the node resolves."""
    if not host or re.fullmatch(r"[0-9.]+|[0-9a-fA-F:]+", host):
        return [host]
    answer = node.run("getent ahostsv4 %s", host, timeout=30)
    found = list(dict.fromkeys(line.split()[0] for line in answer.stdout.splitlines() if line.split()))
    return found or [host]


def _host_port(url: str) -> tuple[str, int] | None:
    """(address as `ss` shows it, port) of a URL; None when it names no port."""
    parsed = urlparse(url.strip())
    try:
        port = parsed.port
    except ValueError:
        return None
    if port is None:
        return None
    host = parsed.hostname or ""
    return ("127.0.0.1" if host == "localhost" else host), port


def flag_servers_served_by(node: Node, manifest: str, flag: str, process: str) -> CheckResult:
    """Each server a static pod's FLAG names (comma-separated URLs) is answered on NODE by PROCESS itself.

    A relay or a port redirect put in front of another port (the manifest left as it is) does not count."""
    try:
        value = get_flag(main_container(_pod(node, manifest)), flag)
    except BreakfixError as exc:
        return CheckResult("error", f"cannot read {manifest} on {node.name}: {exc}")
    urls = [u.strip() for u in (value or "").split(",") if u.strip()]
    if not urls:
        return failed(f"{manifest} names no server in {flag}")
    others = []
    for url in urls:
        where = _host_port(url)
        if where is None:
            others.append(url)
            continue
        results = [served_by(node, where[1], process, address) for address in _addresses(node, where[0])]
        errors = [r for r in results if r.status == "error"]
        if errors:
            return errors[0]
        if not all(r.ok for r in results):  # a client may take any address the name resolves to: each must be it
            others.append(url)
    if others:
        return failed(
            f"{len(others)} of the {len(urls)} servers {manifest} is given is not {process} itself",
            f"`ss -ltnp` on {node.name}: who listens where the {manifest} looks?",
        )
    return passed(f"every server {manifest} is given is {process} itself")
