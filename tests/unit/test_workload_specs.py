"""graders.workload_specs: the identity pods run as, StatefulSet members' names, a DaemonSet on every node."""

from __future__ import annotations

from typing import Any

import pytest

from breakfix.context import SessionState
from breakfix.state import State
from graders import workload_specs as ws
from tests.fakes import FakeKube
from tests.unit.test_new_graders import CLUSTER, IMAGES


def _obj(api: str, kind: str, name: str, namespace: str | None, **rest: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "uid": f"uid-{name}", **rest.pop("meta", {})}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": api, "kind": kind, "metadata": meta, **rest}


def _put(kube: FakeKube, obj: dict[str, Any]) -> None:
    meta = obj["metadata"]
    kube.objects[(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"])] = obj


# pods_identity_may ---------------------------------------------------------------------------


class Authorizer(FakeKube):
    """Answers SubjectAccessReviews from a set of (user, verb, resource, namespace) it allows."""

    def __init__(self, allowed: set[tuple[str, str, str, str]]) -> None:
        super().__init__({"Deployment", "Pod", "SubjectAccessReview"})
        self.allowed = allowed

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        self._check(obj["kind"], "create")
        spec = obj["spec"]
        a = spec["resourceAttributes"]
        return {**obj, "status": {"allowed": (spec["user"], a["verb"], a["resource"], a["namespace"]) in self.allowed}}


def _app(kube: FakeKube, account: str | None, pods: int = 2) -> None:
    _put(
        kube, _obj("apps/v1", "Deployment", "pricer", "pricing", spec={"selector": {"matchLabels": {"app": "pricer"}}})
    )
    for i in range(pods):
        spec = {"serviceAccountName": account} if account else {}
        _put(kube, _obj("v1", "Pod", f"pricer-{i}", "pricing", meta={"labels": {"app": "pricer"}}, spec=spec))


def _user(account: str) -> str:
    return f"system:serviceaccount:pricing:{account}"


MAY = ["get configmaps pricing"]
MAY_NOT = ["get secrets pricing", "list configmaps"]


def test_pods_whose_account_may_what_the_app_needs_pass_whatever_its_name() -> None:
    kube = Authorizer({(_user("pricer-sa"), "get", "configmaps", "pricing")})
    _app(kube, "pricer-sa")
    result = ws.pods_identity_may(kube, "pricer", "pricing", may=MAY, may_not=MAY_NOT)
    assert result.ok, result.message
    assert "pricer-sa" in result.message


def test_an_account_without_the_rights_the_app_needs_fails() -> None:
    kube = Authorizer(set())
    _app(kube, "pricer-sa")
    result = ws.pods_identity_may(kube, "pricer", "pricing", may=MAY, may_not=MAY_NOT)
    assert result.status == "fail" and "may not get configmaps pricing" in result.message


def test_an_account_with_more_than_the_app_needs_fails() -> None:
    user = _user("pricer")
    kube = Authorizer({(user, "get", "configmaps", "pricing"), (user, "list", "configmaps", "")})
    _app(kube, "pricer")
    result = ws.pods_identity_may(kube, "pricer", "pricing", may=MAY, may_not=MAY_NOT)
    assert result.status == "fail" and "may list configmaps: more than" in result.message


def test_the_default_account_does_not_count_unless_allowed() -> None:
    kube = Authorizer({(_user("default"), "get", "configmaps", "pricing")})
    _app(kube, None)
    assert ws.pods_identity_may(kube, "pricer", "pricing", may=MAY).status == "fail"
    assert ws.pods_identity_may(kube, "pricer", "pricing", may=MAY, dedicated=False).ok


def test_no_pods_or_no_workload_fails_and_a_bad_action_is_an_error() -> None:
    kube = Authorizer(set())
    assert ws.pods_identity_may(kube, "pricer", "pricing", may=MAY).status == "fail"
    _app(kube, "pricer", pods=0)
    assert "no running pod" in ws.pods_identity_may(kube, "pricer", "pricing", may=MAY).message
    _app(kube, "pricer")
    assert ws.pods_identity_may(kube, "pricer", "pricing", may=["get"]).status == "error"


# same_object -----------------------------------------------------------------------------------


def test_same_object_compares_the_uid_recorded_at_setup() -> None:
    kube = FakeKube({"DaemonSet"})
    state = SessionState(State(), None)
    assert ws.same_object(kube, state, "agent", "mon", "DaemonSet").status == "error"
    state.set("remember:DaemonSet:mon/agent", {"uid": "uid-agent"})
    assert ws.same_object(kube, state, "agent", "mon", "DaemonSet").status == "fail"
    _put(kube, _obj("apps/v1", "DaemonSet", "agent", "mon", spec={}))
    assert ws.same_object(kube, state, "agent", "mon", "DaemonSet").ok
    kube.objects[("apps/v1", "DaemonSet", "mon", "agent")]["metadata"]["uid"] = "another"
    result = ws.same_object(kube, state, "agent", "mon", "DaemonSet")
    assert result.status == "fail" and "deleted and created again" in result.message


# stable_names_resolve ----------------------------------------------------------------------------

BUSYBOX = """### db-0.db.catalog.svc.cluster.local
Server:\t\t10.96.0.10
Address:\t10.96.0.10:53

Name:\tdb-0.db.catalog.svc.cluster.local
Address: 10.244.1.5

### db.catalog.svc.cluster.local
Server:\t\t10.96.0.10
Address:\t10.96.0.10:53

Name:\tdb.catalog.svc.cluster.local
Address: 10.244.1.5
Name:\tdb.catalog.svc.cluster.local
Address: 10.244.1.6

### nothing.catalog.svc.cluster.local
Server:\t\t10.96.0.10
Address:\t10.96.0.10:53

"""


def test_lookups_are_parsed_without_the_servers_address() -> None:
    assert ws.parse_lookups(BUSYBOX) == {
        "db-0.db.catalog.svc.cluster.local": {"10.244.1.5"},
        "db.catalog.svc.cluster.local": {"10.244.1.5", "10.244.1.6"},
        "nothing.catalog.svc.cluster.local": set(),
    }
    old_style = "### x\nServer: 10.96.0.10\nAddress 1: 10.96.0.10 kube-dns\n\nName: x\nAddress 1: 10.1.1.1 x\n"
    assert ws.parse_lookups(old_style) == {"x": {"10.1.1.1"}}


class Resolver(FakeKube):
    """A probe pod finishes at once, its termination message made of ANSWERS (name -> addresses)."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        super().__init__({"StatefulSet", "Pod", "Service"})
        self.answers = answers
        self.scripts: list[str] = []

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        out = super().create(obj)
        self.scripts.append(obj["spec"]["containers"][0]["command"][-1])
        text = ""
        for name, ips in self.answers.items():
            text += f"### {name}\nServer: 10.96.0.10\nAddress: 10.96.0.10:53\n\n"
            text += "".join(f"Name: {name}\nAddress: {ip}\n" for ip in ips)
        key = ("v1", "Pod", obj["metadata"]["namespace"], obj["metadata"]["name"])
        self.objects[key]["status"] = {
            "phase": "Succeeded",
            "containerStatuses": [{"state": {"terminated": {"exitCode": 0, "message": text}}}],
        }
        return out


def _members(kube: FakeKube, ips: list[str], ready: bool = True, selector: dict[str, str] | None = None) -> None:
    template = {"metadata": {"labels": {"app": "db", "tier": "data"}}}
    spec = {"serviceName": "db", "replicas": len(ips), "template": template}
    _put(kube, _obj("apps/v1", "StatefulSet", "db", "catalog", spec=spec))
    service = {"clusterIP": "None", "selector": selector or {"app": "db"}}
    _put(kube, _obj("v1", "Service", "db", "catalog", spec=service))
    for i, ip in enumerate(ips):
        status = {"podIP": ip, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
        _put(kube, _obj("v1", "Pod", f"db-{i}", "catalog", status=status))


FQDN = "{}.catalog.svc.cluster.local"


def test_each_member_and_the_member_list_resolve() -> None:
    kube = Resolver({FQDN.format("db-0.db"): ["10.0.0.5"], FQDN.format("db-1.db"): ["10.0.0.6"],
                     FQDN.format("db"): ["10.0.0.6", "10.0.0.5"]})  # fmt: skip
    _members(kube, ["10.0.0.5", "10.0.0.6"])
    result = ws.stable_names_resolve(kube, IMAGES, CLUSTER, "db", "catalog", wait_for=1)
    assert result.ok, result.message
    assert "nslookup 'db-1.db.catalog.svc.cluster.local'" in kube.scripts[0]
    assert not [k for k in kube.objects if k[3].startswith("breakfix-probe")]  # the probe pod is gone


@pytest.mark.parametrize("selector", [{"app.kubernetes.io/name": "db"}, {"app": "db", "tier": "cache"}])
def test_names_that_a_new_member_would_not_get_fail(selector: dict[str, str]) -> None:
    """Pods labelled by hand for the Service resolve today; a member started again would not."""
    kube = Resolver({FQDN.format("db-0.db"): ["10.0.0.5"], FQDN.format("db"): ["10.0.0.5"]})
    _members(kube, ["10.0.0.5"], selector=selector)
    result = ws.stable_names_resolve(kube, IMAGES, CLUSTER, "db", "catalog", wait_for=1)
    assert result.status == "fail" and "would not be found" in result.message, result.message


def test_a_virtual_address_for_the_service_name_fails() -> None:
    kube = Resolver({FQDN.format("db-0.db"): ["10.0.0.5"], FQDN.format("db"): ["10.96.7.7"]})
    _members(kube, ["10.0.0.5"])
    result = ws.stable_names_resolve(kube, IMAGES, CLUSTER, "db", "catalog", wait_for=1)
    assert result.status == "fail" and "db.catalog.svc.cluster.local gives 10.96.7.7" in result.message


def test_a_member_name_that_does_not_resolve_fails() -> None:
    kube = Resolver({FQDN.format("db"): ["10.0.0.5"]})
    _members(kube, ["10.0.0.5"])
    result = ws.stable_names_resolve(kube, IMAGES, CLUSTER, "db", "catalog", wait_for=1)
    assert result.status == "fail" and "db-0.db.catalog.svc.cluster.local gives no address" in result.message


def test_a_member_that_is_not_ready_cannot_be_judged() -> None:
    kube = Resolver({})
    _members(kube, ["10.0.0.5"], ready=False)
    result = ws.stable_names_resolve(kube, IMAGES, CLUSTER, "db", "catalog", wait_for=1)
    assert result.status == "fail" and "db-0 is not running and ready" in result.message
    assert not kube.scripts  # no probe was run


# on_every_node -----------------------------------------------------------------------------------


def _agent(kube: FakeKube, nodes: list[str], pods: dict[str, str], revision: str = "new") -> None:
    for n in nodes:
        _put(kube, _obj("v1", "Node", n, None))
    labels = {"app": "agent"}
    _put(kube, _obj("apps/v1", "DaemonSet", "agent", "mon", spec={"selector": {"matchLabels": labels}}))
    owner = [{"uid": "uid-agent", "kind": "DaemonSet", "controller": True}]
    for name, rev in (("agent-old", "old"), ("agent-new", revision)):
        meta = {"labels": {**labels, "controller-revision-hash": rev}, "ownerReferences": owner}
        _put(
            kube,
            _obj("apps/v1", "ControllerRevision", name, "mon", meta=meta, revision=2 if name == "agent-new" else 1),
        )
    for node, rev in pods.items():
        meta = {"labels": {**labels, "controller-revision-hash": rev}, "ownerReferences": owner}
        status = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
        _put(kube, _obj("v1", "Pod", f"agent-{node}", "mon", meta=meta, spec={"nodeName": node}, status=status))


KINDS = {"DaemonSet", "Node", "ControllerRevision", "Pod"}


def test_a_current_ready_pod_on_every_node_passes() -> None:
    kube = FakeKube(KINDS)
    _agent(kube, ["cp1", "w1"], {"cp1": "new", "w1": "new"})
    result = ws.on_every_node(kube, "agent", "mon")
    assert result.ok, result.message


def test_a_node_without_the_daemonsets_own_pod_fails_even_with_a_copy_there() -> None:
    kube = FakeKube(KINDS)
    _agent(kube, ["cp1", "w1"], {"w1": "new"})
    copy = _obj("v1", "Pod", "agent-copy", "mon", meta={"labels": {"app": "agent"}}, spec={"nodeName": "cp1"})
    _put(kube, copy)
    result = ws.on_every_node(kube, "agent", "mon")
    assert result.status == "fail" and "no pod on cp1" in result.message


def test_a_pod_of_an_older_template_does_not_count() -> None:
    kube = FakeKube(KINDS)
    _agent(kube, ["cp1", "w1"], {"cp1": "old", "w1": "new"})
    result = ws.on_every_node(kube, "agent", "mon")
    assert result.status == "fail" and "current template on cp1" in result.message


def test_a_missing_daemonset_fails() -> None:
    assert ws.on_every_node(FakeKube(KINDS), "agent", "mon").status == "fail"
