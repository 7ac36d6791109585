"""Pulls from the private registry: pull Secrets copied and spoiled (undone at reset), and the pull trials."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from breakers import registry
from breakfix.changes import ChangeLog
from breakfix.errors import StepError
from breakfix.images import resolve_images
from breakfix.undo import replay
from graders import registry as registry_graders
from graders.registry import anonymous_pull_refused, app_pulls_afresh
from tests.fakes import FakeKube, FakeTransport
from tests.unit.contexts import make_ctx

ADDRESS = "10.0.0.2:5000"
IMAGES = {"private-web": f"{ADDRESS}/breakfix/web:1", "web": "breakfix.local/web:1"}


def login(password: str = "s3cret") -> dict[str, Any]:
    auth = base64.b64encode(f"puller:{password}".encode()).decode()
    config = {"auths": {ADDRESS: {"username": "puller", "password": password, "auth": auth}}}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/dockerconfigjson",
        "metadata": {"name": registry.LOGIN_SECRET, "namespace": "kube-system"},
        "data": {".dockerconfigjson": base64.b64encode(json.dumps(config).encode()).decode()},
    }


def config_of(kube: FakeKube, namespace: str, name: str) -> dict[str, Any]:
    secret = kube.get("v1", "Secret", name, namespace)
    assert secret is not None and secret["type"] == "kubernetes.io/dockerconfigjson"
    parsed: dict[str, Any] = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))
    return parsed


@pytest.fixture
def kube() -> FakeKube:
    k = FakeKube({"Secret", "Pod", "Deployment", "ServiceAccount"})
    k.create(login())
    return k


def test_a_copied_login_is_spoiled_and_put_back(kube: FakeKube) -> None:
    ctx = make_ctx(FakeTransport(), kube)
    registry.copy_login(ChangeLog(ctx, "setup"), kube, "shop", "registry-login")
    assert config_of(kube, "shop", "registry-login") == config_of(kube, "kube-system", registry.LOGIN_SECRET)
    mark = ctx.store.journal_last_id(ctx.cluster.name)
    registry.spoil_login(ChangeLog(ctx, "break"), kube, "shop", "registry-login")
    spoiled = config_of(kube, "shop", "registry-login")["auths"][ADDRESS]
    assert spoiled["username"] == "puller" and spoiled["password"] != "s3cret"
    assert base64.b64decode(spoiled["auth"]).decode() == f"puller:{spoiled['password']}"
    registry.copy_login(
        ChangeLog(ctx, "solve"), kube, "shop", "registry-login", source_namespace="kube-system"
    )  # an existing Secret gets the source's data
    assert config_of(kube, "shop", "registry-login")["auths"][ADDRESS]["password"] == "s3cret"
    replay(ctx, after=mark)
    assert config_of(kube, "shop", "registry-login")["auths"][ADDRESS]["password"] == "s3cret"
    replay(ctx)
    assert kube.get("v1", "Secret", "registry-login", "shop") is None


def test_a_cluster_without_the_registry_says_so(kube: FakeKube) -> None:
    kube.delete("v1", "Secret", registry.LOGIN_SECRET, "kube-system")
    with pytest.raises(StepError, match="does this cluster have the private registry"):
        registry.copy_login(ChangeLog(make_ctx(FakeTransport(), kube), "setup"), kube, "shop", "x")


def test_registry_images_are_pulled_whatever_the_clusters_policy() -> None:
    manifest = {"containers": [{"name": "a", "image": "role:private-web", "imagePullPolicy": "Always"},
                               {"name": "b", "image": "role:web"}]}  # fmt: skip
    resolve_images(manifest, IMAGES, "Never")
    assert manifest["containers"] == [
        {"name": "a", "image": IMAGES["private-web"], "imagePullPolicy": "Always"},
        {"name": "b", "image": "breakfix.local/web:1", "imagePullPolicy": "Never"},
    ]


class Kubelet:
    """Answers a created pod as a kubelet would: its image pulled when ALLOWS says so, or refused (401)."""

    def __init__(self, kube: FakeKube, allows: Callable[[dict[str, Any]], bool]) -> None:
        self.pods: list[dict[str, Any]] = []
        create = kube.create

        def create_and_run(obj: dict[str, Any]) -> dict[str, Any]:
            if obj["kind"] == "Pod" and not obj["spec"].get("imagePullSecrets"):  # the ServiceAccount admission
                namespace, account = obj["metadata"]["namespace"], obj["spec"].get("serviceAccountName", "default")
                found = kube.get("v1", "ServiceAccount", account, namespace)
                if found is None and account != "default":  # every namespace has its `default`
                    raise StepError(f'pods "x" is forbidden: error looking up service account {namespace}/{account}')
                obj = {**obj, "spec": {**obj["spec"], "imagePullSecrets": (found or {}).get("imagePullSecrets") or []}}
            made = create(obj)
            if obj["kind"] == "Pod":
                self.pods.append(obj)
                pulled = allows(obj) and all(c.get("imagePullPolicy") == "Always" for c in obj["spec"]["containers"])
                state = (
                    {"running": {}}
                    if pulled
                    else {"waiting": {"reason": "ErrImagePull", "message": "401 Unauthorized"}}
                )
                key = ("v1", "Pod", obj["metadata"]["namespace"], obj["metadata"]["name"])
                kube.objects[key]["status"] = {
                    "containerStatuses": [{"name": "app", "state": state, "imageID": "sha256:abc" if pulled else ""}]
                }
            return made

        kube.create = create_and_run  # type: ignore[method-assign]


def with_login(pod: dict[str, Any]) -> bool:
    return "registry-login" in {s["name"] for s in pod["spec"].get("imagePullSecrets") or []}


def deployment(pull_secrets: list[str], policy: str = "IfNotPresent") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "catalog", "namespace": "shop"},
        "spec": {
            "template": {
                "metadata": {"labels": {"app": "catalog"}},
                "spec": {
                    "imagePullSecrets": [{"name": s} for s in pull_secrets],
                    "containers": [{"name": "app", "image": IMAGES["private-web"], "imagePullPolicy": policy}],
                },
            }
        },
    }


def test_the_pull_trial_pulls_afresh_with_the_apps_credentials(kube: FakeKube) -> None:
    kubelet = Kubelet(kube, with_login)
    kube.create(deployment(["registry-login"]))
    result = app_pulls_afresh(kube, "catalog", "shop", wait_for=5)
    assert result.ok, result.message
    trial = kubelet.pods[-1]
    assert trial["metadata"]["labels"] == {registry_graders.PROBE_LABEL: "pull"}  # no ReplicaSet adopts it
    assert trial["spec"]["containers"][0]["imagePullPolicy"] == "Always"  # never a copy the node holds
    assert kube.get("v1", "Pod", trial["metadata"]["name"], "shop") is None  # deleted
    kube.delete("apps/v1", "Deployment", "catalog", "shop")
    kube.create(deployment([]))
    refused = app_pulls_afresh(kube, "catalog", "shop", wait_for=5)
    assert not refused.ok and "ErrImagePull: 401 Unauthorized" in refused.message
    assert "does not exist" in app_pulls_afresh(kube, "nope", "shop", wait_for=5).message


def account(name: str, namespace: str, pull_secrets: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": name, "namespace": namespace},
        "imagePullSecrets": [{"name": s} for s in pull_secrets],
    }


def test_anonymous_pulls_must_be_refused_for_lack_of_credentials(kube: FakeKube) -> None:
    kubelet = Kubelet(kube, with_login)
    # a valid way to give default's pods credentials: the trial pod must still pull as nobody
    kube.create(account("default", "default", ["registry-login"]))
    assert anonymous_pull_refused(kube, IMAGES, wait_for=5).ok
    trial = kubelet.pods[-1]
    assert trial["spec"]["containers"][0]["image"] == IMAGES["private-web"]
    assert trial["spec"]["imagePullSecrets"] == [] and trial["spec"]["serviceAccountName"].startswith("anonymous-")
    assert [a["metadata"]["name"] for a in kube.list("v1", "ServiceAccount", "default")] == ["default"]  # removed
    Kubelet(kube, lambda _pod: True)  # a node that pulls in everybody's name
    opened = anonymous_pull_refused(kube, IMAGES, wait_for=5)
    assert not opened.ok and "pulls in everybody's name" in opened.message


def test_node_credentials_go_into_containerd_and_come_out_at_reset(kube: FakeKube) -> None:
    node_fs = FakeTransport({registry.CONTAINERD_CONFIG: b"version = 2\n"})
    for pattern in (r"test -L .*", r"systemctl is-active.*", r"systemctl is-enabled.*",
                    r"systemctl (try-)?restart containerd", r"systemctl (unmask|enable|start) containerd"):  # fmt: skip
        node_fs.expect(pattern)
    ctx = make_ctx(node_fs, kube)
    registry.node_credentials(ChangeLog(ctx, "cheat"), kube, ctx.node("cp1"))
    written = node_fs.files[registry.CONTAINERD_CONFIG].decode()
    assert written.startswith("version = 2\n")
    assert f'[plugins."io.containerd.grpc.v1.cri".registry.configs."{ADDRESS}".auth]' in written
    assert 'username = "puller"' in written and 'password = "s3cret"' in written
    assert "systemctl restart containerd" in node_fs.log
    replay(ctx)
    assert node_fs.files[registry.CONTAINERD_CONFIG] == b"version = 2\n"
