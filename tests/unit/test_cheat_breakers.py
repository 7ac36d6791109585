"""Breakers that play a student's shortcut (a lab's cheats): each is journaled and undone from the journal alone."""

from __future__ import annotations

import re
from typing import Any

import pytest

from breakers import kube as kube_breakers
from breakers import systemd as systemd_breakers
from breakfix.changes import ChangeLog
from breakfix.errors import StepError
from breakfix.transport.base import CommandResult
from breakfix.undo import replay
from graders import service, systemd, workload
from tests.fakes import FakeKube, FakeTransport, unit_settings
from tests.unit.contexts import make_ctx

IMAGES = {"web": "breakfix.local/web:1", "shell": "breakfix.local/shell:1"}


# a unit enabled for this boot only ------------------------------------------------------------


class Systemd:
    """A stateful systemctl for one unit: persistent and runtime links, running or not."""

    def __init__(self, t: FakeTransport, unit: str) -> None:
        self.persistent = False
        self.runtime = False
        self.active = False
        t.scripts.append((re.compile(rf"systemctl (.+) {unit}"), self.answer))
        running = rf'systemctl is-active --quiet {unit} \|\| test "\$\(systemctl is-active {unit}\)" = activating'
        t.scripts.append((re.compile(running), lambda _line: CommandResult(0 if self.active else 3, "", "")))

    def state(self) -> str:
        return "enabled" if self.persistent else "enabled-runtime" if self.runtime else "disabled"

    def answer(self, line: str) -> CommandResult:
        action = line.split()[1:-1]
        if action == ["is-active", "--quiet"]:
            return CommandResult(0 if self.active else 3, "", "")
        if action == ["is-active"]:
            return CommandResult(0 if self.active else 3, "active\n" if self.active else "inactive\n", "")
        if action == ["is-enabled", "--quiet"]:  # enabled-runtime exits 0, as systemctl's does
            return CommandResult(0 if self.state() != "disabled" else 1, "", "")
        if action == ["is-enabled"]:
            return CommandResult(0 if self.state() != "disabled" else 1, self.state() + "\n", "")
        runtime = "--runtime" in action
        verb = action[0]
        if verb in ("enable", "disable"):
            setattr(self, "runtime" if runtime else "persistent", verb == "enable")
        elif verb in ("start", "stop"):
            self.active = verb == "start"
        elif verb != "unmask":
            raise AssertionError(f"unexpected systemctl {action}")
        return CommandResult(0, "", "")


def test_enable_until_reboot_passes_for_enabled_now_but_not_at_boot_and_undoes_to_disabled() -> None:
    t = FakeTransport()
    unit = Systemd(t, "kubelet")  # stopped and disabled, as the break leaves it
    unit_settings(t)
    ctx = make_ctx(t)
    node = ctx.node("cp1")
    systemd_breakers.enable_until_reboot(node, ChangeLog(ctx, "cheat"), "kubelet")
    assert (unit.active, unit.runtime, unit.persistent) == (True, True, False)
    assert systemd.active(node, "kubelet").ok
    judged = systemd.enabled(node, "kubelet")
    assert not judged.ok and "enabled-runtime" in judged.message
    replay(ctx)
    # the runtime link goes first: a start journaled after it would have recorded "enabled" and re-enabled it
    assert (unit.active, unit.runtime, unit.persistent) == (False, False, False)
    assert t.log.index("systemctl disable --runtime kubelet") < t.log.index("systemctl stop kubelet")


def test_enable_until_reboot_without_start_only_links_for_this_boot() -> None:
    t = FakeTransport()
    unit = Systemd(t, "containerd")
    ctx = make_ctx(t)
    systemd_breakers.enable_until_reboot(ctx.node("cp1"), ChangeLog(ctx, "cheat"), "containerd", start=False)
    assert (unit.active, unit.runtime) == (False, True)
    assert [e.kind for e in ctx.store.journal("test")] == ["command"]
    replay(ctx)
    assert not unit.runtime


# pods edited in place ---------------------------------------------------------------------------


def deployment(image: str = "breakfix.local/web:10") -> dict[str, Any]:
    template = {"metadata": {"labels": {"app": "api"}}, "spec": {"containers": [{"name": "web", "image": image}]}}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "api", "namespace": "orders", "generation": 2},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "api"}}, "template": template},
        "status": {"observedGeneration": 2, "readyReplicas": 2, "updatedReplicas": 2},
    }


def pod(name: str, image: str = "breakfix.local/web:10", **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "orders", "labels": {"app": "api"}, **meta},
        "spec": {"nodeName": "w1", "containers": [{"name": "web", "image": image, "imagePullPolicy": "Never"}]},
    }


def test_pods_edited_in_place_run_the_good_image_but_the_deployment_is_not_the_release() -> None:
    kube = FakeKube({"Deployment", "Pod"})
    kube.create(deployment("breakfix.local/web:1"))
    ctx = make_ctx(FakeTransport(), kube)
    # setup remembers the working release; the break's typo follows
    kube_breakers.remember(kube, ctx.state, "Deployment", "api", "orders")
    kube.patch("apps/v1", "Deployment", "api", "orders", {"spec": deployment()["spec"]})
    kube.create(pod("api-1"))
    kube.create(pod("api-2"))
    kube.create(pod("api-old", deletionTimestamp="2026-01-01T00:00:00Z"))  # terminating: left alone
    kube_breakers.set_pod_images(ChangeLog(ctx, "cheat"), kube, IMAGES, "api", "web", "web", "orders")
    images = {p["metadata"]["name"]: p["spec"]["containers"][0]["image"] for p in kube.list("v1", "Pod", "orders")}
    good, typo = "breakfix.local/web:1", "breakfix.local/web:10"
    assert images == {"api-1": good, "api-2": good, "api-old": typo}
    live = kube.get("v1", "Pod", "api-1", "orders")
    assert live is not None and live["spec"]["containers"][0]["imagePullPolicy"] == "Never"  # only the image moved
    assert workload.available(kube, "api", "orders").ok  # every replica runs and is ready...
    judged = service.not_redeployed(kube, ctx.state, "api", "orders")
    assert not judged.ok and "template" in judged.message  # ...but the Deployment still names the typo
    replay(ctx)
    images = {p["metadata"]["name"]: p["spec"]["containers"][0]["image"] for p in kube.list("v1", "Pod", "orders")}
    assert set(images.values()) == {typo}


def test_pods_edited_in_place_need_pods_the_container_and_the_role() -> None:
    kube = FakeKube({"Deployment", "Pod"})
    kube.create(deployment())
    ctx = make_ctx(FakeTransport(), kube)
    changes = ChangeLog(ctx, "cheat")
    with pytest.raises(StepError, match="has no pods"):
        kube_breakers.set_pod_images(changes, kube, IMAGES, "api", "web", "web", "orders")
    kube.create(pod("api-1"))
    with pytest.raises(StepError, match="no container 'app'"):
        kube_breakers.set_pod_images(changes, kube, IMAGES, "api", "app", "web", "orders")
    with pytest.raises(StepError, match="no image for role 'db'"):
        kube_breakers.set_pod_images(changes, kube, IMAGES, "api", "web", "db", "orders")
    with pytest.raises(StepError, match="does not exist"):
        kube_breakers.set_pod_images(changes, kube, IMAGES, "nope", "web", "web", "orders")
    assert ctx.store.journal("test") == []


# a copy of a workload beside it -----------------------------------------------------------------


def coredns(replicas: int = 0) -> dict[str, Any]:
    labels = {"k8s-app": "kube-dns"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "coredns", "namespace": "kube-system", "labels": dict(labels), "uid": "u1"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(labels)},
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {"containers": [{"name": "coredns", "image": "registry.k8s.io/coredns/coredns:v1.12.1"}]},
            },
        },
        "status": {"readyReplicas": replicas},
    }


def test_copy_workload_runs_the_same_pods_under_another_name_and_undo_deletes_it() -> None:
    kube = FakeKube({"Deployment"})
    kube.create(coredns())
    ctx = make_ctx(FakeTransport(), kube)
    kube_breakers.copy_workload(ChangeLog(ctx, "cheat"), kube, "coredns", "coredns-spare", "kube-system", replicas=2)
    spare = kube.get("apps/v1", "Deployment", "coredns-spare", "kube-system")
    assert spare is not None and spare["spec"]["replicas"] == 2 and "status" not in spare
    labels = spare["spec"]["template"]["metadata"]["labels"]
    # the Service's selector (k8s-app=kube-dns) still matches its pods; its own label keeps the two apart
    assert labels == {"k8s-app": "kube-dns", kube_breakers.COPY_LABEL: "coredns"}
    assert spare["spec"]["selector"]["matchLabels"] == labels
    assert spare["spec"]["template"]["spec"] == coredns()["spec"]["template"]["spec"]
    original = kube.get("apps/v1", "Deployment", "coredns", "kube-system")
    assert original is not None and original["spec"]["template"]["metadata"]["labels"] == {"k8s-app": "kube-dns"}
    replay(ctx)
    assert kube.get("apps/v1", "Deployment", "coredns-spare", "kube-system") is None
    assert kube.get("apps/v1", "Deployment", "coredns", "kube-system") is not None


def test_copy_workload_keeps_the_count_unless_told_and_needs_the_original() -> None:
    kube = FakeKube({"Deployment"})
    kube.create(coredns(replicas=3))
    ctx = make_ctx(FakeTransport(), kube)
    kube_breakers.copy_workload(ChangeLog(ctx, "cheat"), kube, "coredns", "dns2", "kube-system")
    spare = kube.get("apps/v1", "Deployment", "dns2", "kube-system")
    assert spare is not None and spare["spec"]["replicas"] == 3
    with pytest.raises(StepError, match="does not exist"):
        kube_breakers.copy_workload(ChangeLog(ctx, "cheat"), kube, "nope", "dns3", "kube-system")


def test_a_runtime_drop_in_is_written_under_run_and_undone_with_a_reload() -> None:
    t = FakeTransport()
    t.expect(
        r"(?s)mkdir -p /run/systemd/system/kubelet.service.d && printf .*until-reboot.conf && systemctl daemon-reload"
    )
    t.expect(r"rm -f /run/systemd/system/kubelet.service.d/99-until-reboot.conf; rmdir .*; systemctl daemon-reload")
    ctx = make_ctx(t)
    systemd_breakers.override_until_reboot(ctx.node("cp1"), ChangeLog(ctx, "cheat"), "kubelet.service", "[Service]\n")
    replay(ctx)
    assert [line.split()[0] for line in t.log if line.startswith(("mkdir", "rm -f /run"))] == ["mkdir", "rm"]
