"""Generic bypasses: which workloads a lab grades, which shortcuts apply to them, and the breakers that take them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from breakers import bypass
from breakfix import runner
from breakfix.bypasses import Bypass, RoutedService, Target, graded_targets, plan, plan_routing, routed_services
from breakfix.catalog import Lab
from breakfix.changes import ChangeLog
from breakfix.state import JournalEntry
from breakfix.steps import bind
from breakfix.undo import replay
from tests.fakes import FakeKube, FakeTransport
from tests.unit.contexts import make_ctx, marked_ctx


def entry(kind: str, name: str, namespace: str, previous: dict[str, Any] | None, phase: str = "setup") -> JournalEntry:
    record = {"apiVersion": "apps/v1", "kind": kind, "name": name, "namespace": namespace, "previous": previous}
    return JournalEntry(0, "test", 1, phase, "object", record)


def deployment(name: str, namespace: str = "shop", replicas: int = 2, **container: Any) -> dict[str, Any]:
    spec = {"containers": [{"name": "app", "image": "web:1", **container}]}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}, "template": {"spec": spec}},
    }


GRADE = [
    bind("graders.workload.available", {"name": "web", "namespace": "shop"}, "grade"),
    bind("graders.workload.available", {"name": "coredns", "namespace": "kube-system"}, "grade"),
]


def test_graded_targets_are_the_journaled_workloads_a_grade_step_names() -> None:
    journal = [
        entry("Deployment", "web", "shop", None),
        entry("Deployment", "web", "shop", {"kind": "Deployment"}, phase="break"),  # changed again: still created
        entry("Deployment", "helper", "shop", None),  # no grade step names it
        entry("Deployment", "web", "other", None),  # named, but in another namespace than the step's
        entry("Service", "web", "shop", None),  # not a workload
        entry("Deployment", "coredns", "kube-system", {"kind": "Deployment"}, phase="break"),  # the cluster's own
    ]
    assert graded_targets(GRADE, journal, {}) == [
        Target("Deployment", "kube-system", "coredns", created=False),
        Target("Deployment", "shop", "web", created=True),
    ]


def test_a_service_account_or_service_named_like_the_app_does_not_make_it_graded() -> None:
    grade = [
        bind("graders.rbac.can", {"service_account": "inventory", "namespace": "shop", "verbs": ["list"],
                                  "resource": "deployments", "group": "apps"}, "grade"),
        bind("graders.service.answers", {"service": "inventory", "namespace": "shop"}, "grade"),
    ]  # fmt: skip
    assert graded_targets(grade, [entry("Deployment", "inventory", "shop", None)], {}) == []


def test_a_grade_step_without_a_namespace_names_the_workload_in_the_graders_default_one() -> None:
    grade = [bind("graders.service.endpoints_match", {"service": "front", "deployment": "web"}, "grade")]
    journal = [
        entry("Deployment", "web", "default", None),
        entry("Deployment", "web", "shop", None),  # a namesake elsewhere: not what the step grades
        entry("StatefulSet", "db", "default", None),
    ]
    assert graded_targets(grade, journal, {}) == [Target("Deployment", "default", "web", created=True)]


def test_plan_takes_the_shortcuts_that_apply_to_each_workload_as_broken() -> None:
    kube = FakeKube({"Deployment"})
    probe = {"httpGet": {"path": "/", "port": 80}}
    kube.create(deployment("web", readinessProbe=probe, resources={"limits": {"memory": "64Mi"}}))
    kube.create(deployment("coredns", "kube-system", replicas=0))  # scaled down already, nothing to take off
    kube.create(deployment("plain"))
    kube.kinds.add("StatefulSet")
    claims = {**deployment("db"), "kind": "StatefulSet"}
    claims["spec"]["volumeClaimTemplates"] = [{"metadata": {"name": "data"}}]
    kube.create(claims)
    targets = [
        Target("Deployment", "kube-system", "coredns", created=False),
        Target("Deployment", "shop", "web", created=True),
        Target("Deployment", "shop", "plain", created=False),
        Target("Deployment", "shop", "gone", created=True),  # deleted meanwhile: nothing to try
        Target("StatefulSet", "shop", "db", created=True),
    ]
    planned = plan(kube, targets)
    assert [b.name for b in planned] == [
        "scale-to-zero:Deployment/shop/web",
        "no-probes:Deployment/shop/web",
        "no-resources:Deployment/shop/web",
        "renamed:Deployment/shop/web",
        "scale-to-zero:Deployment/shop/plain",  # the cluster's own: never renamed
        "scale-to-zero:StatefulSet/shop/db",  # its copy's claims would outlive it: not renamed
    ]
    renamed = next(b for b in planned if b.name.startswith("renamed:"))
    assert [s.ref for s in renamed.steps] == ["breakers.kube.copy_workload", "breakers.kube.delete"]
    assert renamed.after_fix and not any(b.after_fix for b in planned if b is not renamed)
    assert renamed.steps[0].kwargs["new_name"] == "web-renamed"


def test_a_lab_exempts_a_bypass_that_is_a_valid_fix_there() -> None:
    kube = FakeKube({"Deployment"})
    kube.create(deployment("web", livenessProbe={"tcpSocket": {"port": 80}}))
    exempt = {"no-probes:Deployment/shop/web": "the probe is not part of the task"}
    planned = plan(kube, [Target("Deployment", "shop", "web", created=False)], exempt)
    assert [b.name for b in planned] == ["scale-to-zero:Deployment/shop/web"]


def test_drop_probes_and_resources_are_undone_from_the_journal() -> None:
    kube = FakeKube({"Deployment"})
    tcp = {"tcpSocket": {"port": 80}}
    kube.create(deployment("web", resources={"requests": {"cpu": "1"}}, livenessProbe=tcp, startupProbe=tcp))
    ctx = make_ctx(FakeTransport(), kube)
    changes = ChangeLog(ctx, "cheat")
    bypass.drop_probes(changes, kube, "web", "shop")
    bypass.drop_resources(changes, kube, "web", "shop")
    (container,) = kube.get("apps/v1", "Deployment", "web", "shop")["spec"]["template"]["spec"]["containers"]  # type: ignore[index]
    assert container == {"name": "app", "image": "web:1"}
    replay(ctx)
    (container,) = kube.get("apps/v1", "Deployment", "web", "shop")["spec"]["template"]["spec"]["containers"]  # type: ignore[index]
    assert container["resources"] == {"requests": {"cpu": "1"}} and container["startupProbe"]


def test_init_containers_and_sidecars_lose_their_resources_and_probes_too() -> None:
    kube = FakeKube({"Deployment"})
    obj = deployment("web")
    tcp = {"tcpSocket": {"port": 9000}}
    obj["spec"]["template"]["spec"]["initContainers"] = [
        {"name": "migrate", "image": "tool:1", "resources": {"limits": {"memory": "1Gi"}}},
        {"name": "proxy", "image": "proxy:1", "restartPolicy": "Always", "readinessProbe": tcp},  # a sidecar
    ]
    kube.create(obj)
    planned = plan(kube, [Target("Deployment", "shop", "web", created=False)])
    assert [b.name for b in planned] == [
        "scale-to-zero:Deployment/shop/web",
        "no-probes:Deployment/shop/web",
        "no-resources:Deployment/shop/web",
    ]
    ctx = make_ctx(FakeTransport(), kube)
    bypass.drop_probes(ChangeLog(ctx, "cheat"), kube, "web", "shop")
    bypass.drop_resources(ChangeLog(ctx, "cheat"), kube, "web", "shop")
    spec = kube.get("apps/v1", "Deployment", "web", "shop")["spec"]["template"]["spec"]  # type: ignore[index]
    assert spec["initContainers"] == [
        {"name": "migrate", "image": "tool:1"},
        {"name": "proxy", "image": "proxy:1", "restartPolicy": "Always"},
    ]
    assert spec["containers"] == [{"name": "app", "image": "web:1"}]
    replay(ctx)
    spec = kube.get("apps/v1", "Deployment", "web", "shop")["spec"]["template"]["spec"]  # type: ignore[index]
    assert spec["initContainers"] == obj["spec"]["template"]["spec"]["initContainers"]


@pytest.mark.usefixtures("fast_clock")
def test_verify_fails_a_lab_whose_grade_a_generic_bypass_passes(
    lab_dict: Callable[..., Lab], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bypass is tried like a cheat, named in its phase, and undone before the next; one marked after_fix on
    the fixed cluster, after the reference fix passed."""
    lab = lab_dict()
    ctx, t, _k = marked_ctx({"/etc/app.conf": b"good"})
    passing = Bypass(
        "no-probes:Deployment/shop/web",
        [bind("tests.steps.write", {"path": "/etc/app.conf", "content": "good"}, "cheats")],
    )
    failing = Bypass(
        "scale-to-zero:Deployment/shop/web",
        [bind("tests.steps.write", {"path": "/etc/app.conf", "content": "meh"}, "cheats")],
    )
    renamed = Bypass(
        "renamed:Deployment/shop/web",
        [bind("tests.steps.write", {"path": "/etc/app.conf", "content": "meh"}, "cheats")],
        after_fix=True,
    )
    monkeypatch.setattr(runner, "_bypasses", lambda *_a: [renamed, passing, failing])
    phases = runner.verify(ctx, lab, settle=1, bypass_window=1)
    assert [(p.name, p.ok) for p in phases] == [
        ("break", True),
        ("grade-after-break", True),
        ("cheat:wrong-value", True),
        ("bypass:no-probes:Deployment/shop/web", False),
        ("bypass:scale-to-zero:Deployment/shop/web", True),
        ("solve", True),
        ("bypass:renamed:Deployment/shop/web", True),
        ("reset", True),
    ]
    assert phases[3].detail == "the bypass PASSED grading"
    assert t.files["/etc/app.conf"] == b"good"


@pytest.mark.usefixtures("fast_clock")
def test_no_bypass_window_tries_none(lab_dict: Callable[..., Lab], monkeypatch: pytest.MonkeyPatch) -> None:
    lab = lab_dict()
    ctx, _t, _k = marked_ctx({"/etc/app.conf": b"good"})

    def refused(*_a: object) -> list[Bypass]:
        raise AssertionError("bypasses planned with a window of 0")

    monkeypatch.setattr(runner, "_bypasses", refused)
    assert all(p.ok for p in runner.verify(ctx, lab, settle=1, bypass_window=0))


def service_entry(name: str, previous: dict[str, Any] | None, phase: str = "break") -> JournalEntry:
    record = {"apiVersion": "v1", "kind": "Service", "name": name, "namespace": "shop", "previous": previous}
    return JournalEntry(0, "test", 1, phase, "object", record)


def service(name: str, selector: dict[str, str] | None, target: int | str = 8080) -> dict[str, Any]:
    spec: dict[str, Any] = {"ports": [{"name": "http", "port": 80, "targetPort": target}]}
    if selector is not None:
        spec["selector"] = selector
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "shop"}, "spec": spec}


def pod(name: str, ip: str, ready: bool = True, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "shop", "labels": labels or {"app": "web"}},
        "spec": {"containers": [{"name": "app", "ports": [{"name": "web", "containerPort": 8080}]}]},
        "status": {"podIP": ip, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


def test_routed_services_are_those_the_break_changed_as_setup_left_them() -> None:
    journal = [
        service_entry("web", None, phase="setup"),  # created by setup
        service_entry("web", service("web", {"app": "web"}, "web")),  # the break changed it: as setup left it
        service_entry("web", service("web", {"app": "other"})),  # changed again: the first change counts
        service_entry("db", service("db", {"app": "db"}), phase="setup"),  # only setup touched it
        service_entry("ext", service("ext", None)),  # it routed by no selector before the break
        service_entry("new", None),  # the break created it
    ]
    (found,) = routed_services(journal)
    assert (found.namespace, found.name, dict(found.selector)) == ("shop", "web", {"app": "web"})
    assert found.target_port == "web"
    assert found.label == "Service/shop/web"


def test_hand_routing_goes_to_the_ready_pods_on_the_port_the_service_used_before_the_break() -> None:
    kube = FakeKube({"Service", "Pod"})
    kube.create(service("web", {"app": "web"}, target=9999))  # broken: the wrong target port
    kube.create(pod("web-1", "10.0.0.2"))
    kube.create(pod("web-2", "10.0.0.3", ready=False))
    routed = [
        RoutedService("shop", "web", (("app", "web"),), "web"),  # a named port: the pods' number for it
        RoutedService("shop", "gone", (("app", "web"),), 80),  # deleted since: nothing to route
        RoutedService("shop", "web", (("app", "none"),), 80),  # no ready pod to route to
    ]
    kube.create(service("none", None))
    planned = plan_routing(kube, routed, {"hand-slice:Service/shop/web": "the lab allows a slice"})
    assert [b.name for b in planned] == ["hand-endpoints:Service/shop/web"]
    (step,) = planned[0].steps
    assert step.ref == "breakers.kube.endpoints_by_hand" and not planned[0].after_fix
    assert step.kwargs == {"service": "web", "namespace": "shop", "pods": {"app": "web"}, "port": 8080}


def test_an_unnamed_port_that_no_pod_declares_gets_no_hand_routing() -> None:
    kube = FakeKube({"Service", "Pod"})
    kube.create(service("web", {"app": "web"}))
    kube.create(pod("web-1", "10.0.0.2"))
    assert plan_routing(kube, [RoutedService("shop", "web", (("app", "web"),), "metrics")]) == []
    slices = plan_routing(kube, [RoutedService("shop", "web", (("app", "web"),), "8080")])
    assert [b.name for b in slices] == ["hand-endpoints:Service/shop/web", "hand-slice:Service/shop/web"]
    assert slices[1].steps[0].kwargs["slice_only"] is True and slices[1].steps[0].kwargs["port"] == 8080
