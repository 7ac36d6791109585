"""A kubelet's client certificate re-issued expired or renewed from the cluster's CA, judged and put back."""

from __future__ import annotations

import dataclasses
import datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from breakers import kubelet_certs
from breakfix.changes import ChangeLog
from breakfix.context import SessionState
from breakfix.inventory import NodeSpec, TransportSpec
from breakfix.transport.node import Node
from breakfix.undo import replay
from graders.client_certs import kubeconfig_cert_valid
from tests.fakes import FakeTransport
from tests.unit.contexts import make_ctx
from tests.unit.test_pki import NOW, make_ca, pem

LINK = "/var/lib/kubelet/pki/kubelet-client-current.pem"
TARGET = "/var/lib/kubelet/pki/kubelet-client-2026-12-02-16-09-56.pem"
KUBELET_CONF = f"""apiVersion: v1
kind: Config
clusters: [{{name: k, cluster: {{server: "https://10.0.0.2:6443"}}}}]
users: [{{name: default-auth, user: {{client-certificate: {LINK}, client-key: {LINK}}}}}]
contexts: [{{name: default, context: {{cluster: k, user: default-auth}}}}]
current-context: default
"""


def _node_cert(ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, key: ec.EllipticCurvePrivateKey) -> bytes:
    from cryptography.hazmat.primitives import hashes

    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:nodes"),
            x509.NameAttribute(NameOID.COMMON_NAME, "system:node:w1"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(77)
        .not_valid_before(NOW - datetime.timedelta(days=1))
        .not_valid_after(NOW + datetime.timedelta(days=365))
        .sign(ca_key, hashes.SHA256())
    )
    return pem(cert)


def test_expired_then_renewed_the_kubelet_keeps_its_identity_and_key_and_reset_puts_the_file_back() -> None:
    ca, ca_key = make_ca()
    key = ec.generate_private_key(ec.SECP256R1())
    original = _node_cert(ca, ca_key, key) + pem(key)
    cp = FakeTransport({"/etc/kubernetes/pki/ca.crt": pem(ca), "/etc/kubernetes/pki/ca.key": pem(ca_key)}, name="cp1")
    w = FakeTransport(
        {
            TARGET: original,
            "/etc/kubernetes/kubelet.conf": KUBELET_CONF.encode(),
            "/etc/kubernetes/pki/ca.crt": pem(ca),
        },
        name="w1",
    )
    w.expect(rf"readlink -f -- {LINK}", stdout=TARGET + "\n")
    ctx = make_ctx(cp)
    ctx.cluster = dataclasses.replace(
        ctx.cluster, nodes=(*ctx.cluster.nodes, NodeSpec("w1", "worker", TransportSpec("local"), "10.0.0.3"))
    )
    worker = Node("w1", "worker", w, "10.0.0.3")
    ctx._nodes["w1"] = worker
    nodes = [ctx.node("cp1"), worker]
    state = SessionState(ctx.store, None)
    w.files[LINK] = original  # the fake has no links: what reading the link gives

    kubelet_certs.expire_kubelet_client_cert(worker, ChangeLog(ctx, "break"), state, nodes)
    w.files[LINK] = w.files[TARGET]
    written = x509.load_pem_x509_certificate(w.files[TARGET])
    assert written.not_valid_after_utc < NOW and written.subject.rfc4514_string() == "CN=system:node:w1,O=system:nodes"
    assert pem(key) in w.files[TARGET]  # the key stays
    judged = kubeconfig_cert_valid(worker, "/etc/kubernetes/kubelet.conf", state)
    assert judged.status == "fail" and "one this lab started with" in judged.message

    kubelet_certs.renew_kubelet_client_cert(worker, ChangeLog(ctx, "solve"), nodes)
    w.files[LINK] = w.files[TARGET]
    assert kubeconfig_cert_valid(worker, "/etc/kubernetes/kubelet.conf", state).ok

    kubelet_certs.renew_kubelet_client_cert(worker, ChangeLog(ctx, "cheat"), nodes, days=7)
    w.files[LINK] = w.files[TARGET]
    week = kubeconfig_cert_valid(worker, "/etc/kubernetes/kubelet.conf", state)
    assert week.status == "fail" and "less than the 300 asked" in week.message

    replay(ctx)
    assert w.files[TARGET] == original


def test_kubeadms_documented_fix_writes_the_control_planes_kubeconfig_for_the_node() -> None:
    cp = FakeTransport(name="cp1")
    made = "apiVersion: v1\nusers:\n- name: system:node:w1\n  user: {client-certificate-data: QQ==}\n"
    cp.expect(r"kubeadm kubeconfig user --org system:nodes --client-name system:node:w1", stdout=made)
    w = FakeTransport({"/etc/kubernetes/kubelet.conf": b"old"}, name="w1")
    ctx = make_ctx(cp)
    worker = Node("w1", "worker", w, "10.0.0.3")
    kubelet_certs.kubeadm_node_kubeconfig(worker, ChangeLog(ctx, "fix"), [ctx.node("cp1"), worker])
    assert w.files["/etc/kubernetes/kubelet.conf"] == made.encode()
