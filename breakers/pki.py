"""Breakers for the cluster's certificates (no clock is ever changed: the certificate is)."""

from __future__ import annotations

import datetime
import ipaddress
import shlex
from typing import TYPE_CHECKING

from breakfix.certs import cert_names, names_key
from breakfix.changes import ChangeLog
from breakfix.context import SessionState
from breakfix.errors import StepError
from breakfix.transport.node import Node

if TYPE_CHECKING:
    from cryptography import x509

APISERVER_CERT = "/etc/kubernetes/pki/apiserver.crt"
CA_CERT = "/etc/kubernetes/pki/ca.crt"
CA_KEY = "/etc/kubernetes/pki/ca.key"
KUBEADM_RENEW_TIMEOUT_S = 180  # kubeadm first tries to read its configuration from a cluster that may not answer


def _san(name: str) -> x509.GeneralName:
    from cryptography import x509

    kind, _, value = name.partition(":") if name.startswith(("DNS:", "IP:")) else ("", "", name)
    if kind == "IP" or (not kind and _is_ip(value)):
        return x509.IPAddress(ipaddress.ip_address(value))
    return x509.DNSName(value)


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _key_of(cert: str) -> str:
    return cert.removesuffix(".crt") + ".key"


def reissued_pem(
    current_pem: bytes,
    ca_pem: bytes,
    ca_key_pem: bytes,
    starts: datetime.timedelta,
    lasts: datetime.timedelta,
    self_signed_key: bool = False,
    names: list[str] | None = None,
) -> bytes:
    """A certificate like CURRENT_PEM (subject, key, extensions), signed by the CA, valid from now+STARTS for LASTS.

    NAMES, when given, replace its subject alternative names; SELF_SIGNED_KEY signs it with a throwaway CA instead.
    ValueError when a PEM cannot be read, StepError when the CA key is of a kind that cannot sign."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    current = x509.load_pem_x509_certificate(current_pem)
    issuer = x509.load_pem_x509_certificate(ca_pem)
    key = serialization.load_pem_private_key(ca_key_pem, password=None)
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise StepError("the CA key is not an RSA or EC key")
    issuer_name = issuer.subject
    if self_signed_key:  # a CA of its own that no client trusts
        key = ec.generate_private_key(ec.SECP256R1())
        issuer_name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "self-signed")])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(current.subject)
        .issuer_name(issuer_name)
        .public_key(current.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + starts)
        .not_valid_after(now + starts + lasts)
    )
    skip = {x509.oid.ExtensionOID.AUTHORITY_KEY_IDENTIFIER}
    if names is not None:
        skip.add(x509.oid.ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
        builder = builder.add_extension(x509.SubjectAlternativeName([_san(n) for n in names]), critical=False)
    for ext in current.extensions:
        if ext.oid not in skip:
            builder = builder.add_extension(ext.value, ext.critical)
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key())
    new = builder.add_extension(aki, critical=False).sign(key, hashes.SHA256())
    return new.public_bytes(serialization.Encoding.PEM)


def _reissue(
    node: Node,
    changes: ChangeLog,
    cert: str,
    ca_cert: str,
    ca_key: str,
    starts: datetime.timedelta,
    lasts: datetime.timedelta,
    self_signed_key: bool = False,
    names: list[str] | None = None,
) -> None:
    """Write CERT again with the same subject, public key and extensions, valid from now+STARTS for LASTS.

    NAMES, when given, replace its subject alternative names. Its key file is journaled too: a renewal
    by hand (kubeadm certs renew) writes a new key, and reset must put back a matching pair.
    """
    try:
        new = reissued_pem(
            node.read_text(cert).encode(), node.read_text(ca_cert).encode(), node.read_text(ca_key).encode(),
            starts, lasts, self_signed_key, names,
        )  # fmt: skip
    except ValueError as exc:
        raise StepError(f"{node.name}: cannot read the certificates to re-issue {cert}: {exc}") from None
    except StepError as exc:
        raise StepError(f"{node.name}: {ca_key}: {exc}") from None
    if node.exists(_key_of(cert)):
        changes.keep_file(node, _key_of(cert))
    changes.write_file(node, cert, new)


def remember_names(node: Node, state: SessionState, cert: str = APISERVER_CERT) -> None:
    """Note the names (SANs) a certificate carries now, so that a check can require them later."""
    from cryptography import x509

    try:
        current = x509.load_pem_x509_certificate(node.read_text(cert).encode())
    except ValueError as exc:
        raise StepError(f"{node.name}: cannot read {cert}: {exc}") from None
    state.set(names_key(cert), cert_names(current))


def expire_cert(
    node: Node,
    changes: ChangeLog,
    cert: str = APISERVER_CERT,
    ca_cert: str = CA_CERT,
    ca_key: str = CA_KEY,
    expired_days_ago: int = 2,
) -> None:
    """Re-issue a certificate as it is (subject, key, SANs), signed by its CA, but already expired."""
    _reissue(
        node, changes, cert, ca_cert, ca_key,
        starts=-datetime.timedelta(days=365 + expired_days_ago), lasts=datetime.timedelta(days=365),
    )  # fmt: skip


def renew_cert(
    node: Node,
    changes: ChangeLog,
    cert: str = APISERVER_CERT,
    ca_cert: str = CA_CERT,
    ca_key: str = CA_KEY,
    days: int = 365,
    names: list[str] | None = None,
) -> None:
    """Re-issue a certificate for DAYS from now, signed by its CA; NAMES (DNS:x, IP:y) replace its SANs."""
    _reissue(
        node, changes, cert, ca_cert, ca_key,
        starts=-datetime.timedelta(minutes=5), lasts=datetime.timedelta(days=days, minutes=5), names=names,
    )  # fmt: skip


def self_sign_cert(
    node: Node, changes: ChangeLog, cert: str = APISERVER_CERT, ca_cert: str = CA_CERT, ca_key: str = CA_KEY
) -> None:
    """Re-issue a certificate for a year, signed by a throwaway CA that no client trusts (a known shortcut)."""
    _reissue(
        node, changes, cert, ca_cert, ca_key,
        starts=-datetime.timedelta(minutes=5), lasts=datetime.timedelta(days=365), self_signed_key=True,
    )  # fmt: skip


def kubeadm_renew(node: Node, changes: ChangeLog, name: str = "apiserver", cert: str = APISERVER_CERT) -> None:
    """Renew a kubeadm certificate as an admin would: `kubeadm certs renew NAME` (a new key: both are journaled)."""
    for path in (cert, _key_of(cert)):
        changes.keep_file(node, path)
    node.check(f"kubeadm certs renew {shlex.quote(name)}", timeout=KUBEADM_RENEW_TIMEOUT_S)
