"""The identity a kubeconfig on a node presents, and the kubelet's own."""

from __future__ import annotations

import base64
import datetime

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from breakers import files
from breakfix.changes import ChangeLog
from breakfix.errors import StepError
from breakfix.transport.node import Node
from graders import identity
from graders import node as node_graders
from tests.fakes import FakeTransport
from tests.unit.contexts import make_ctx

KUBELET_PEM = "/var/lib/kubelet/pki/kubelet-client-current.pem"


def cert_and_key(cn: str, *orgs: str) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    name = x509.Name([*attrs, x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def kubeconfig(user: dict[str, str]) -> bytes:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "c",
            "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}, {"name": "x", "context": {}}],
            "users": [{"name": "u", "user": user}, {"name": "other", "user": {}}],
        }
    ).encode()


def inline(cn: str, *orgs: str) -> bytes:
    return kubeconfig({"client-certificate-data": base64.b64encode(cert_and_key(cn, *orgs)[0]).decode()})


def test_cert_identity_reads_user_and_groups_from_a_cert_and_key_bundle_in_any_order() -> None:
    cert, key = cert_and_key("system:node:w1", "system:nodes")
    assert identity.cert_identity(key + cert) == identity.Identity("system:node:w1", ("system:nodes",))
    assert identity.cert_identity(cert + key).groups == ("system:nodes",)
    with pytest.raises(ValueError):
        identity.cert_identity(key)


def test_kubeconfig_identity_inline_or_from_a_file_path() -> None:
    cert, key = cert_and_key("system:node:w1", "system:nodes")
    t = FakeTransport(
        {
            "/etc/kubernetes/kubelet.conf": kubeconfig({"client-certificate": KUBELET_PEM, "client-key": KUBELET_PEM}),
            KUBELET_PEM: cert + key,
            "/etc/kubernetes/rel.conf": kubeconfig({"client-certificate": "pki/me.crt"}),
            "/etc/kubernetes/pki/me.crt": cert,
            "/etc/kubernetes/admin.conf": inline("kubernetes-admin", "kubeadm:cluster-admins"),
            "/etc/kubernetes/token.conf": kubeconfig({"token": "abc"}),
        }
    )
    node = Node("w1", "worker", t)
    assert identity.kubeconfig_identity(node, "/etc/kubernetes/kubelet.conf") == identity.Identity(
        "system:node:w1", ("system:nodes",)
    )
    assert identity.kubeconfig_identity(node, "/etc/kubernetes/rel.conf") == identity.Identity(
        "system:node:w1", ("system:nodes",)
    )
    admin = identity.kubeconfig_identity(node, "/etc/kubernetes/admin.conf")
    assert admin == identity.Identity("kubernetes-admin", ("kubeadm:cluster-admins",))
    assert identity.kubeconfig_identity(node, "/etc/kubernetes/token.conf") is None
    with pytest.raises(StepError, match="no such file"):
        identity.kubeconfig_identity(node, "/etc/kubernetes/none.conf")


@pytest.mark.parametrize(
    ("user", "groups", "status", "words"),
    [
        ("system:node:w1", ["system:nodes"], "pass", "authenticates as system:node:w1"),
        ("system:node:w2", [], "fail", "not system:node:w2"),
        ("system:node:w1", ["system:masters"], "fail", "without the group system:masters"),
    ],
)
def test_kubeconfig_identity_is_compares_user_and_groups(user: str, groups: list[str], status: str, words: str) -> None:
    t = FakeTransport({"/k.conf": inline("system:node:w1", "system:nodes")})
    result = identity.kubeconfig_identity_is(Node("w1", "worker", t), "/k.conf", user, groups)
    assert result.status == status and words in result.message, result.message


def kubelet_node(conf: bytes, args: str = "/usr/bin/kubelet --kubeconfig=/etc/kubernetes/kubelet.conf") -> Node:
    cert, key = cert_and_key("system:node:w1", "system:nodes")
    t = FakeTransport({"/etc/kubernetes/kubelet.conf": conf, KUBELET_PEM: cert + key})
    t.expect(r"ps -o args= -C kubelet", stdout=args + "\n")
    return Node("w1", "worker", t)


def test_kubelet_identity_is_the_nodes_own_and_not_a_copied_admin_conf() -> None:
    own = kubeconfig({"client-certificate": KUBELET_PEM, "client-key": KUBELET_PEM})
    assert node_graders.kubelet_identity(kubelet_node(own)).ok
    admin = node_graders.kubelet_identity(kubelet_node(inline("kubernetes-admin", "kubeadm:cluster-admins")))
    assert admin.status == "fail" and "kubernetes-admin" in admin.message
    other = node_graders.kubelet_identity(kubelet_node(inline("system:node:cp1", "system:nodes")))
    assert other.status == "fail" and "not system:node:w1" in other.message


def test_kubelet_identity_follows_the_running_kubelets_flag() -> None:
    node = kubelet_node(b"", args="kubelet --kubeconfig /srv/k.conf --v=2")
    node.transport.files["/srv/k.conf"] = inline("kubernetes-admin")  # type: ignore[attr-defined]
    result = node_graders.kubelet_identity(node)
    assert result.status == "fail" and "/srv/k.conf" in result.message
    missing = node_graders.kubelet_identity(kubelet_node(b"", args="/usr/bin/kubelet --kubeconfig=/nope.conf"))
    assert missing.status == "fail" and "no such file" in missing.message


def test_copy_from_copies_another_nodes_file_and_journals_the_overwritten_one() -> None:
    t = FakeTransport({"/etc/kubernetes/kubelet.conf": b"mine"})
    ctx = make_ctx(t)
    cp = Node("cp1", "control-plane", FakeTransport({"/etc/kubernetes/admin.conf": b"admin"}))
    w1 = Node("w1", "worker", t)
    files.copy_from(w1, ChangeLog(ctx, "cheat"), [cp, w1], "control-plane", "/etc/kubernetes/admin.conf",
                    "/etc/kubernetes/kubelet.conf")  # fmt: skip
    assert t.files["/etc/kubernetes/kubelet.conf"] == b"admin"
    [entry] = ctx.store.journal("test")
    assert base64.b64decode(entry.record["content"]) == b"mine"
    with pytest.raises(StepError, match="no node"):
        files.copy_from(w1, ChangeLog(ctx, "cheat"), [w1], "control-plane", "/a", "/b")


def test_a_client_certificate_file_is_found_through_the_same_path_mapping() -> None:
    cert, _ = cert_and_key("system:kube-scheduler")
    t = FakeTransport(
        {"/srv/sched.conf": kubeconfig({"client-certificate": "/pod/pki/sched.crt"}), "/srv/pki/sched.crt": cert}
    )
    node = Node("cp1", "control-plane", t)

    def on_host(path: str) -> str | None:
        return {"/pod/sched.conf": "/srv/sched.conf", "/pod/pki/sched.crt": "/srv/pki/sched.crt"}.get(path)

    assert identity.kubeconfig_identity(node, "/pod/sched.conf", on_host) == identity.Identity(
        "system:kube-scheduler", ()
    )
    with pytest.raises(StepError, match="not on cp1"):
        identity.kubeconfig_identity(
            node, "/pod/sched.conf", lambda p: "/srv/sched.conf" if p.endswith(".conf") else None
        )
