"""breakers.cert_faults: certificates re-issued not yet valid or without a name, judged by a real TLS client."""

from __future__ import annotations

import base64
import datetime
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from breakers import cert_faults, pki
from breakfix.certs import cert_names
from breakfix.changes import ChangeLog
from breakfix.context import SessionState
from breakfix.errors import StepError
from breakfix.state import State
from breakfix.transport.node import Node
from breakfix.undo import replay
from graders import client_certs
from graders.pki import serving_cert_valid
from tests.fakes import FakeKube, FakeTransport
from tests.unit.contexts import make_ctx
from tests.unit.test_pki import NOW, cluster_for, make_ca, make_server_cert, pem, pki_files, serve

__all__ = ["pki_files"]  # the fixture, shared with test_pki


def test_not_yet_valid_is_refused_by_a_real_client_and_reset_puts_the_old_one_back(
    pki_files: dict[str, bytes], tmp_path: Path
) -> None:
    t = FakeTransport(dict(pki_files))
    ctx = make_ctx(t)
    cert_faults.not_yet_valid(ctx.node("cp1"), ChangeLog(ctx, "break"), starts_in_days=30)
    new = x509.load_pem_x509_certificate(t.files[pki.APISERVER_CERT])
    assert new.not_valid_before_utc > NOW and cert_names(new) == ["DNS:kubernetes"]
    server = serve(t.files[pki.APISERVER_CERT], pki_files["/etc/kubernetes/pki/apiserver.key"], tmp_path)
    port = next(server)
    try:
        result = serving_cert_valid(cluster_for(port, pki_files[pki.CA_CERT], tmp_path))
    finally:
        next(server, None)
    assert result.status == "fail" and "not yet valid" in result.message, result.message
    replay(ctx)
    assert t.files[pki.APISERVER_CERT] == pki_files[pki.APISERVER_CERT]
    with pytest.raises(StepError, match="1 or more"):
        cert_faults.not_yet_valid(ctx.node("cp1"), ChangeLog(ctx, "break"), starts_in_days=0)


def test_a_name_dropped_and_added_again(pki_files: dict[str, bytes]) -> None:
    t = FakeTransport(dict(pki_files))
    ctx = make_ctx(t)
    node = ctx.node("cp1")
    cert_faults.add_name(node, ChangeLog(ctx, "break"), "IP:10.0.0.2")
    assert cert_names(x509.load_pem_x509_certificate(t.files[pki.APISERVER_CERT])) == ["DNS:kubernetes", "IP:10.0.0.2"]
    cert_faults.drop_name(node, ChangeLog(ctx, "break"), "IP:10.0.0.2")
    dropped = x509.load_pem_x509_certificate(t.files[pki.APISERVER_CERT])
    now = datetime.datetime.now(datetime.UTC)
    assert cert_names(dropped) == ["DNS:kubernetes"] and dropped.not_valid_before_utc < now
    with pytest.raises(StepError, match=r"does not carry the name IP:10\.0\.0\.9"):
        cert_faults.drop_name(node, ChangeLog(ctx, "break"), "IP:10.0.0.9")


def test_kubeadm_phase_cert_moves_the_pair_aside_and_runs_kubeadm_on_the_clusters_config(
    pki_files: dict[str, bytes],
) -> None:
    t = FakeTransport(dict(pki_files))
    t.expect(r"^rm -f -- /etc/kubernetes/pki/apiserver.crt /etc/kubernetes/pki/apiserver.key$")
    t.expect(r"^kubeadm init phase certs apiserver --config /root/breakfix-kubeadm-config.yaml$")
    kube = FakeKube({"ConfigMap"})
    ctx = make_ctx(t, kube)
    with pytest.raises(StepError, match="kubeadm-config"):
        cert_faults.kubeadm_phase_cert(ctx.node("cp1"), ChangeLog(ctx, "solve"), kube)
    config = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\napiServer: {certSANs: [10.0.0.2]}\n"
    kube.create({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "kubeadm-config", "namespace": "kube-system"},
        "data": {"ClusterConfiguration": config},
    })  # fmt: skip
    cert_faults.kubeadm_phase_cert(ctx.node("cp1"), ChangeLog(ctx, "solve"), kube)
    assert t.files[cert_faults.CONFIG_COPY] == config.encode()
    assert t.log[-1].startswith("kubeadm init phase certs apiserver")
    replay(ctx)  # the pair as it was, the copy of the configuration gone
    assert t.files[pki.APISERVER_CERT] == pki_files[pki.APISERVER_CERT]
    assert cert_faults.CONFIG_COPY not in t.files


STATE = SessionState(State(), None)


def admin_conf(cert_pem: bytes, key_pem: bytes) -> bytes:
    return yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "admin@k",
        "clusters": [{"name": "k", "cluster": {"server": "https://10.0.0.2:6443"}}],
        "contexts": [{"name": "admin@k", "context": {"cluster": "k", "user": "admin"}}],
        "users": [{"name": "admin", "user": {
            "client-certificate-data": base64.b64encode(cert_pem).decode(),
            "client-key-data": base64.b64encode(key_pem).decode(),
        }}],
    }).encode()  # fmt: skip


@pytest.mark.parametrize(
    ("breaker", "status", "says"),
    [
        (None, "pass", "valid"),
        (lambda n, c: cert_faults.expire_kubeconfig_cert(n, c, STATE), "fail", "one this lab started with"),
        (lambda n, c: cert_faults.renew_kubeconfig_cert(n, c, days=31), "fail", "less than the 300 asked"),
        (lambda n, c: cert_faults.renew_kubeconfig_cert(n, c), "pass", "valid 364 more days"),
    ],
)
def test_the_admins_embedded_certificate_is_reissued_and_judged(
    pki_files: dict[str, bytes], breaker: object, status: str, says: str
) -> None:
    files = dict(pki_files)
    files[cert_faults.ADMIN_CONF] = admin_conf(files[pki.APISERVER_CERT], files["/etc/kubernetes/pki/apiserver.key"])
    t = FakeTransport(files)
    ctx = make_ctx(t)
    node = ctx.node("cp1")
    if breaker is not None:
        breaker(node, ChangeLog(ctx, "break"))  # type: ignore[operator]
    result = client_certs.kubeconfig_cert_valid(node, cert_faults.ADMIN_CONF, STATE, min_days=300)
    assert result.status == status and says in result.message, result.message
    replay(ctx)
    assert t.files[cert_faults.ADMIN_CONF] == files[cert_faults.ADMIN_CONF]


def test_a_certificate_from_another_ca_or_none_fails(pki_files: dict[str, bytes]) -> None:
    other, other_key = make_ca()
    key = pki_files["/etc/kubernetes/pki/apiserver.key"]
    foreign = pem(make_server_cert(other, other_key, ec.generate_private_key(ec.SECP256R1())))
    for conf, says in ((admin_conf(foreign, key), "not from the cluster's CA"), (b"{}", "names no user")):
        t = FakeTransport({**pki_files, cert_faults.ADMIN_CONF: conf})
        result = client_certs.kubeconfig_cert_valid(Node("cp1", "control-plane", t), cert_faults.ADMIN_CONF, STATE)
        assert result.status == "fail" and says in result.message, result.message


def test_a_copy_kept_from_before_and_an_unrestricted_group_fail(pki_files: dict[str, bytes]) -> None:
    """The certificate the lab started with (a copy of admin.conf kept aside) and a system:masters one fail."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    files = dict(pki_files)
    original = admin_conf(files[pki.APISERVER_CERT], files["/etc/kubernetes/pki/apiserver.key"])
    files[cert_faults.ADMIN_CONF] = original
    t = FakeTransport(files)
    ctx = make_ctx(t)
    node = ctx.node("cp1")
    state = SessionState(State(), None)
    cert_faults.expire_kubeconfig_cert(node, ChangeLog(ctx, "break"), state)
    t.files[cert_faults.ADMIN_CONF] = original  # `cp ~/.kube/config /etc/kubernetes/admin.conf`
    result = client_certs.kubeconfig_cert_valid(node, cert_faults.ADMIN_CONF, state)
    assert result.status == "fail" and "one this lab started with" in result.message
    ca = x509.load_pem_x509_certificate(files[pki.CA_CERT])
    ca_key = serialization.load_pem_private_key(files[pki.CA_KEY], password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "kubeadm:cluster-admins"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:masters"),
        x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes-admin"),
    ])  # fmt: skip
    masters = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(ca.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(NOW - datetime.timedelta(minutes=5))
        .not_valid_after(NOW + datetime.timedelta(days=365)).sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )  # fmt: skip
    t.files[cert_faults.ADMIN_CONF] = admin_conf(pem(masters), pem(key))
    result = client_certs.kubeconfig_cert_valid(node, cert_faults.ADMIN_CONF, state)
    assert result.status == "fail" and "system:masters" in result.message
