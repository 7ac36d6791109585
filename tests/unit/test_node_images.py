"""graders.node_images: a workload runs the very image a node holds under the released name (fake node and API)."""

from __future__ import annotations

from typing import Any

from breakfix.transport.node import Node
from graders import node_images
from tests.fakes import FakeKube, FakeTransport

RELEASE = "registry.example.com/ops/heartbeat:2.1"
PAUSE_M = "sha256:" + "1" * 64
PAUSE_ID = "sha256:" + "a" * 64
WEB_M = "sha256:" + "2" * 64
WEB_ID = "sha256:" + "b" * 64
V2 = "application/vnd.docker.distribution.manifest.v2+json"
LISTING = (
    "REF TYPE DIGEST SIZE PLATFORMS LABELS\n"
    f"breakfix.local/k8s/pause:3.10.1 {V2} {PAUSE_M} 1.4 MiB linux/amd64 -\n"
    f"{RELEASE} {V2} {PAUSE_M} 1.4 MiB linux/amd64 -\n"
    f"{PAUSE_ID} {V2} {PAUSE_M} 1.4 MiB linux/amd64 -\n"
    f"breakfix.local/web:1 {V2} {WEB_M} 3.0 MiB linux/amd64 -\n"
    f"{WEB_ID} {V2} {WEB_M} 3.0 MiB linux/amd64 -\n"
)


def control_plane(stdout: str = LISTING, rc: int = 0) -> Node:
    t = FakeTransport()
    t.expect(r"^ctr -n k8s.io images ls$", rc=rc, stdout=stdout, stderr="ctr: failed" if rc else "")
    return Node("cp1", "control-plane", t)


def cluster(image_ids: list[str], image: str = RELEASE) -> FakeKube:
    kube = FakeKube({"Deployment", "Pod"})
    kube.create({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "heartbeat", "namespace": "ops", "uid": "d1"},
        "spec": {"selector": {"matchLabels": {"app": "heartbeat"}}},
    })  # fmt: skip
    for i, image_id in enumerate(image_ids):
        # the status names the image by one of its tags, not necessarily the one the spec asked for
        status: dict[str, Any] = {"name": "heartbeat", "image": "breakfix.local/k8s/pause:3.10.1"}
        status.update(imageID=image_id, state={"running": {}})
        kube.create({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"heartbeat-{i}", "namespace": "ops", "labels": {"app": "heartbeat"}},
            "spec": {"containers": [{"name": "heartbeat", "image": image}]},
            "status": {"phase": "Running", "containerStatuses": [status]},
        })  # fmt: skip
    return kube


def test_the_released_image_passes_by_id_or_by_repository_digest() -> None:
    # the same content reported by another of its names (a pause image pulled from its registry)
    kube = cluster([PAUSE_ID, f"registry.example.com/ops/heartbeat@{PAUSE_M}", f"registry.k8s.io/pause@{PAUSE_M}"])
    result = node_images.runs_image_held_by(kube, control_plane(), "heartbeat", RELEASE, "ops")
    assert result.ok, result.message


def test_another_image_tagged_under_the_released_name_fails() -> None:
    kube = cluster([PAUSE_ID, WEB_ID, f"breakfix.local/web@{WEB_M}"])
    result = node_images.runs_image_held_by(kube, control_plane(), "heartbeat", RELEASE, "ops")
    assert result.status == "fail" and "heartbeat-1, heartbeat-2" in result.message
    assert "heartbeat-0" not in result.message


def test_nothing_running_under_the_name_cannot_pass() -> None:
    kube = cluster([PAUSE_ID], image="breakfix.local/k8s/pause:3.10.1")
    result = node_images.runs_image_held_by(kube, control_plane(), "heartbeat", RELEASE, "ops")
    assert result.status == "fail" and "no container" in result.message


def test_a_node_without_the_release_or_without_ctr_is_an_error() -> None:
    kube = cluster([PAUSE_ID])
    for node in (control_plane(LISTING.splitlines()[0]), control_plane("", rc=1)):
        assert node_images.runs_image_held_by(kube, node, "heartbeat", RELEASE, "ops").status == "error"
