"""Who a kubeconfig on a node authenticates as: the user (CN) and groups (O) of its client certificate."""

from __future__ import annotations

import base64
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass

import yaml

from breakfix.errors import StepError
from breakfix.results import CheckResult, failed, passed
from breakfix.transport.node import Node

_PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)


@dataclass(frozen=True)
class Identity:
    """A client certificate's user name (subject CN) and groups (subject O)."""

    user: str
    groups: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.user or 'nobody'}" + (f" (groups {', '.join(self.groups)})" if self.groups else "")


def cert_identity(pem: bytes) -> Identity:
    """The identity in the first PEM certificate of PEM (a cert+key bundle such as the kubelet's is fine)."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    found = _PEM_CERT.search(pem)
    if found is None:
        raise ValueError("no PEM certificate")
    subject = x509.load_pem_x509_certificate(found.group(0)).subject
    names = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    groups = subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return Identity(str(names[0].value) if names else "", tuple(str(g.value) for g in groups))


def kubeconfig_identity(node: Node, path: str, on_host: Callable[[str], str | None] | None = None) -> Identity | None:
    """The identity the kubeconfig at PATH on NODE presents, None when it has no client certificate.

    ON_HOST maps a path as the kubeconfig's reader sees it (e.g. inside a pod) to the node's own path.
    """
    locate = on_host or (lambda p: p)
    host = locate(path)
    if host is None or not node.exists(host):
        raise StepError(f"{path}: no such file on {node.name}")
    try:
        config = yaml.safe_load(node.read_text(host)) or {}
    except yaml.YAMLError as exc:
        raise StepError(f"{path} on {node.name} is not valid YAML: {exc}") from None
    if not isinstance(config, dict):
        raise StepError(f"{path} on {node.name} is not a kubeconfig")
    contexts = {c.get("name"): c.get("context") or {} for c in config.get("contexts") or []}
    users = {u.get("name"): u.get("user") or {} for u in config.get("users") or []}
    user = users.get(contexts.get(config.get("current-context"), {}).get("user"), {})
    if user.get("client-certificate-data"):
        pem = base64.b64decode(user["client-certificate-data"])
    elif user.get("client-certificate"):
        cert_path = posixpath.join(posixpath.dirname(path), user["client-certificate"])  # relative to the file
        cert_host = locate(cert_path)
        if cert_host is None or not node.exists(cert_host):
            raise StepError(f"{path} names a client certificate {cert_path} that is not on {node.name}")
        pem = node.read(cert_host) or b""
    else:
        return None
    try:
        return cert_identity(pem)
    except ValueError as exc:
        raise StepError(f"{path} on {node.name}: unreadable client certificate: {exc}") from None


def judge_identity(found: Identity | None, where: str, user: str, groups: list[str]) -> CheckResult:
    """Pass when FOUND is USER with every one of GROUPS; WHERE names the credentials in the message."""
    if found is None:
        return failed(f"{where} authenticates with no client certificate, not as {user}")
    if found.user != user:
        return failed(
            f"{where} authenticates as {found}, not {user}",
            "Each component has its own credentials; borrowing another's hides who does what.",
        )
    missing = [g for g in groups if g not in found.groups]
    if missing:
        return failed(f"{where} authenticates as {found}, without the group {', '.join(missing)}")
    return passed(f"{where} authenticates as {found}")


def kubeconfig_identity_is(node: Node, path: str, user: str, groups: list[str] | None = None) -> CheckResult:
    """A kubeconfig on the node authenticates as the expected user (and groups)."""
    try:
        found = kubeconfig_identity(node, path)
    except StepError as exc:
        return failed(str(exc))
    return judge_identity(found, path, user, groups or [])
