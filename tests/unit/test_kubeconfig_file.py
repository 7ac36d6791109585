"""A user's kubeconfig on a node: the breakers that edit it and the graders that use it as kubectl would."""

from __future__ import annotations

import base64
import json
import shlex
from typing import Any

import pytest
import yaml

from breakers import kubeconfig_file as kb
from breakfix.changes import ChangeLog
from breakfix.errors import StepError
from breakfix.transport.base import CommandResult, FileStat
from breakfix.transport.node import Node
from breakfix.undo import replay, verify_restored
from graders import kubeconfig_file as kg
from tests.fakes import FakeTransport
from tests.unit.contexts import make_ctx
from tests.unit.test_identity import cert_and_key

CONF = "/root/.kube/config"
ADMIN = "/etc/kubernetes/admin.conf"
CA = "/etc/kubernetes/pki/ca.crt"
OTHER_CA = "/etc/kubernetes/pki/front-proxy-ca.crt"
CLUSTER_CA, _ = cert_and_key("kubernetes")
FRONT_CA, _ = cert_and_key("front-proxy-ca")


def kubeconfig(cluster: dict[str, Any], namespace: str | None = None) -> bytes:
    context: dict[str, Any] = {"cluster": "k", "user": "admin"}
    if namespace:
        context["namespace"] = namespace
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "admin@k",
            "clusters": [{"name": "k", "cluster": cluster}, {"name": "other", "cluster": {}}],
            "contexts": [{"name": "admin@k", "context": context}],
            "users": [{"name": "admin", "user": {"client-certificate-data": "Y2VydA=="}}],
        }
    ).encode()


def good(namespace: str | None = "ops") -> bytes:
    cluster = {"server": "https://10.0.0.2:6443", "certificate-authority-data": base64.b64encode(CLUSTER_CA).decode()}
    return kubeconfig(cluster, namespace)


class LinkTransport(FakeTransport):
    """A fake node whose file system also has symbolic links (followed when read, as cat does)."""

    def __init__(self, files: dict[str, bytes], links: dict[str, str]) -> None:
        super().__init__(files)
        self.links = dict(links)

    def run(self, command: str, timeout: float | None = None, stdin: bytes | None = None) -> CommandResult:
        argv = shlex.split(command)
        if argv[:2] == ["test", "-L"]:
            self.log.append(command)
            return CommandResult(0 if argv[2] in self.links else 1, "", "")
        if argv[:1] == ["readlink"]:
            self.log.append(command)
            return CommandResult(0, self.links[argv[1]] + "\n", "")
        if argv[:3] == ["cp", "-L", "--"]:  # the own_copy command: cp -L -- PATH TMP && chmod && mv -f -- TMP PATH
            self.log.append(command)
            path = argv[3]
            self.files[path] = self.files[self.links.pop(path)]
            return CommandResult(0, "", "")
        if argv[:3] == ["rm", "-f", "--"] and "ln" in argv:  # rm -f -- PATH && ln -s -- TARGET PATH
            self.log.append(command)
            self.files.pop(argv[3], None)
            self.links[argv[9]] = argv[8]
            return CommandResult(0, "", "")
        return super().run(command, timeout, stdin)

    def read_bytes(self, path: str) -> bytes | None:
        return super().read_bytes(self.links.get(path, path))

    def stat(self, path: str) -> FileStat | None:
        return FileStat(0o777, 0, 0) if path in self.links else super().stat(path)

    def write_bytes(self, path: str, data: bytes, stat: FileStat | None) -> None:
        self.links.pop(path, None)  # written beside, then moved over the link
        super().write_bytes(path, data, stat)


def test_own_copy_turns_a_link_into_a_copy_and_reset_puts_the_link_back() -> None:
    t = LinkTransport({ADMIN: good(None)}, {CONF: ADMIN})
    t.expect("true")
    ctx = make_ctx(t)
    kb.own_copy(ctx.node("cp1"), ChangeLog(ctx, "setup"))
    assert CONF not in t.links and t.files[CONF] == good(None)
    kb.edit(ctx.node("cp1"), ChangeLog(ctx, "break"), CONF, "context", {"namespace": "ops"})
    assert t.files[ADMIN] == good(None), "the link's target is not touched"
    records = ctx.store.journal("test")
    replay(ctx)
    assert t.links == {CONF: ADMIN} and CONF not in t.files
    assert verify_restored(ctx, records) == [], "reset finds the link as it was, read through it"


def test_own_copy_writes_a_missing_file_and_keeps_an_existing_one() -> None:
    t = FakeTransport({ADMIN: good(None)})
    ctx = make_ctx(t)
    kb.own_copy(ctx.node("cp1"), ChangeLog(ctx, "setup"))
    assert t.files[CONF] == good(None) and t.stats[CONF].mode == 0o600
    replay(ctx)
    assert CONF not in t.files

    t = FakeTransport({ADMIN: good(None), CONF: b"mine"})
    ctx = make_ctx(t)
    kb.own_copy(ctx.node("cp1"), ChangeLog(ctx, "setup"))
    t.files[CONF] = b"changed by the student"
    replay(ctx)
    assert t.files[CONF] == b"mine"

    with pytest.raises(StepError, match="neither"):
        kb.own_copy(make_ctx(FakeTransport()).node("cp1"), ChangeLog(ctx, "setup"))


def test_edit_and_set_ca_change_the_current_contexts_entries_only() -> None:
    t = FakeTransport({CONF: good(), OTHER_CA: FRONT_CA})
    ctx = make_ctx(t)
    node = ctx.node("cp1")
    kb.set_ca(node, ChangeLog(ctx, "break"), CONF, OTHER_CA)
    kb.edit(node, ChangeLog(ctx, "break"), CONF, "cluster", {"server": "https://10.0.0.2:6444"})
    kb.edit(node, ChangeLog(ctx, "break"), CONF, "user", {"token": "t", "client-certificate-data": None})
    config = yaml.safe_load(t.files[CONF])
    cluster = config["clusters"][0]["cluster"]
    assert base64.b64decode(cluster["certificate-authority-data"]) == FRONT_CA
    assert cluster["server"] == "https://10.0.0.2:6444" and config["clusters"][1]["cluster"] == {}
    assert config["users"][0]["user"] == {"token": "t"}
    replay(ctx)
    assert t.files[CONF] == good()
    with pytest.raises(StepError, match="not a PEM"):
        kb.set_ca(node, ChangeLog(ctx, "break"), CONF, CONF)
    t.files["/bad"] = yaml.safe_dump({"current-context": "nope", "contexts": []}).encode()
    with pytest.raises(StepError, match="no context"):
        kb.edit(node, ChangeLog(ctx, "break"), "/bad", "context", {"namespace": "x"})


def node_with(files: dict[str, bytes], whoami: CommandResult | None = None) -> Node:
    t = FakeTransport({CA: CLUSTER_CA, **files})
    if whoami is not None:
        t.scripts.append((__import__("re").compile(r"kubectl --kubeconfig .* auth whoami -o json"), lambda _c: whoami))
    return Node("cp1", "control-plane", t)


def answer(user: str, *groups: str) -> CommandResult:
    review = {"kind": "SelfSubjectReview", "status": {"userInfo": {"username": user, "groups": list(groups)}}}
    return CommandResult(0, json.dumps(review), "")


def test_reaches_api_asks_the_api_server_who_the_file_is() -> None:
    admin = answer("kubernetes-admin", "kubeadm:cluster-admins", "system:authenticated")
    result = kg.reaches_api(node_with({CONF: good()}, admin), groups=["kubeadm:cluster-admins"])
    assert result.ok, result.message
    kubelet = kg.reaches_api(node_with({CONF: good()}, answer("system:node:cp1", "system:nodes")))
    assert kubelet.status == "fail" and "system:node:cp1" in kubelet.message
    super_admin = kg.reaches_api(node_with({CONF: good()}, answer("kubernetes-super-admin", "system:masters")))
    assert super_admin.status == "fail" and "not kubernetes-admin" in super_admin.message
    refused = CommandResult(1, "", 'E1202 memcache.go:265] "Unhandled Error"\nThe connection to the server '
                            "10.0.0.2:6444 was refused - did you specify the right host or port?\n")  # fmt: skip
    down = kg.reaches_api(node_with({CONF: good()}, refused))
    assert down.status == "fail" and "was refused" in down.message and "gets no answer" in down.message
    missing = kg.reaches_api(node_with({CONF: good()}, CommandResult(127, "", "kubectl: not found")))
    assert missing.status == "error"


@pytest.mark.parametrize(
    ("cluster", "status", "words"),
    [
        ({"server": "https://a:6443", "certificate-authority-data": base64.b64encode(CLUSTER_CA).decode()}, "pass", ""),
        ({"server": "https://a:6443", "certificate-authority": "/etc/kubernetes/pki/ca.crt"}, "pass", ""),
        ({"server": "https://a:6443", "certificate-authority": "../../etc/kubernetes/pki/ca.crt"}, "pass", ""),
        ({"server": "https://a:6443", "certificate-authority-data": base64.b64encode(FRONT_CA + CLUSTER_CA).decode()},
         "pass", ""),
        ({"server": "https://a:6443", "insecure-skip-tls-verify": True}, "fail", "insecure-skip-tls-verify"),
        ({"server": "https://a:6443", "insecure-skip-tls-verify": "true",
          "certificate-authority-data": base64.b64encode(CLUSTER_CA).decode()}, "fail", "does not verify"),
        ({"server": "https://a:6443", "certificate-authority-data": base64.b64encode(FRONT_CA).decode()},
         "fail", "not the cluster's"),
        ({"server": "https://a:6443"}, "fail", "names no certificate authority"),
        ({"server": "https://a:6443", "certificate-authority": "/nope.crt"}, "fail", "does not exist"),
        ({"server": "http://a:8080"}, "fail", "not over https"),
    ],
)  # fmt: skip
def test_verifies_server_wants_the_cluster_ca_and_no_skipping(cluster: dict[str, Any], status: str, words: str) -> None:
    result = kg.verifies_server(node_with({CONF: kubeconfig(cluster)}))
    assert result.status == status and words in result.message, result.message


def test_verifies_server_on_files_that_are_no_kubeconfig() -> None:
    assert "does not exist" in kg.verifies_server(node_with({})).message
    assert "not valid YAML" in kg.verifies_server(node_with({CONF: b"a: [b"})).message
    assert "not a kubeconfig" in kg.verifies_server(node_with({CONF: b"- a"})).message
    no_cluster = yaml.safe_dump({"current-context": "c", "contexts": [{"name": "c", "context": {"cluster": "x"}}]})
    assert "names no cluster" in kg.verifies_server(node_with({CONF: no_cluster.encode()})).message
    node = Node("cp1", "control-plane", FakeTransport({CONF: good()}))
    assert kg.verifies_server(node).status == "error"


def test_default_namespace_is_the_current_contexts() -> None:
    assert kg.default_namespace(node_with({CONF: good("ops")}), "ops").ok
    lost = kg.default_namespace(node_with({CONF: good(None)}), "ops")
    assert lost.status == "fail" and "namespace default by default, not ops" in lost.message
    assert kg.default_namespace(node_with({CONF: good(None)}), "default").ok
