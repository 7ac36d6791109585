"""Checks on what the control plane does for its clients: probes that pass, admission that holds, CSRs signed."""

from __future__ import annotations

import base64
import http.client
import json
import os
import ssl
import tempfile
import time
import uuid
from collections.abc import Callable
from typing import Any

import yaml

from breakers._manifests import main_container
from breakfix.durations import Seconds
from breakfix.errors import BreakfixError, StepError
from breakfix.inventory import ClusterSpec
from breakfix.kube import Kube
from breakfix.results import CheckResult, failed, passed
from breakfix.transport.node import Node
from graders.pki import _api_endpoint
from graders.static_pod import _pod

KUBELET_KUBECONFIG = "/etc/kubernetes/kubelet.conf"
PROBE_KINDS = ("livenessProbe", "readinessProbe", "startupProbe")


# probes -------------------------------------------------------------------------------------


def _probe_port(container: dict[str, Any], port: Any) -> int | None:
    """A probe's port as a number: numeric, or the containerPort of the named port."""
    if isinstance(port, int):
        return port
    if isinstance(port, str) and port.isdigit():
        return int(port)
    for named in container.get("ports") or []:
        if named.get("name") == port and named.get("containerPort"):
            return int(named["containerPort"])
    return None


def _probe_command(node: Node, container: dict[str, Any], probe: dict[str, Any]) -> tuple[str, str] | str:
    """(what, shell command) that does what the kubelet's probe does from the node, or why it cannot be tried."""
    if "httpGet" in probe:
        get = probe["httpGet"]
        port = _probe_port(container, get.get("port"))
        if port is None:
            return f"its port {get.get('port')!r} is no port of the container"
        scheme = str(get.get("scheme") or "HTTP").lower()
        host = get.get("host") or node.ip
        path = str(get.get("path") or "/")
        url = f"{scheme}://{host}:{port}{path if path.startswith('/') else '/' + path}"
        return url, f"curl -sk -o /dev/null -w '%{{http_code}}' --max-time 5 '{url}'"
    if "tcpSocket" in probe:
        sock = probe["tcpSocket"]
        port = _probe_port(container, sock.get("port"))
        if port is None:
            return f"its port {sock.get('port')!r} is no port of the container"
        host = sock.get("host") or node.ip
        return f"tcp {host}:{port}", f"timeout 5 bash -c 'exec 3<>/dev/tcp/{host}/{port}' && echo 200"
    return "it runs no HTTP or TCP check of the server"


def probes_pass(node: Node, manifest: str, container: str | None = None) -> CheckResult:
    """The static pod keeps its liveness and readiness probes, and each of its probes succeeds now, tried from the node.

    What the kubelet would see: an HTTP probe answers 200-399 on the port it names (a named port is
    looked up in the container's ports), a TCP probe connects. A probe at a port nothing serves, or a
    probe removed, fails.
    """
    pod = _pod(node, manifest)
    if not (pod.get("spec") or {}).get("hostNetwork"):
        return CheckResult("error", f"{manifest} does not run on the host network: its probes cannot be tried")
    box = main_container(pod, container)
    missing = [kind for kind in ("livenessProbe", "readinessProbe") if not box.get(kind)]
    if missing:
        return failed(
            f"{manifest} lost its {' and '.join(missing)}",
            "Without its probes the kubelet can no longer tell a dead server from a live one.",
        )
    bad: list[str] = []
    tried: list[str] = []
    for kind in PROBE_KINDS:
        probe = box.get(kind)
        if not probe:
            continue
        how = _probe_command(node, box, probe)
        if isinstance(how, str):
            bad.append(f"its {kind}: {how}")
            continue
        what, command = how
        answer = node.run(command, timeout=30)
        code = answer.stdout.strip()[-3:]
        if not answer.ok or not code.isdigit() or not 200 <= int(code) < 400:
            why = f"HTTP {code}" if code.isdigit() and code != "000" else "no answer"
            bad.append(f"its {kind} ({what}) fails: {why}")
        else:
            tried.append(what)
    if bad:
        return failed(
            f"{manifest} on {node.name}: " + "; ".join(bad),
            "The kubelet restarts a container whose liveness probe fails: where does the server listen?",
        )
    return passed(f"{manifest}'s probes pass on {node.name} ({', '.join(sorted(set(tried)))})")


# units that must stay down ----------------------------------------------------------------------------

#: What `systemctl is-enabled` says of a unit that nothing starts at boot.
STAYS_DOWN = ("disabled", "masked", "masked-runtime", "not-found", "")


def unit_stays_down(node: Node, unit: str) -> CheckResult:
    """The unit does not run, and does not start at boot (disabled, masked or removed): it will not come back."""
    active = node.run("systemctl is-active %s", unit, timeout=30).stdout.strip()
    if active in ("active", "activating", "reloading", "deactivating"):
        return failed(
            f"{unit} still runs on {node.name} ({active})",
            f"systemctl status {unit}: what does it run, and what does it hold?",
        )
    enabled = node.run("systemctl is-enabled %s", unit, timeout=30)
    state = enabled.stdout.strip().splitlines()[-1] if enabled.stdout.strip() else ""
    if state not in STAYS_DOWN:
        return failed(
            f"{unit} is stopped on {node.name}, but {state}: it starts again at the next boot",
            "A stopped unit that is still enabled comes back after a reboot.",
        )
    return passed(f"{unit} does not run on {node.name} and does not start at boot ({state or 'no such unit'})")


# requests to the API server with a client certificate ---------------------------------------------


def _api_request(
    cluster: ClusterSpec, cert_pem: bytes, key_pem: bytes, method: str, path: str, body: Any = None, timeout: float = 15
) -> tuple[int, str]:
    """(HTTP status, body) of one request to the API server, authenticated with a client certificate."""
    host, port, ca = _api_endpoint(cluster)
    context = ssl.create_default_context(cadata=ca.decode())
    context.check_hostname = False  # the kubeconfig's address may be a forwarded port, not a SAN
    with tempfile.TemporaryDirectory(prefix="breakfix-cred-") as tmp:
        cert_file, key_file = os.path.join(tmp, "c.pem"), os.path.join(tmp, "k.pem")
        for file, data in ((cert_file, cert_pem), (key_file, key_pem)):
            fd = os.open(file, os.O_WRONLY | os.O_CREAT, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(data)
        context.load_cert_chain(cert_file, key_file)
    conn = http.client.HTTPSConnection(host, port, context=context, timeout=timeout)
    try:
        headers = {"Accept": "application/json"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/merge-patch+json" if method == "PATCH" else "application/json"
        conn.request(method, path, body=payload, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read().decode(errors="replace")
    finally:
        conn.close()


def _message(body: str) -> str:
    try:
        return str(json.loads(body).get("message") or body)[:300]
    except (ValueError, AttributeError):
        return body.strip()[:300]


def _kubeconfig_credentials(node: Node, path: str) -> tuple[bytes, bytes]:
    """The client certificate and key a kubeconfig on NODE uses (inline data or files on the node)."""
    config = yaml.safe_load(node.read_text(path)) or {}
    users = config.get("users") or []
    if not users:
        raise StepError(f"{node.name}:{path} names no user")
    user = users[0].get("user") or {}

    def part(name: str) -> bytes:
        if user.get(f"{name}-data"):
            return base64.b64decode(user[f"{name}-data"])
        if user.get(name):
            return node.read_text(user[name]).encode()
        raise StepError(f"{node.name}:{path} has no {name}")

    return part("client-certificate"), part("client-key")


# NodeRestriction ---------------------------------------------------------------------------------


def _label_patch(cluster: ClusterSpec, cert: bytes, key: bytes, target: str) -> tuple[int, str]:
    """A server-side dry run (nothing is stored) of labelling node TARGET with these credentials."""
    patch = {"metadata": {"labels": {"breakfix.dev/admission-probe": "x"}}}
    return _api_request(cluster, cert, key, "PATCH", f"/api/v1/nodes/{target}?dryRun=All", patch)


def node_restriction_enforced(node: Node, nodes: list[Node], cluster: ClusterSpec) -> CheckResult:
    """A node's own kubelet credentials may change its own Node object but not another node's (NodeRestriction).

    Both are server-side dry runs: admission judges them, nothing is stored.
    """
    others = [n for n in nodes if n.name != node.name]
    if not others:
        return CheckResult("error", "this check needs a second node")
    try:
        cert, key = _kubeconfig_credentials(node, KUBELET_KUBECONFIG)
        own = _label_patch(cluster, cert, key, node.name)
        if own[0] != 200:  # credentials that cannot do what a kubelet must prove nothing about other nodes
            return CheckResult(
                "error", f"{node.name}'s kubelet cannot change its own Node object (HTTP {own[0]}): {_message(own[1])}"
            )
        other = _label_patch(cluster, cert, key, others[0].name)
    except (BreakfixError, OSError, ssl.SSLError, ValueError, http.client.HTTPException) as exc:
        return CheckResult("error", f"cannot try {node.name}'s kubelet credentials: {exc}")
    if other[0] == 200:
        return failed(
            f"{node.name}'s kubelet credentials may change node {others[0].name}: a node is no longer kept to itself",
            "Which admission plugins does kube-apiserver run? kubeadm enables one that confines each kubelet.",
        )
    if other[0] == 403 and "not allowed to modify node" in other[1]:
        return passed(f"{node.name}'s kubelet may change only its own Node object")
    return CheckResult(
        "error", f"unexpected answer to {node.name} changing {others[0].name}: HTTP {other[0]} {_message(other[1])}"
    )


# certificate signing requests ------------------------------------------------------------------------


def _approve(cluster: ClusterSpec, name: str) -> None:
    """Approve a CSR through its approval subresource, with the cluster's own kubeconfig."""
    from kubernetes import client, config

    if cluster.kubeconfig is None:
        raise StepError(f"cluster {cluster.name} has no kubeconfig")
    api = config.new_client_from_config(str(cluster.kubeconfig), context=cluster.context)  # type: ignore[no-untyped-call]
    try:
        certs = client.CertificatesV1Api(api)
        csr = certs.read_certificate_signing_request(name, _request_timeout=15)
        condition = client.V1CertificateSigningRequestCondition(
            type="Approved", status="True", reason="BreakfixProbe", message="approved by breakfix's grader"
        )
        if csr.status is None:
            csr.status = client.V1CertificateSigningRequestStatus()
        csr.status.conditions = [*(csr.status.conditions or []), condition]
        certs.replace_certificate_signing_request_approval(name, csr, _request_timeout=15)
    except client.exceptions.ApiException as exc:
        raise StepError(f"cannot approve CSR {name}: HTTP {exc.status} {exc.reason}") from None
    finally:
        api.close()


#: How a grader approves a CSR (tests put a fake here).
APPROVE: list[Callable[[ClusterSpec, str], None]] = [_approve]


def _new_request(common_name: str) -> tuple[bytes, bytes]:
    """A fresh private key and a CSR for CN=COMMON_NAME (PEM)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return csr.public_bytes(serialization.Encoding.PEM), key_pem


def _judge_issued(cluster: ClusterSpec, cert_pem: bytes, key_pem: bytes, user: str) -> CheckResult:
    """The certificate is signed by the cluster CA and the API server takes it as USER."""
    from cryptography import x509

    _host, _port, ca_pem = _api_endpoint(cluster)
    cert = x509.load_pem_x509_certificate(cert_pem)
    cas = x509.load_pem_x509_certificates(ca_pem)
    if not any(_signed_by(cert, ca) for ca in cas):
        return failed(
            f"the certificate issued for a new CSR is signed by {cert.issuer.rfc4514_string()}, not by the cluster CA: "
            "the API server does not accept it",
            "Which CA does the cluster's certificate signer use? Compare with the API server's --client-ca-file.",
        )
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    status, body = _api_request(
        cluster, cert_pem, key_pem, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", review
    )
    if status != 201:
        return failed(f"the certificate issued for a new CSR does not log in (HTTP {status}: {_message(body)})")
    name = ((json.loads(body).get("status") or {}).get("userInfo") or {}).get("username")
    if name != user:
        return failed(f"the certificate issued for a new CSR logs in as {name!r}, not {user!r}")
    return passed(f"a new CSR was issued a certificate from the cluster CA, and it logs in as {user}")


def _signed_by(cert: Any, ca: Any) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, Exception):  # InvalidSignature is not a ValueError
        return False
    return True


def csr_signed(
    kube: Kube, cluster: ClusterSpec, wait_for: Seconds = 60.0, signer: str = "kubernetes.io/kube-apiserver-client"
) -> CheckResult:
    """A new CSR for a client certificate, once approved, is issued one by the cluster CA that logs in as its user.

    The check creates the CSR (for a throwaway user), approves it, waits up to WAIT_FOR seconds for the
    certificate, logs in with it, and deletes the CSR.
    """
    name = f"breakfix-probe-{uuid.uuid4().hex[:8]}"
    request, key_pem = _new_request(name)
    csr = {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"name": name, "labels": {"breakfix.dev/probe": "csr"}},
        "spec": {
            "request": base64.b64encode(request).decode(),
            "signerName": signer,
            "expirationSeconds": 3600,
            "usages": ["digital signature", "client auth"],
        },
    }
    issued: str | None = None
    refused: list[dict[str, Any]] = []
    try:
        kube.create(csr)
        try:
            APPROVE[0](cluster, name)
            deadline = time.monotonic() + wait_for
            while True:
                live = kube.get("certificates.k8s.io/v1", "CertificateSigningRequest", name) or {}
                status = live.get("status") or {}
                issued = status.get("certificate")
                refused = [c for c in status.get("conditions") or [] if c.get("type") in ("Failed", "Denied")]
                if issued or refused or time.monotonic() >= deadline:
                    break
                time.sleep(2)
        finally:
            kube.delete("certificates.k8s.io/v1", "CertificateSigningRequest", name)
    except BreakfixError as exc:
        return CheckResult("error", f"could not run the certificate signing probe: {exc}")
    if refused:
        why = refused[0].get("message") or refused[0].get("reason") or refused[0].get("type")
        return failed(f"a new, approved CSR was refused a certificate: {why}")
    if not issued:
        return failed(
            f"a new CSR, approved, got no certificate within {wait_for:.0f}s",
            "Approved is not Issued: which component signs certificates for the cluster? Read its log.",
        )
    try:
        return _judge_issued(cluster, base64.b64decode(issued), key_pem, name)
    except (OSError, ssl.SSLError, ValueError, http.client.HTTPException) as exc:
        return CheckResult("error", f"cannot try the issued certificate: {exc}")
