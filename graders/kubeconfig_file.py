"""Checks on a user's kubeconfig file on a node, judged by using it there as its user would (kubectl)."""

from __future__ import annotations

import base64
import json
import posixpath
import re
from typing import Any

import yaml

from breakfix.results import CheckResult, failed, passed
from breakfix.transport.node import Node
from graders.identity import Identity, judge_identity

_PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)


def _config(node: Node, path: str) -> dict[str, Any] | CheckResult:
    """The kubeconfig at PATH on NODE, or a failed result saying why it is not one."""
    data = node.read(path)
    if data is None:
        return failed(f"{path} does not exist on {node.name}")
    try:
        config = yaml.safe_load(data)
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "invalid YAML"
        return failed(f"{path} on {node.name} is not valid YAML: {first}")
    if not isinstance(config, dict):
        return failed(f"{path} on {node.name} is not a kubeconfig")
    return config


def _current(config: dict[str, Any], section: str) -> dict[str, Any] | None:
    """The current context's entry of SECTION (cluster, context or user), None when it names none."""
    contexts = {c.get("name"): c.get("context") or {} for c in config.get("contexts") or [] if isinstance(c, dict)}
    context = contexts.get(config.get("current-context"))
    if context is None or not isinstance(context, dict):
        return None
    if section == "context":
        return context
    entries = {e.get("name"): e.get(section) or {} for e in config.get(f"{section}s") or [] if isinstance(e, dict)}
    entry = entries.get(context.get(section))
    return entry if isinstance(entry, dict) else None


def _whoami(node: Node, path: str, timeout: float = 10.0) -> Identity | str:
    """Who the API server says the kubeconfig at PATH is (kubectl auth whoami on NODE), or why it did not answer."""
    result = node.run(
        "kubectl --kubeconfig %s --request-timeout=%ss auth whoami -o json", path, f"{timeout:g}", timeout=timeout + 50
    )
    if result.rc == 127:
        raise FileNotFoundError(f"kubectl is not installed on {node.name}")
    if not result.ok:
        lines = [line.strip() for line in (result.stderr or result.stdout).splitlines() if line.strip()]
        return lines[-1][:300] if lines else f"kubectl exited {result.rc}"
    try:
        info = (json.loads(result.stdout).get("status") or {}).get("userInfo") or {}
    except (json.JSONDecodeError, AttributeError):
        return "kubectl auth whoami answered no identity"
    return Identity(str(info.get("username") or ""), tuple(str(g) for g in info.get("groups") or []))


def reaches_api(
    node: Node, path: str = "/root/.kube/config", user: str = "kubernetes-admin", groups: list[str] | None = None
) -> CheckResult:
    """kubectl on NODE with the kubeconfig at PATH reaches the API server, which knows it as USER (with GROUPS)."""
    try:
        found = _whoami(node, path)
    except FileNotFoundError as exc:
        return CheckResult("error", str(exc))
    if isinstance(found, str):
        return failed(f"kubectl on {node.name} with {path} gets no answer from the API server: {found}")
    result = judge_identity(found, f"kubectl on {node.name} with {path}", user, groups or [])
    if result.ok:
        return passed(f"kubectl on {node.name} with {path} reaches the API server as {found}")
    return result


def _trusted_pems(node: Node, path: str, cluster: dict[str, Any]) -> list[bytes] | str:
    """The CA certificates a kubeconfig's cluster entry trusts, or why there are none."""
    if cluster.get("certificate-authority-data"):
        try:
            bundle = base64.b64decode(str(cluster["certificate-authority-data"]), validate=False)
        except ValueError:
            return "its certificate-authority-data is not base64"
    elif cluster.get("certificate-authority"):
        file = posixpath.normpath(posixpath.join(posixpath.dirname(path), str(cluster["certificate-authority"])))
        bundle = node.read(file) or b""
        if not bundle:
            return f"its certificate-authority {file} does not exist"
    else:
        return "it names no certificate authority (only the system's public CAs would be trusted)"
    pems = _PEM_CERT.findall(bundle)
    return pems or "its certificate authority holds no PEM certificate"


def _der(pem: bytes) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    return x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)


def verifies_server(
    node: Node, path: str = "/root/.kube/config", ca: str = "/etc/kubernetes/pki/ca.crt"
) -> CheckResult:
    """The kubeconfig at PATH checks the API server's certificate, against the cluster's CA (file CA on NODE)."""
    config = _config(node, path)
    if isinstance(config, CheckResult):
        return config
    cluster = _current(config, "cluster")
    if cluster is None:
        return failed(f"{path} on {node.name}: its current context names no cluster")
    skip = cluster.get("insecure-skip-tls-verify")
    if skip is True or str(skip).lower() == "true":
        return failed(
            f"{path} on {node.name} does not verify the API server's certificate (insecure-skip-tls-verify)",
            "Anyone between kubectl and the server could answer as the cluster, and read the admin's requests.",
        )
    server = str(cluster.get("server") or "")
    if not server.startswith("https://"):
        return failed(f"{path} on {node.name} talks to {server or 'no server'}, not over https")
    cluster_ca = node.read(ca)
    if cluster_ca is None or not _PEM_CERT.search(cluster_ca):
        return CheckResult("error", f"the cluster's CA certificate {ca} is not on {node.name}")
    trusted = _trusted_pems(node, path, cluster)
    if isinstance(trusted, str):
        return failed(f"{path} on {node.name} cannot verify the API server: {trusted}")
    try:
        want = _der(_PEM_CERT.findall(cluster_ca)[0])
        have = [_der(pem) for pem in trusted]
    except ValueError as exc:
        return failed(f"{path} on {node.name}: an unreadable CA certificate: {exc}")
    if want not in have:
        return failed(
            f"{path} on {node.name} trusts a certificate authority that is not the cluster's ({ca})",
            "The API server's certificate is signed by the cluster's CA; a client must trust that one.",
        )
    return passed(f"{path} on {node.name} verifies the API server against the cluster's CA")


def default_namespace(node: Node, namespace: str, path: str = "/root/.kube/config") -> CheckResult:
    """kubectl with the kubeconfig at PATH works in NAMESPACE by default (its current context's namespace)."""
    config = _config(node, path)
    if isinstance(config, CheckResult):
        return config
    context = _current(config, "context")
    if context is None:
        return failed(f"{path} on {node.name} has no current context {config.get('current-context')!r}")
    found = str(context.get("namespace") or "default")
    if found != namespace:
        return failed(f"kubectl with {path} on {node.name} works in namespace {found} by default, not {namespace}")
    return passed(f"kubectl with {path} on {node.name} works in namespace {namespace} by default")
