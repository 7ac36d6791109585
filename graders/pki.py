"""Checks on the certificates the cluster serves, as its clients see them."""

from __future__ import annotations

import base64
import datetime
import socket
import ssl
from urllib.parse import urlparse

import yaml

from breakfix.certs import cert_names, names_key
from breakfix.context import SessionState
from breakfix.inventory import ClusterSpec
from breakfix.results import CheckResult, failed, passed


def _api_endpoint(cluster: ClusterSpec) -> tuple[str, int, bytes]:
    """The API server's host, port and CA bundle, from the cluster's kubeconfig."""
    if cluster.kubeconfig is None:
        raise ValueError(f"cluster {cluster.name} has no kubeconfig")
    config = yaml.safe_load(cluster.kubeconfig.read_text()) or {}
    contexts = {c["name"]: c.get("context") or {} for c in config.get("contexts") or []}
    clusters = {c["name"]: c.get("cluster") or {} for c in config.get("clusters") or []}
    context = contexts.get(cluster.context or config.get("current-context"), {})
    entry = clusters.get(context.get("cluster"), {})
    url = urlparse(entry.get("server", ""))
    if entry.get("certificate-authority-data"):
        ca = base64.b64decode(entry["certificate-authority-data"])
    elif entry.get("certificate-authority"):
        ca = (cluster.kubeconfig.parent / entry["certificate-authority"]).read_bytes()
    else:
        raise ValueError(f"{cluster.kubeconfig}: no certificate authority for {entry.get('server')}")
    return url.hostname or "", url.port or 443, ca


def serving_cert_valid(
    cluster: ClusterSpec,
    state: SessionState | None = None,
    min_days: int = 30,
    names_of: str | None = None,
    timeout: float = 10.0,
) -> CheckResult:
    """The API server serves a certificate its clients trust (the cluster CA's) for MIN_DAYS more, under every name.

    NAMES_OF: a certificate whose names (SANs) breakers.pki.remember_names noted; the served one must carry them all.
    """
    from cryptography import x509

    wanted: list[str] | None = None
    if names_of is not None:
        wanted = state.get(names_key(names_of)) if state is not None else None
        if wanted is None:
            return CheckResult("error", f"the names of {names_of} were not noted when the lab started")

    try:
        host, port, ca = _api_endpoint(cluster)
    except (OSError, ValueError, KeyError) as exc:
        return CheckResult("error", f"cannot tell where the API server is: {exc}")
    context = ssl.create_default_context(cadata=ca.decode())
    context.check_hostname = False  # the address in the kubeconfig may be a forwarded port, not a SAN
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as sock,
            context.wrap_socket(sock) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
    except ssl.SSLCertVerificationError as exc:
        return failed(
            f"clients reject the API server's certificate: {exc.verify_message}",
            "kubeadm certs check-expiration; kubeadm certs renew ... (the API server reloads its files).",
        )
    except OSError as exc:
        return CheckResult("error", f"cannot reach the API server at {host}:{port}: {exc}")
    if der is None:
        return CheckResult("error", "the API server presented no certificate")
    cert = x509.load_der_x509_certificate(der)
    left = cert.not_valid_after_utc - datetime.datetime.now(datetime.UTC)
    if left < datetime.timedelta(days=min_days):
        return failed(
            f"the API server's certificate expires in {left.days} days (on {cert.not_valid_after_utc:%Y-%m-%d})",
            "Renew it for the usual term: kubeadm certs renew apiserver.",
        )
    lost = sorted(set(wanted or []) - set(cert_names(cert)))
    if lost:
        return failed(
            f"the API server's certificate no longer names {', '.join(lost)}: clients that use those names reject it",
            "A renewed certificate keeps the names (SANs) of the one it replaces.",
        )
    return passed(f"the API server serves a trusted certificate, valid until {cert.not_valid_after_utc:%Y-%m-%d}")
