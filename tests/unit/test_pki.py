"""Certificates re-issued by breakers.pki, and graders.pki judging a real TLS server on 127.0.0.1."""

from __future__ import annotations

import base64
import datetime
import re
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from breakers import pki
from breakfix.changes import ChangeLog
from breakfix.context import SessionState
from breakfix.inventory import ClusterSpec
from breakfix.results import CheckResult
from breakfix.transport.base import CommandResult
from breakfix.undo import replay
from graders.pki import serving_cert_valid
from tests.fakes import FakeTransport
from tests.unit.contexts import make_ctx

NOW = datetime.datetime.now(datetime.UTC)


def make_ca() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - datetime.timedelta(days=1))
        .not_valid_after(NOW + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def make_server_cert(
    ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, key: ec.EllipticCurvePrivateKey
) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(NOW - datetime.timedelta(days=1))
        .not_valid_after(NOW + datetime.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("kubernetes")]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


def pem(obj: x509.Certificate | ec.EllipticCurvePrivateKey) -> bytes:
    if isinstance(obj, x509.Certificate):
        return obj.public_bytes(serialization.Encoding.PEM)
    return obj.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@pytest.fixture
def pki_files() -> dict[str, bytes]:
    ca, ca_key = make_ca()
    key = ec.generate_private_key(ec.SECP256R1())
    return {
        pki.CA_CERT: pem(ca),
        pki.CA_KEY: pem(ca_key),
        pki.APISERVER_CERT: pem(make_server_cert(ca, ca_key, key)),
        "/etc/kubernetes/pki/apiserver.key": pem(key),
    }


def reissued(files: dict[str, bytes], breaker: object) -> tuple[x509.Certificate, x509.Certificate, FakeTransport]:
    t = FakeTransport(files)
    ctx = make_ctx(t)
    breaker(ctx.node("cp1"), ChangeLog(ctx, "break"))  # type: ignore[operator]
    old = x509.load_pem_x509_certificate(files[pki.APISERVER_CERT])
    return old, x509.load_pem_x509_certificate(t.files[pki.APISERVER_CERT]), t


def test_expire_keeps_names_and_key_and_the_ca_signature(pki_files: dict[str, bytes]) -> None:
    old, new, t = reissued(pki_files, pki.expire_cert)
    assert new.not_valid_after_utc < NOW and new.subject == old.subject
    assert new.public_key().public_numbers() == old.public_key().public_numbers()  # type: ignore[union-attr]
    assert (
        new.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        == old.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    )
    ca = x509.load_pem_x509_certificate(pki_files[pki.CA_CERT])
    new.verify_directly_issued_by(ca)
    assert t.files["/etc/kubernetes/pki/apiserver.key"] == pki_files["/etc/kubernetes/pki/apiserver.key"]


def test_renew_is_valid_for_a_year_and_self_signed_is_not_from_the_ca(pki_files: dict[str, bytes]) -> None:
    _, renewed, _ = reissued(pki_files, pki.renew_cert)
    assert renewed.not_valid_after_utc - NOW > datetime.timedelta(days=364)
    ca = x509.load_pem_x509_certificate(pki_files[pki.CA_CERT])
    renewed.verify_directly_issued_by(ca)
    _, stranger, _ = reissued(pki_files, pki.self_sign_cert)
    with pytest.raises(Exception):  # noqa: B017 - any verification error will do
        stranger.verify_directly_issued_by(ca)


def serve(cert_pem: bytes, key_pem: bytes, folder: Path) -> Iterator[int]:
    (folder / "c.pem").write_bytes(cert_pem)
    (folder / "k.pem").write_bytes(key_pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "c.pem", folder / "k.pem")
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def loop() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            try:
                with context.wrap_socket(conn, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                pass

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    listener.close()


def cluster_for(port: int, ca_pem: bytes, folder: Path) -> ClusterSpec:
    kubeconfig = folder / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "current-context": "c",
                "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
                "clusters": [
                    {
                        "name": "k",
                        "cluster": {
                            "server": f"https://127.0.0.1:{port}",
                            "certificate-authority-data": base64.b64encode(ca_pem).decode(),
                        },
                    }
                ],
            }
        )
    )
    return ClusterSpec("t", "inventory", folder / "inv.yaml", (), kubeconfig, None, frozenset())


@pytest.mark.parametrize(
    ("breaker", "status", "words"),
    [
        (None, "pass", "serves a trusted certificate"),
        (pki.expire_cert, "fail", "certificate has expired"),
        (pki.self_sign_cert, "fail", "clients reject"),
    ],
)
def test_serving_cert_valid_judges_what_a_client_sees(
    pki_files: dict[str, bytes], tmp_path: Path, breaker: object, status: str, words: str
) -> None:
    cert = pki_files[pki.APISERVER_CERT]
    if breaker is not None:
        cert = reissued(pki_files, breaker)[2].files[pki.APISERVER_CERT]
    server = serve(cert, pki_files["/etc/kubernetes/pki/apiserver.key"], tmp_path)
    port = next(server)
    try:
        result = serving_cert_valid(cluster_for(port, pki_files[pki.CA_CERT], tmp_path))
    finally:
        next(server, None)
    assert result.status == status and words in result.message, result.message


def test_serving_cert_valid_is_an_error_when_nothing_listens(pki_files: dict[str, bytes], tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = serving_cert_valid(cluster_for(port, pki_files[pki.CA_CERT], tmp_path))
    assert result.status == "error" and "cannot reach" in result.message


KEY = "/etc/kubernetes/pki/apiserver.key"


def served_result(
    pki_files: dict[str, bytes], tmp_path: Path, cert: bytes, state: SessionState, **kwargs: object
) -> CheckResult:
    server = serve(cert, pki_files[KEY], tmp_path)
    port = next(server)
    try:
        return serving_cert_valid(cluster_for(port, pki_files[pki.CA_CERT], tmp_path), state, **kwargs)  # type: ignore[arg-type]
    finally:
        next(server, None)


def test_a_renewal_must_last_a_year_and_keep_the_names_noted_at_setup(
    pki_files: dict[str, bytes], tmp_path: Path
) -> None:
    t = FakeTransport(pki_files)
    ctx = make_ctx(t)
    node = ctx.node("cp1")
    pki.remember_names(node, ctx.state)
    assert ctx.state.get(pki.names_key(pki.APISERVER_CERT)) == ["DNS:kubernetes"]
    want = {"min_days": 360, "names_of": pki.APISERVER_CERT}

    pki.renew_cert(node, ChangeLog(ctx, "solve"))
    result = served_result(pki_files, tmp_path, t.files[pki.APISERVER_CERT], ctx.state, **want)
    assert result.ok, result.message

    pki.renew_cert(node, ChangeLog(ctx, "cheat"), days=31)
    result = served_result(pki_files, tmp_path, t.files[pki.APISERVER_CERT], ctx.state, **want)
    assert result.status == "fail" and "expires in 30 days" in result.message, result.message

    pki.renew_cert(node, ChangeLog(ctx, "cheat"), names=["DNS:other", "10.0.0.2"])
    renamed = x509.load_pem_x509_certificate(t.files[pki.APISERVER_CERT])
    assert pki.cert_names(renamed) == ["DNS:other", "IP:10.0.0.2"]
    result = served_result(pki_files, tmp_path, t.files[pki.APISERVER_CERT], ctx.state, **want)
    assert result.status == "fail" and "no longer names DNS:kubernetes" in result.message, result.message

    unnoted = served_result(pki_files, tmp_path, pki_files[pki.APISERVER_CERT], SessionState(ctx.store, None), **want)
    assert unnoted.status == "error"


def test_reset_puts_back_the_key_that_a_renewal_by_hand_replaced(pki_files: dict[str, bytes]) -> None:
    t = FakeTransport(pki_files)
    ctx = make_ctx(t)
    pki.expire_cert(ctx.node("cp1"), ChangeLog(ctx, "break"))
    t.files[KEY] = b"a new key, as kubeadm certs renew writes"  # the student's fix, not journaled
    t.files[pki.APISERVER_CERT] = b"a new certificate"
    replay(ctx)
    assert t.files[KEY] == pki_files[KEY] and t.files[pki.APISERVER_CERT] == pki_files[pki.APISERVER_CERT]


def test_kubeadm_renew_journals_certificate_and_key_before_it_runs(pki_files: dict[str, bytes]) -> None:
    t = FakeTransport(pki_files)

    def renew(_line: str) -> CommandResult:
        t.files[KEY], t.files[pki.APISERVER_CERT] = b"new key", b"new cert"
        return CommandResult(0, "certificate for serving the Kubernetes API renewed", "")

    t.scripts.append((re.compile(r"kubeadm certs renew apiserver"), renew))
    ctx = make_ctx(t)
    pki.kubeadm_renew(ctx.node("cp1"), ChangeLog(ctx, "alternative"))
    assert t.files[KEY] == b"new key"
    replay(ctx)
    assert t.files[KEY] == pki_files[KEY] and t.files[pki.APISERVER_CERT] == pki_files[pki.APISERVER_CERT]
