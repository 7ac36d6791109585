"""Checks on the client certificate a kubeconfig on a node presents: from the cluster's CA, and valid long enough."""

from __future__ import annotations

import base64
import binascii
import datetime
import posixpath

from breakers.cert_faults import serials_key
from breakfix.context import SessionState
from breakfix.results import CheckResult, failed, passed
from breakfix.transport.node import Node
from graders.kubeconfig_file import _config, _current

CA_CERT = "/etc/kubernetes/pki/ca.crt"


def _client_pem(node: Node, path: str) -> bytes | str:
    """The PEM certificate a kubeconfig's current user presents, or why there is none."""
    config = _config(node, path)
    if isinstance(config, CheckResult):
        return config.message
    user = _current(config, "user")
    if user is None:
        return f"{path} on {node.name}: its current context names no user"
    if user.get("client-certificate-data"):
        try:
            return base64.b64decode(str(user["client-certificate-data"]), validate=False)
        except (ValueError, binascii.Error):
            return f"{path} on {node.name}: its client-certificate-data is not base64"
    if user.get("client-certificate"):
        file = posixpath.normpath(posixpath.join(posixpath.dirname(path), str(user["client-certificate"])))
        return node.read(file) or f"{path} on {node.name}: its client certificate {file} does not exist"
    return f"{path} on {node.name}: its current user presents no client certificate"


def kubeconfig_cert_valid(
    node: Node,
    path: str,
    state: SessionState,
    min_days: int = 300,
    ca: str = CA_CERT,
    forbid_groups: list[str] | None = None,
) -> CheckResult:
    """The client certificate the kubeconfig at PATH presents is from the cluster's CA, valid now and MIN_DAYS more.

    It carries none of FORBID_GROUPS (default: system:masters, which no RBAC rule can restrict), and is none
    of the certificates breakers.cert_faults noted at the break (a copy kept from before brings one back)."""
    from cryptography import x509

    pem = _client_pem(node, path)
    if isinstance(pem, str):
        return failed(pem)
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError:
        return failed(f"{path} on {node.name}: its client certificate cannot be read")
    issuer_pem = node.read(ca)
    if issuer_pem is None:
        return CheckResult("error", f"the cluster's CA certificate {ca} is not on {node.name}")
    try:
        cert.verify_directly_issued_by(x509.load_pem_x509_certificate(issuer_pem))
    except Exception:  # InvalidSignature, ValueError, TypeError: another issuer
        return failed(f"{path} on {node.name}: its client certificate is not from the cluster's CA ({ca})")
    if format(cert.serial_number, "x") in (state.get(serials_key(path)) or []):
        return failed(f"{path} on {node.name}: its client certificate is one this lab started with")
    now = datetime.datetime.now(datetime.UTC)
    if cert.not_valid_before_utc > now or cert.not_valid_after_utc <= now:
        return failed(f"{path} on {node.name}: its client certificate is not valid now")
    groups = {str(a.value) for a in cert.subject.get_attributes_for_oid(x509.oid.NameOID.ORGANIZATION_NAME)}
    extra = sorted(groups & set(["system:masters"] if forbid_groups is None else forbid_groups))
    if extra:
        return failed(f"{path} on {node.name}: its client certificate puts its user in {', '.join(extra)}")
    left = cert.not_valid_after_utc - now
    if left < datetime.timedelta(days=min_days):
        return failed(
            f"{path} on {node.name}: its client certificate is valid for {left.days} more days, "
            f"less than the {min_days} asked"
        )
    return passed(f"{path} on {node.name} presents a certificate from the cluster's CA, valid {left.days} more days")
