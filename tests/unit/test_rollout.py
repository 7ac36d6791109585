"""A rollout as the pods show it (graders.rollout), and the shortcut that fools status counts (breakers.rollout)."""

from __future__ import annotations

from typing import Any

from breakers import rollout as breaker
from breakfix.changes import ChangeLog
from breakfix.undo import replay
from graders import rollout
from tests.fakes import FakeKube, FakeTransport
from tests.unit.contexts import make_ctx


def container(release: str) -> dict[str, Any]:
    return {"name": "web", "image": "nginx:1.27", "env": [{"name": "RELEASE", "value": release}]}


def deployment(release: str = "2") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "frontend", "namespace": "default"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "frontend"}},
            "template": {"metadata": {"labels": {"app": "frontend"}}, "spec": {"containers": [container(release)]}},
        },
    }


def pod(name: str, release: str, **meta: Any) -> dict[str, Any]:
    spec = {
        "containers": [{**container(release), "image": "docker.io/library/nginx:1.27", "imagePullPolicy": "Always"}]
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": "frontend"}, **meta},
        "spec": spec,
        "status": {"phase": "Running"},
    }


def cluster(*pods: dict[str, Any]) -> FakeKube:
    kube = FakeKube({"Deployment", "Pod", "ReplicaSet"})
    kube.create(deployment())
    for p in pods:
        kube.create(p)
    return kube


def test_pods_of_the_current_template_pass_whatever_the_image_spelling() -> None:
    assert rollout.pods_run_template(cluster(pod("a", "2"), pod("b", "2")), "frontend").ok


def test_a_pod_of_the_old_template_fails_and_one_being_deleted_does_not_count() -> None:
    old = rollout.pods_run_template(cluster(pod("a", "2"), pod("b", "1")), "frontend")
    assert not old.ok and "1 of 2 pods" in old.message and "(b)" in old.message
    going = pod("c", "1", deletionTimestamp="2026-12-03T00:00:00Z")
    assert rollout.pods_run_template(cluster(pod("a", "2"), going), "frontend").ok


def test_no_pod_or_no_deployment_fails() -> None:
    assert "has no pod" in rollout.pods_run_template(cluster(), "frontend").message
    assert "does not exist" in rollout.pods_run_template(cluster(), "other").message


def test_the_shortcut_edits_the_replicaset_that_runs_the_pods_and_undo_puts_it_back() -> None:
    kube = cluster()
    uid = kube.get("apps/v1", "Deployment", "frontend", "default")["metadata"]["uid"]  # type: ignore[index]
    for name, replicas in (("frontend-old", 2), ("frontend-older", 0)):
        kube.create(
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {"name": name, "namespace": "default", "ownerReferences": [{"uid": uid}]},
                "spec": {"replicas": replicas, "template": {"spec": {"containers": [container("1")]}}},
            }
        )
    ctx = make_ctx(FakeTransport(), kube)
    breaker.edit_running_replicaset(
        ChangeLog(ctx, "cheat"), kube, "frontend", "web", {"env": [{"name": "RELEASE", "value": "2"}]}
    )
    edited = kube.get("apps/v1", "ReplicaSet", "frontend-old", "default")
    assert edited["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] == "2"  # type: ignore[index]
    replay(ctx)
    back = kube.get("apps/v1", "ReplicaSet", "frontend-old", "default")
    assert back["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] == "1"  # type: ignore[index]


def test_a_sidecar_injected_by_a_webhook_does_not_make_a_pod_stale_but_a_missing_container_does() -> None:
    injected = pod("a", "2")
    injected["spec"]["containers"].append({"name": "mesh-proxy", "image": "proxy:1"})
    assert rollout.pods_run_template(cluster(injected), "frontend").ok
    renamed = pod("b", "2")
    renamed["spec"]["containers"][0]["name"] = "other"
    assert not rollout.pods_run_template(cluster(renamed), "frontend").ok
