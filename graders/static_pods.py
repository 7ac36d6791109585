"""Checks on what the control plane's static pods serve, and on where the kubelet takes them from."""

from __future__ import annotations

import datetime
import json
import re
from typing import Any
from urllib.parse import urlparse

from breakfix.certs import cert_names, names_key
from breakfix.context import SessionState
from breakfix.results import CheckResult, failed, passed
from breakfix.transport.node import Node
from graders.systemd import runtime_overrides

ETCD_CA = "/etc/kubernetes/pki/etcd/ca.crt"
ETCD_CLIENT_CERT = "/etc/kubernetes/pki/etcd/healthcheck-client.crt"
ETCD_CLIENT_KEY = "/etc/kubernetes/pki/etcd/healthcheck-client.key"
KUBELET_CLIENT_CERT = "/etc/kubernetes/pki/apiserver-kubelet-client.crt"
KUBELET_CLIENT_KEY = "/etc/kubernetes/pki/apiserver-kubelet-client.key"
MANIFESTS = "/etc/kubernetes/manifests"

_BEGIN = "-----BEGIN CERTIFICATE-----"
_END = "-----END CERTIFICATE-----"


def _first_pem(text: str) -> str | None:
    """The first PEM certificate in TEXT (openssl s_client prints the server's leaf first)."""
    start = text.find(_BEGIN)
    end = text.find(_END, start)
    if start < 0 or end < 0:
        return None
    return text[start : end + len(_END)] + "\n"


def _issued_by(cert: Any, cas: list[Any]) -> bool:
    for ca in cas:
        try:
            cert.verify_directly_issued_by(ca)
        except Exception:  # InvalidSignature, ValueError, TypeError: not this CA
            continue
        return True
    return False


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _judge_url(
    node: Node, url: str, ca: str, cas: list[Any], client_cert: str, client_key: str,
    wanted: list[str], min_days: int, health_path: str, expected: Any = None,
) -> str | None:  # fmt: skip
    """Why URL fails, or None when it serves mutual TLS as it should."""
    from cryptography import x509

    parsed = urlparse(url)
    if parsed.scheme != "https":
        return f"{url} is not https: anyone on the path reads the data, and no client has to show a certificate"
    host = parsed.hostname or ""
    port = parsed.port or 443
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    shown = node.run(
        "timeout 15 openssl s_client -connect %s -cert %s -key %s </dev/null 2>/dev/null | openssl x509",
        target, client_cert, client_key, timeout=30,
    )  # fmt: skip
    pem = _first_pem(shown.stdout) if shown.ok else None
    if pem is None:
        return f"{url} does not answer over TLS"
    try:
        cert = x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        return f"{url} shows a certificate that cannot be read"
    if not _issued_by(cert, cas):
        return f"{url} shows a certificate from {cert.issuer.rfc4514_string()}, which clients that trust {ca} reject"
    if expected is not None and cert.public_key() != expected.public_key():
        return f"{url} shows a certificate of the right CA, but for another key than the server's own"
    left = cert.not_valid_after_utc - datetime.datetime.now(datetime.UTC)
    if left < datetime.timedelta(days=min_days):
        return f"{url} shows a certificate that expires in {left.days} days"
    lost = sorted(set(wanted) - set(cert_names(cert)))
    if lost:
        return f"{url} shows a certificate without the names {', '.join(lost)}: clients that use them reject it"
    health = url.rstrip("/") + health_path
    mutual = node.run(
        "curl -fsS --max-time 5 --cacert %s --cert %s --key %s %s",
        ca, client_cert, client_key, health, timeout=30,
    )  # fmt: skip
    if not mutual.ok:
        return f"{url} does not answer a client with a certificate from {ca} ({_last_line(mutual.stderr) or mutual.rc})"
    anonymous = node.run("curl -fsS -k --max-time 5 %s", health, timeout=30)
    if anonymous.ok:
        return f"{url} answers a client that shows no certificate: anyone who reaches it may read and write"
    return None


def serves_mutual_tls(
    node: Node,
    state: SessionState,
    urls: str,
    ca: str = ETCD_CA,
    client_cert: str = ETCD_CLIENT_CERT,
    client_key: str = ETCD_CLIENT_KEY,
    names_of: str | None = None,
    min_days: int = 30,
    health_path: str = "/health",
    same_as: str | None = None,
) -> CheckResult:
    """Each of URLS (comma-separated, tried from NODE) serves TLS with a certificate from CA, and wants a client's.

    The certificate shown must be signed by CA (a file on the node), be valid MIN_DAYS more and carry every
    name that breakers.pki.remember_names noted of NAMES_OF; a client with CLIENT_CERT must get an answer at
    HEALTH_PATH, a client that shows no certificate must not. SAME_AS: the certificate shown must be for the key
    of that file's certificate (the server's own pair, renewed or not; not another pair of the same CA, such as
    the peer one). Plain http, a self-made certificate, one with names lost, or a server that lets anyone in
    all fail.
    """
    from cryptography import x509

    wanted: list[str] = []
    if names_of is not None:
        noted = state.get(names_key(names_of))
        if noted is None:
            return CheckResult("error", f"the names of {names_of} were not noted when the lab started")
        wanted = list(noted)
    try:
        cas = x509.load_pem_x509_certificates(node.read_text(ca).encode())
    except ValueError as exc:
        return CheckResult("error", f"cannot read the CA {ca} on {node.name}: {exc}")
    expected = None
    if same_as is not None:
        try:
            expected = x509.load_pem_x509_certificate(node.read_text(same_as).encode())
        except ValueError as exc:
            return CheckResult("error", f"cannot read the certificate {same_as} on {node.name}: {exc}")
    listed = [u.strip() for u in urls.split(",") if u.strip()]
    if not listed:
        return CheckResult("error", "no URL to try")
    bad = [
        why
        for why in (
            _judge_url(node, url, ca, cas, client_cert, client_key, wanted, min_days, health_path, expected)
            for url in listed
        )
        if why
    ]
    if bad:
        return failed(
            "; ".join(bad),
            "What does a client see when it connects (`openssl s_client -connect ADDRESS:PORT`)?",
        )
    return passed(f"{', '.join(listed)}: TLS with a certificate from {ca}, and only for clients that show one")


def _kubelet_outside_its_unit(node: Node, port: int) -> str:
    """Why the program on PORT is not kubelet.service's own process (started by hand, systemd-run...), or ''."""
    found = node.run(
        "systemctl show kubelet -p MainPID --value; ss -Hltnp %s", f"sport = :{int(port)}", timeout=30
    ).stdout.splitlines()
    main = found[0].strip() if found else ""
    pids = set(re.findall(r"pid=(\d+)", "\n".join(found[1:])))
    if not pids:
        return ""  # nothing to compare: the /configz answer above came from somewhere the check cannot see
    if main in ("", "0"):
        return "is not kubelet.service (the unit is not running)"
    if main not in pids:
        return "is not the process kubelet.service started"
    return ""


def kubelet_static_pod_path(
    node: Node,
    path: str = MANIFESTS,
    client_cert: str = KUBELET_CLIENT_CERT,
    client_key: str = KUBELET_CLIENT_KEY,
    port: int = 10250,
) -> CheckResult:
    """The node's running kubelet takes its static pods from PATH (where kubeadm writes them), as /configz shows.

    The kubelet's live configuration is asked on the node itself (https on PORT, with the API server's
    kubelet client certificate), so a flag that overrides the config file counts as the kubelet applies it.
    A link that leads to PATH counts as PATH; a copy of the manifests in another folder does not: kubeadm
    (upgrade, certificate renewal) keeps writing PATH, and nothing would read it.
    """
    answer = node.run(
        "curl -fsS -k --max-time 10 --cert %s --key %s https://127.0.0.1:%s/configz",
        client_cert, client_key, port, timeout=30,
    )  # fmt: skip
    if not answer.ok:
        return failed(
            f"the kubelet on {node.name} does not show its running configuration "
            f"({_last_line(answer.stderr) or answer.rc})",
            "Is the kubelet running, and is the API server (which authorizes the request) back?",
        )
    try:
        config = json.loads(answer.stdout).get("kubeletconfig") or {}
    except (ValueError, AttributeError):
        return CheckResult("error", f"the kubelet on {node.name} answered /configz with something that is not JSON")
    used = str(config.get("staticPodPath") or "")
    if not used:
        return failed(
            f"the kubelet on {node.name} runs no static pods (no staticPodPath)",
            "The control plane's components run as static pods: where does the kubelet look for them?",
        )
    resolved = node.run("realpath -m -- %s %s", used, path, timeout=30).stdout.split("\n")
    if len(resolved) >= 2 and resolved[0] and resolved[0] == resolved[1]:
        stray = _kubelet_outside_its_unit(node, port)
        if stray:
            return failed(
                f"the kubelet that answers on {node.name} {stray}: the next boot starts kubelet.service as it is",
                "A fix must outlive a reboot: the kubelet systemd starts is the one that must read the right folder.",
            )
        lost = runtime_overrides(node, "kubelet")
        if lost:
            return failed(
                f"the kubelet on {node.name} reads {path} on settings the next boot loses: {'; '.join(lost)}",
                "A fix must outlive a reboot: put it where the kubelet's own files are.",
            )
        return passed(f"the kubelet on {node.name} runs its static pods from {path}")
    return failed(
        f"the kubelet on {node.name} runs its static pods from {used}, not from {path}, where kubeadm writes them",
        "kubeadm (upgrades, renewals) writes the control plane's manifests to one folder: which does the kubelet read?",
    )
