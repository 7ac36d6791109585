"""graders.static_pods: mutual TLS as a client sees it, and where the running kubelet reads its static pods."""

from __future__ import annotations

import datetime
import json
import re

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from breakfix.certs import names_key
from breakfix.context import SessionState
from breakfix.state import State
from breakfix.transport.base import CommandResult
from breakfix.transport.node import Node
from graders import static_pods
from tests.fakes import FakeTransport, unit_settings

NOW = datetime.datetime.now(datetime.UTC)
CA = "/etc/kubernetes/pki/etcd/ca.crt"
SERVER = "/etc/kubernetes/pki/etcd/server.crt"
NAMES = ["DNS:cp1", "DNS:localhost", "IP:10.0.0.2", "IP:127.0.0.1"]


def make_ca(name: str = "etcd-ca") -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - datetime.timedelta(days=1))
        .not_valid_after(NOW + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def leaf(ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, names: list[str] = NAMES, days: int = 365) -> str:
    sans: list[x509.GeneralName] = []
    for name in names:
        kind, _, value = name.partition(":")
        if kind == "IP":
            import ipaddress

            sans.append(x509.IPAddress(ipaddress.ip_address(value)))
        else:
            sans.append(x509.DNSName(value))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cp1")]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(NOW - datetime.timedelta(days=1))
        .not_valid_after(NOW + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def noted(names: list[str] = NAMES) -> SessionState:
    state = SessionState(State(), None)
    state.set(names_key(SERVER), names)
    return state


def etcd_node(served: str | None, anonymous_ok: bool = False, mutual_ok: bool = True) -> tuple[Node, x509.Certificate]:
    """cp1 whose etcd shows SERVED (None: no TLS) and answers clients as told."""
    ca, _key = make_ca()
    t = FakeTransport({CA: ca.public_bytes(serialization.Encoding.PEM)})
    if served is None:
        t.expect(r"timeout 15 openssl s_client .*", rc=1)
    else:
        t.expect(r"timeout 15 openssl s_client -connect \S+ -cert \S+ -key \S+ .*", stdout=served)
    t.expect(
        r"curl -fsS --max-time 5 --cacert .*", rc=0 if mutual_ok else 35, stderr="" if mutual_ok else "curl: (35) x"
    )
    t.expect(
        r"curl -fsS -k --max-time 5 \S+", rc=0 if anonymous_ok else 56, stderr="curl: (56) alert certificate required"
    )
    return Node("cp1", "control-plane", t, "10.0.0.2"), ca


URLS = "https://127.0.0.1:2379,https://10.0.0.2:2379"


def judge(node: Node, state: SessionState | None = None, urls: str = URLS) -> tuple[str, str]:
    result = static_pods.serves_mutual_tls(node, state or noted(), urls=urls, names_of=SERVER)
    return result.status, result.message


def test_the_clusters_etcd_certificate_with_client_checks_passes() -> None:
    ca, ca_key = make_ca()
    node, _ = etcd_node(None)
    t = node.transport
    assert isinstance(t, FakeTransport)
    t.files[CA] = ca.public_bytes(serialization.Encoding.PEM)
    t.scripts.clear()
    t.expect(r"timeout 15 openssl s_client .*", stdout=leaf(ca, ca_key))
    t.expect(r"curl -fsS --max-time 5 --cacert .*")
    t.expect(r"curl -fsS -k --max-time 5 \S+", rc=56)
    status, message = judge(node)
    assert status == "pass", message
    # both URLs were tried, each with the client certificate, and without one
    assert sum("s_client" in line for line in t.log) == 2
    assert any("https://10.0.0.2:2379/health" in line and "-k" in line for line in t.log)


def test_a_self_made_certificate_fails() -> None:
    other, other_key = make_ca("self-signed")
    node, _ = etcd_node(leaf(other, other_key))
    status, message = judge(node)
    assert status == "fail"
    assert "self-signed" in message and "reject" in message


def test_names_lost_fail_even_when_the_ca_is_right() -> None:
    ca, ca_key = make_ca()
    node, _ = etcd_node(None)
    t = node.transport
    assert isinstance(t, FakeTransport)
    t.files[CA] = ca.public_bytes(serialization.Encoding.PEM)
    t.scripts.clear()
    t.expect(r"timeout 15 openssl s_client .*", stdout=leaf(ca, ca_key, names=["IP:127.0.0.1"]))
    t.expect(r"curl .*")
    status, message = judge(node, urls="https://127.0.0.1:2379")
    assert status == "fail"
    assert "DNS:cp1" in message and "IP:10.0.0.2" in message


def test_plain_http_and_no_tls_fail() -> None:
    node, _ = etcd_node(None)
    status, message = judge(node, urls="http://127.0.0.1:2379")
    assert status == "fail" and "not https" in message
    status, message = judge(node, urls="https://127.0.0.1:2379")
    assert status == "fail" and "does not answer over TLS" in message


def test_a_server_that_lets_anyone_in_fails() -> None:
    ca, ca_key = make_ca()
    node, _ = etcd_node(None)
    t = node.transport
    assert isinstance(t, FakeTransport)
    t.files[CA] = ca.public_bytes(serialization.Encoding.PEM)
    t.scripts.clear()
    t.expect(r"timeout 15 openssl s_client .*", stdout=leaf(ca, ca_key))
    t.expect(r"curl .*")  # with or without a certificate: it answers
    status, message = judge(node, urls="https://127.0.0.1:2379")
    assert status == "fail" and "shows no certificate" in message


def test_a_certificate_about_to_expire_fails() -> None:
    ca, ca_key = make_ca()
    node, _ = etcd_node(None)
    t = node.transport
    assert isinstance(t, FakeTransport)
    t.files[CA] = ca.public_bytes(serialization.Encoding.PEM)
    t.scripts.clear()
    t.expect(r"timeout 15 openssl s_client .*", stdout=leaf(ca, ca_key, days=5))
    t.expect(r"curl .*")
    status, message = judge(node, urls="https://127.0.0.1:2379")
    assert status == "fail" and "expires in" in message


def test_names_not_noted_at_setup_are_an_error() -> None:
    node, _ = etcd_node(None)
    result = static_pods.serves_mutual_tls(node, SessionState(State(), None), urls=URLS, names_of=SERVER)
    assert result.status == "error"


# the kubelet's static pod folder -----------------------------------------------------------------


def kubelet_node(
    config: dict[str, object] | None, same: bool = True, rc: int = 0, main_pid: str = "1188", **unit: str
) -> tuple[Node, FakeTransport]:
    t = FakeTransport()
    unit_settings(t, **unit)
    listening = 'LISTEN 0 4096 *:10250 *:* users:(("kubelet",pid=1188,fd=21))'
    t.expect(
        r"systemctl show kubelet -p MainPID --value; ss -Hltnp 'sport = :10250'", stdout=f"{main_pid}\n{listening}\n"
    )
    body = json.dumps({"kubeletconfig": config}) if config is not None else ""
    t.expect(r"curl -fsS -k --max-time 10 --cert \S+ --key \S+ https://127.0.0.1:10250/configz", rc=rc, stdout=body,
             stderr="" if rc == 0 else "curl: (22) The requested URL returned error: 403")  # fmt: skip

    def realpath(line: str) -> CommandResult:
        first, second = line.split()[-2:]
        return CommandResult(0, f"{'/etc/kubernetes/manifests' if same else first}\n{second}\n", "")

    t.scripts.append((re.compile(r"realpath -m -- .*"), realpath))
    return Node("cp1", "control-plane", t, "10.0.0.2"), t


def test_the_kubelet_reading_the_kubeadm_folder_passes() -> None:
    node, _ = kubelet_node({"staticPodPath": "/etc/kubernetes/manifests"})
    result = static_pods.kubelet_static_pod_path(node)
    assert result.status == "pass", result.message


def test_a_link_to_the_kubeadm_folder_counts_as_it() -> None:
    node, t = kubelet_node({"staticPodPath": "/etc/kubernetes/static"}, same=True)
    assert static_pods.kubelet_static_pod_path(node).status == "pass"
    assert any("realpath -m -- /etc/kubernetes/static /etc/kubernetes/manifests" in line for line in t.log)


def test_the_right_folder_from_a_runtime_drop_in_fails() -> None:
    node, _ = kubelet_node(
        {"staticPodPath": "/etc/kubernetes/manifests"},
        dropins="/etc/systemd/system/kubelet.service.d/10-kubeadm.conf /run/systemd/system/kubelet.service.d/99.conf",
    )
    result = static_pods.kubelet_static_pod_path(node)
    assert result.status == "fail" and "the next boot loses" in result.message


@pytest.mark.parametrize(
    ("main_pid", "why"),
    [("4242", "is not the process kubelet.service started"), ("0", "is not kubelet.service (the unit is not running)")],
)
def test_a_kubelet_started_by_hand_reading_the_right_folder_fails(main_pid: str, why: str) -> None:
    node, _ = kubelet_node({"staticPodPath": "/etc/kubernetes/manifests"}, main_pid=main_pid)
    result = static_pods.kubelet_static_pod_path(node)
    assert result.status == "fail" and why in result.message


def test_another_folder_fails_even_with_copies_of_the_manifests() -> None:
    node, _ = kubelet_node({"staticPodPath": "/etc/kubernetes/manifest"}, same=False)
    result = static_pods.kubelet_static_pod_path(node)
    assert result.status == "fail"
    assert "/etc/kubernetes/manifest," in result.message


def test_no_static_pods_or_no_answer_fail() -> None:
    node, _ = kubelet_node({"staticPodPath": ""})
    assert static_pods.kubelet_static_pod_path(node).status == "fail"
    node, _ = kubelet_node(None, rc=22)
    result = static_pods.kubelet_static_pod_path(node)
    assert result.status == "fail" and "403" in result.message


# breakers.static_pods.link -----------------------------------------------------------------------


def test_link_is_journaled_and_undone() -> None:
    import pytest

    from breakers import static_pods as static_pod_breakers
    from breakfix.changes import ChangeLog
    from breakfix.errors import StepError
    from breakfix.undo import replay
    from tests.unit.contexts import make_ctx

    t = FakeTransport({"/etc/kubernetes/manifests": b""})
    links: dict[str, str] = {}

    def ln(line: str) -> CommandResult:
        target, path = line.split()[-2:]
        links[path] = target
        return CommandResult(0, "", "")

    t.scripts.append((re.compile(r"ln -s -- \S+ \S+"), ln))
    ctx = make_ctx(t)
    node = ctx.node("cp1")
    static_pod_breakers.link(
        node, ChangeLog(ctx, "alternative"), "/etc/kubernetes/manifest", "/etc/kubernetes/manifests"
    )
    assert links == {"/etc/kubernetes/manifest": "/etc/kubernetes/manifests"}
    assert [e.kind for e in ctx.store.journal("test")] == ["command"]
    replay(ctx)
    assert t.log[-1] == "rm -f -- /etc/kubernetes/manifest"  # the link itself, never what it leads to

    taken = FakeTransport({"/etc/x": b"", "/etc/y": b""})
    ctx = make_ctx(taken)
    with pytest.raises(StepError, match="already exists"):
        static_pod_breakers.link(ctx.node("cp1"), ChangeLog(ctx, "alternative"), "/etc/x", "/etc/y")


def test_another_certificate_of_the_same_ca_fails_when_one_is_required() -> None:
    """etcd serving kubeadm's peer certificate: same CA, same names, but not the serving certificate."""
    ca, ca_key = make_ca()
    server, peer = leaf(ca, ca_key), leaf(ca, ca_key)
    for served, status in ((peer, "fail"), (server, "pass")):
        node, _ = etcd_node(None)
        t = node.transport
        assert isinstance(t, FakeTransport)
        t.files[CA] = ca.public_bytes(serialization.Encoding.PEM)
        t.files[SERVER] = server.encode()
        t.scripts.clear()
        t.expect(r"timeout 15 openssl s_client .*", stdout=served)
        t.expect(r"curl -fsS --max-time 5 --cacert .*")
        t.expect(r"curl -fsS -k --max-time 5 \S+", rc=56)
        result = static_pods.serves_mutual_tls(node, noted(), urls=URLS, names_of=SERVER, same_as=SERVER)
        assert result.status == status, result.message
        assert status == "pass" or "another key than the server's own" in result.message
