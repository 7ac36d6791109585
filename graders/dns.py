"""Checks on the cluster's DNS: a pod on a given node resolves names, and CoreDNS's Corefile serves the cluster."""

from __future__ import annotations

import ipaddress
import re
import uuid
from dataclasses import dataclass, field

from breakfix.durations import Seconds
from breakfix.errors import BreakfixError, ClusterError
from breakfix.inventory import ClusterSpec
from breakfix.kube import Kube
from breakfix.results import CheckResult, failed, passed
from graders.probe import _pod_spec, _probe_pod, _wait


def _probe(
    kube: Kube,
    images: dict[str, str],
    cluster: ClusterSpec,
    command: list[str],
    pod_node: str,
    wait_for: float,
    namespace: str,
) -> str | None:
    """Run COMMAND in a new shell pod (on POD_NODE when given); its phase when it ends, None when it did not."""
    pod_name = f"breakfix-probe-{uuid.uuid4().hex[:8]}"
    spec = _pod_spec(images["shell"], cluster, "dns")
    spec["containers"][0]["command"] = command
    spec["restartPolicy"] = "Never"
    if pod_node:
        spec["nodeName"] = pod_node  # straight to the node: no scheduler, no taint keeps it off

    def finished() -> str | None:
        phase = ((kube.get("v1", "Pod", pod_name, namespace) or {}).get("status") or {}).get("phase")
        return phase if phase in ("Succeeded", "Failed") else None

    kube.create(_probe_pod(pod_name, namespace, "dns", spec))
    try:
        phase: str | None = _wait(wait_for, finished, poll=2.0)
    finally:
        kube.delete("v1", "Pod", pod_name, namespace)
    return phase


def _unfinished(wait_for: float, where: str) -> CheckResult:
    return failed(
        f"the DNS probe pod{where} did not finish within {wait_for:.0f}s",
        f"Do new pods start{where} at all? kubectl get pods -o wide; kubectl describe pod",
    )


def resolves(
    kube: Kube,
    images: dict[str, str],
    cluster: ClusterSpec,
    pod_node: str = "",
    name: str = "kubernetes.default.svc.cluster.local",
    wait_for: Seconds = 60.0,
    namespace: str = "default",
) -> CheckResult:
    """A new pod on node POD_NODE (any node when empty) resolves NAME with the DNS settings pods get by default."""
    where = f" on {pod_node}" if pod_node else ""
    try:
        phase = _probe(kube, images, cluster, ["nslookup", name], pod_node, wait_for, namespace)
    except BreakfixError as exc:
        return CheckResult("error", f"could not run the DNS probe: {exc}")
    if phase == "Succeeded":
        return passed(f"a new pod{where} resolves {name}")
    if phase is None:
        return _unfinished(wait_for, where)
    return failed(
        f"a new pod{where} cannot resolve {name}",
        "Which name server does a new pod there ask (its /etc/resolv.conf), and does that server answer?",
    )


def _dns_query(name: str) -> str:
    """A DNS query for NAME (type A) as the bytes of a TCP message, in printf's octal escapes."""
    labels = b"".join(bytes([len(part)]) + part.encode() for part in name.strip(".").split(".")) + b"\0"
    body = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + labels + b"\x00\x01\x00\x01"
    message = len(body).to_bytes(2, "big") + body
    return "".join(f"\\{byte:03o}" for byte in message)


def answers_over_tcp(
    kube: Kube,
    images: dict[str, str],
    cluster: ClusterSpec,
    pod_node: str = "",
    name: str = "kubernetes.default.svc.cluster.local",
    wait_for: Seconds = 60.0,
    namespace: str = "default",
) -> CheckResult:
    """A new pod's name server answers NAME over TCP too (large answers and many clients use TCP, not only UDP)."""
    if not re.fullmatch(r"[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})*\.?", name) or len(name) > 200:
        raise ValueError(f"not a DNS name: {name!r}")
    where = f" on {pod_node}" if pod_node else ""
    # The answer's header: rcode 0 (byte 4 of the message, after the 2-byte length) and at least one answer.
    script = (
        "ns=$(awk '/^nameserver/ {print $2; exit}' /etc/resolv.conf); "
        f"printf '{_dns_query(name)}' | nc -w 5 \"$ns\" 53 > /tmp/answer; "
        "set -- $(od -An -tu1 -N12 /tmp/answer); "
        '[ "$#" -eq 12 ] && [ $(( $6 % 16 )) -eq 0 ] && [ $(( ${9} * 256 + ${10} )) -gt 0 ]'
    )
    try:
        phase = _probe(kube, images, cluster, ["sh", "-c", script], pod_node, wait_for, namespace)
    except BreakfixError as exc:
        return CheckResult("error", f"could not run the DNS probe: {exc}")
    if phase == "Succeeded":
        return passed(f"a new pod{where} gets an answer for {name} over TCP")
    if phase is None:
        return _unfinished(wait_for, where)
    return failed(
        f"a new pod{where} gets no answer for {name} when it asks over TCP",
        "DNS uses port 53 over UDP and over TCP: does each way reach the DNS server?",
    )


def asks_cluster_dns(
    kube: Kube,
    images: dict[str, str],
    cluster: ClusterSpec,
    pod_node: str = "",
    service: str = "kube-dns",
    service_namespace: str = "kube-system",
    wait_for: Seconds = 60.0,
    namespace: str = "default",
) -> CheckResult:
    """A new pod on POD_NODE gets the cluster DNS Service's address (SERVICE's ClusterIP) as its name server."""
    where = f" on {pod_node}" if pod_node else ""
    try:
        svc = kube.get("v1", "Service", service, service_namespace)
        ip = ((svc or {}).get("spec") or {}).get("clusterIP")
        if not ip or ip == "None":
            return failed(f"Service {service_namespace}/{service} has no cluster address", "Which Service is the DNS?")
        ipaddress.ip_address(ip)
        command = ["sh", "-c", f"awk '/^nameserver/ {{print $2; exit}}' /etc/resolv.conf | grep -qx '{ip}'"]
        phase = _probe(kube, images, cluster, command, pod_node, wait_for, namespace)
    except (BreakfixError, ValueError) as exc:
        return CheckResult("error", f"could not run the DNS probe: {exc}")
    if phase == "Succeeded":
        return passed(f"a new pod{where} asks the cluster DNS Service ({ip})")
    if phase is None:
        return _unfinished(wait_for, where)
    return failed(
        f"a new pod{where} does not ask the cluster DNS Service {service_namespace}/{service} ({ip})",
        "Which name server does a new pod there get in its /etc/resolv.conf?",
    )


# The Corefile ---------------------------------------------------------------------------


@dataclass
class Directive:
    """One plugin line of a server block, with the lines of its own block."""

    name: str
    args: list[str]
    body: list[list[str]] = field(default_factory=list)


@dataclass
class ServerBlock:
    """A server block: the zones (with ports) it serves and its plugins."""

    keys: list[str]
    directives: list[Directive]

    def zones(self) -> list[tuple[str, int]]:
        """(zone, port) for each key: `.:53` -> (".", 53), `dns://cluster.local` -> ("cluster.local.", 53)."""
        out = []
        for key in self.keys:
            key = key.split("://", 1)[-1]
            zone, _, port = key.rpartition(":") if ":" in key else (key, "", "53")
            out.append((_fqdn(zone), int(port) if port.isdigit() else 53))
        return out


def _fqdn(zone: str) -> str:
    zone = zone.strip().lower()
    return zone if zone.endswith(".") else zone + "."


def _covers(parent: str, child: str) -> bool:
    """Whether zone PARENT contains zone CHILD (both as FQDNs)."""
    return parent == "." or child == parent or child.endswith("." + parent)


def _tokens(text: str) -> list[tuple[str, int]]:
    """The Corefile's tokens with their line numbers; braces are tokens of their own, comments and quotes handled."""
    out: list[tuple[str, int]] = []
    for number, raw in enumerate(text.splitlines()):
        word, quoted, started = "", False, False
        for ch in raw:
            if quoted:
                if ch == '"':
                    quoted = False
                else:
                    word += ch
            elif ch == '"':
                quoted = started = True
            elif ch == "#":
                break
            elif ch.isspace() or ch in "{}":
                if word or started:
                    out.append((word, number))
                    word, started = "", False
                if ch in "{}":
                    out.append((ch, number))
            else:
                word += ch
                started = True
        if word or started:
            out.append((word, number))
    return out


def _parse_corefile(text: str) -> list[ServerBlock]:
    """The server blocks of a Corefile (a ValueError when a block has no zones or its braces do not match)."""
    flat = _tokens(text)
    n = len(flat)
    blocks: list[ServerBlock] = []
    i = 0
    while i < n:
        keys: list[str] = []
        while i < n and flat[i][0] != "{":
            if flat[i][0] == "}":
                raise ValueError("a closing brace without a server block")
            keys.extend(k for k in flat[i][0].split(",") if k)
            i += 1
        if i >= n or not keys:
            raise ValueError("a server block without zones or without its opening brace")
        i += 1
        directives: list[Directive] = []
        while True:
            if i >= n:
                raise ValueError(f"the server block for {', '.join(keys)} is not closed")
            if flat[i][0] == "}":
                i += 1
                break
            line = flat[i][1]
            words: list[str] = []
            while i < n and flat[i][1] == line and flat[i][0] not in ("{", "}"):
                words.append(flat[i][0])
                i += 1
            directive = Directive(words[0] if words else "", words[1:])
            if i < n and flat[i][0] == "{":
                i += 1
                depth, last = 1, -1
                while depth:
                    if i >= n:
                        raise ValueError(f"the block of {directive.name} is not closed")
                    tok, number = flat[i]
                    i += 1
                    if tok == "{":
                        depth += 1
                    elif tok == "}":
                        depth -= 1
                    elif depth == 1:
                        if number != last:
                            directive.body.append([])
                            last = number
                        directive.body[-1].append(tok)
            directives.append(directive)
        blocks.append(ServerBlock(keys, directives))
    return blocks


def _loops_back(target: str, dns_ips: set[str]) -> bool:
    """Whether a forward target is CoreDNS itself: a loopback or unspecified address, or the cluster DNS Service."""
    host = target.split("://", 1)[-1]
    if host.startswith("["):
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    if host in dns_ips or host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
        mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1 is 127.0.0.1
        return address.is_loopback or address.is_unspecified or bool(mapped and mapped.is_loopback)
    except ValueError:
        return False  # a file such as /etc/resolv.conf, or a name


def corefile_serves(
    kube: Kube,
    zone: str = "cluster.local",
    configmap: str = "coredns",
    namespace: str = "kube-system",
    service: str = "kube-dns",
) -> CheckResult:
    """CoreDNS's Corefile answers ZONE from the cluster (kubernetes plugin, port 53) and forwards the rest upstream.

    Upstream is not CoreDNS itself (a loopback or unspecified address, the cluster DNS Service)."""
    try:
        cm = kube.get("v1", "ConfigMap", configmap, namespace)
        svc = kube.get("v1", "Service", service, namespace)
    except ClusterError as exc:
        return CheckResult("error", f"cannot read the DNS configuration: {exc}")
    text = ((cm or {}).get("data") or {}).get("Corefile")
    if not text:
        return failed(f"ConfigMap {namespace}/{configmap} holds no Corefile", "CoreDNS reads its Corefile from there.")
    try:
        blocks = _parse_corefile(text)
    except ValueError as exc:
        return failed(f"the Corefile cannot be read: {exc}", "kubectl -n kube-system logs -l k8s-app=kube-dns")
    want = _fqdn(zone)
    serving = [
        (z, b) for b in blocks for z, port in b.zones() if port == 53 and _covers(z, want)
    ]  # CoreDNS picks the most specific zone
    if not serving:
        return failed(f"no server block of the Corefile answers {zone} on port 53", "Which zones does CoreDNS serve?")
    _zone, block = max(serving, key=lambda pair: len(pair[0]))
    kubernetes = next((d for d in block.directives if d.name == "kubernetes"), None)
    if kubernetes is None or not any(
        _covers(_fqdn(z), want) for z in (kubernetes.args or [zz for zz, _p in block.zones()])
    ):
        return failed(
            f"the Corefile does not answer {zone} from the cluster's Services and pods",
            "The kubernetes plugin is what answers the cluster's own names.",
        )
    spec = (svc or {}).get("spec") or {}
    dns_ips = {ip for ip in [spec.get("clusterIP"), *(spec.get("clusterIPs") or [])] if ip and ip != "None"}
    for b in blocks:
        for d in b.directives:
            if d.name != "forward" or not d.args:
                continue
            looping = [t for t in d.args[1:] if _loops_back(t, dns_ips)]
            if looping:
                return failed(
                    f"CoreDNS sends the queries it cannot answer to {', '.join(looping)}, which is CoreDNS itself",
                    "Where should names outside the cluster be asked? The node's resolver is the usual upstream.",
                )
    root = [b for b in blocks for z, port in b.zones() if port == 53 and z == "."]
    if not any(d.name == "forward" and len(d.args) > 1 for b in root for d in b.directives):
        return failed(
            "CoreDNS passes the names it does not know to no upstream resolver",
            "Which server does CoreDNS ask for names outside the cluster?",
        )
    return passed(f"the Corefile answers {zone} from the cluster and forwards the rest upstream, not to itself")
