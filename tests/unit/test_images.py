"""Image references: one image, several spellings; labs accept any of them where the task asks for the image."""

from __future__ import annotations

import pytest

from breakers import kube as kube_breakers
from breakfix.changes import ChangeLog
from breakfix.context import SessionState
from breakfix.state import State
from graders._images import digest, familiar, pinned_to, qualified, repository, same_image
from graders.service import not_redeployed
from tests.fakes import FakeKube, FakeTransport
from tests.unit.contexts import make_ctx


@pytest.mark.parametrize(
    ("ref", "full"),
    [
        ("nginx:1.27.3", "docker.io/library/nginx:1.27.3"),
        ("docker.io/nginx:1.27.3", "docker.io/library/nginx:1.27.3"),
        ("docker.io/library/nginx:1.27.3", "docker.io/library/nginx:1.27.3"),
        ("index.docker.io/library/nginx:1.27.3", "docker.io/library/nginx:1.27.3"),
        ("nginx", "docker.io/library/nginx:latest"),
        ("bitnami/nginx:1.27", "docker.io/bitnami/nginx:1.27"),
        ("registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.10"),
        ("Breakfix.Local/web:1", "breakfix.local/web:1"),
        ("localhost:5000/web", "localhost:5000/web:latest"),
        ("localhost/web:1", "localhost/web:1"),
        ("nginx@sha256:abc", "docker.io/library/nginx@sha256:abc"),
        ("nginx:1.27@sha256:abc", "docker.io/library/nginx:1.27@sha256:abc"),
    ],
)
def test_qualified_reads_references_as_runtimes_do(ref: str, full: str) -> None:
    assert qualified(ref) == full


def test_familiar_is_the_shortest_spelling_of_the_same_image() -> None:
    assert familiar("docker.io/library/nginx:1.27.3") == "nginx:1.27.3"
    assert familiar("docker.io/bitnami/nginx:1.27") == "bitnami/nginx:1.27"
    assert familiar("breakfix.local/web:1") == "breakfix.local/web:1"
    assert same_image("nginx:1.27.3", "docker.io/nginx:1.27.3")
    assert not same_image("nginx:1.27.3", "nginx:1.27.30")
    assert not same_image("nginx:1.27.3", "breakfix.local/nginx:1.27.3")
    assert not same_image("web:1", "breakfix.local/web:1")


def deployment(image: str) -> dict[str, object]:
    container = {"name": "web", "image": image, "imagePullPolicy": "Never"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "api", "namespace": "orders"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "api"}},
            "template": {"metadata": {"labels": {"app": "api"}}, "spec": {"containers": [container]}},
        },
    }


@pytest.mark.parametrize(
    ("mapped", "spelling", "written"),
    [
        ("docker.io/library/nginx:1.27.3", "familiar", "nginx:1.27.3"),
        ("nginx:1.27.3", "qualified", "docker.io/library/nginx:1.27.3"),
        ("breakfix.local/web:1", "familiar", "breakfix.local/web:1"),  # the test bed's: one spelling only
    ],
)
def test_the_same_image_written_another_way_is_untouched(mapped: str, spelling: str, written: str) -> None:
    kube = FakeKube({"Deployment", "Pod"})
    kube.create(deployment(mapped))
    state = SessionState(State(), None)
    kube_breakers.remember(kube, state, "Deployment", "api", "orders")
    changes = ChangeLog(make_ctx(FakeTransport(), kube), "break")
    kube_breakers.set_image(changes, kube, {"web": mapped}, "api", "web", "web", typo="0", namespace="orders")
    assert not not_redeployed(kube, state, "api", "orders").ok
    kube_breakers.set_image(changes, kube, {"web": mapped}, "api", "web", "web", namespace="orders", spelling=spelling)
    live = kube.get("apps/v1", "Deployment", "api", "orders")
    assert live is not None and live["spec"]["template"]["spec"]["containers"][0]["image"] == written
    result = not_redeployed(kube, state, "api", "orders")
    assert result.ok, result.message


def test_another_image_or_tag_is_still_a_change() -> None:
    kube = FakeKube({"Deployment", "Pod"})
    kube.create(deployment("docker.io/library/nginx:1.27.3"))
    state = SessionState(State(), None)
    kube_breakers.remember(kube, state, "Deployment", "api", "orders")
    for image in ("nginx:1.27", "nginx", "docker.io/library/busybox:1.27.3", "mirror.example/library/nginx:1.27.3"):
        kube.replace(deployment(image))
        result = not_redeployed(kube, state, "api", "orders")
        assert not result.ok and "pod template was changed" in result.message, image


DIGEST = "sha256:" + "a" * 64


def test_digests_and_repositories() -> None:
    assert digest(f"nginx@{DIGEST}") == DIGEST and digest("nginx:1.27") == ""
    assert repository(f"nginx:1.27@{DIGEST}") == "docker.io/library/nginx"
    assert repository("localhost:5000/web:1") == "localhost:5000/web"
    assert pinned_to(f"nginx@{DIGEST}", [f"docker.io/library/nginx@{DIGEST}"])
    assert pinned_to(f"nginx@{DIGEST}", [DIGEST])  # a runtime may report the bare digest
    assert not pinned_to(f"nginx@{DIGEST}", ["docker.io/library/nginx@sha256:" + "b" * 64])
    assert not pinned_to("nginx:1.27", [DIGEST])


def test_pinning_the_digest_that_ran_at_setup_is_the_same_image() -> None:
    kube = FakeKube({"Deployment", "Pod"})
    kube.create(deployment("docker.io/library/nginx:1.27.3"))
    ran = {"name": "web", "imageID": f"docker.io/library/nginx@{DIGEST}"}
    kube.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "api-1", "namespace": "orders",
                 "labels": {"app": "api"}}, "status": {"containerStatuses": [ran]}})  # fmt: skip
    state = SessionState(State(), None)
    kube_breakers.remember(kube, state, "Deployment", "api", "orders")
    assert state.get("remember:Deployment:orders/api")["image_ids"] == {"web": [ran["imageID"]]}
    kube.replace(deployment(f"nginx@{DIGEST}"))
    assert not_redeployed(kube, state, "api", "orders").ok
    kube.replace(deployment(f"nginx:1.27.3@{DIGEST}"))
    assert not_redeployed(kube, state, "api", "orders").ok
    for other in ("nginx@sha256:" + "b" * 64, f"evil.example/nginx@{DIGEST}"):  # another image, another repository
        kube.replace(deployment(other))
        assert not not_redeployed(kube, state, "api", "orders").ok, other
