"""graders.trials: a fresh copy of the app beside a stand-in backend (fake API server that 'runs' the pods)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from breakfix.results import CheckResult
from graders import trials
from tests.fakes import FakeKube
from tests.unit.test_new_graders import CLUSTER, IMAGES


class Kubelet(FakeKube):
    """Pods start at once. The copy of the app serves the stand-in's page when its init command fetches a name
    its /etc/hosts leads to the stand-in, and its own baked page otherwise."""

    def __init__(self, init_command: str, start: bool = True) -> None:
        super().__init__({"Pod", "Service", "Deployment"})
        self.start = start
        self.pages: dict[str, str] = {}
        for obj in (
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "headlines", "namespace": "news"},
             "spec": {"selector": {"app": "headlines"}, "ports": [{"name": "http", "port": 80}]}},
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "headline", "namespace": "news"},
             "spec": {"selector": {"app": "headlines"}, "ports": [{"port": 8080, "targetPort": 80}]}},
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "frontpage", "namespace": "news"},
             "spec": {"selector": {"app": "frontpage"}, "ports": [{"name": "http", "port": 80, "nodePort": 30080}]}},
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "frontpage", "namespace": "news"},
             "spec": {"template": {"metadata": {"labels": {"app": "frontpage"}}, "spec": {
                 "initContainers": [{"name": "load", "command": ["sh", "-c", init_command]}],
                 "containers": [{"name": "web"}]}}}},
        ):  # fmt: skip
            super().create(obj)

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        out = super().create(obj)
        if obj["kind"] == "Pod" and self.start:
            key = ("v1", "Pod", "news", obj["metadata"]["name"])
            self.objects[key]["status"] = {"podIP": "10.244.1.9", "containerStatuses": [{"ready": True}]}
            if obj["metadata"]["name"].endswith("-backend"):
                self.pages["backend"] = re.search(r"<p>(.*?)</p>", obj["spec"]["containers"][0]["command"][2])[1]  # type: ignore[index]
            else:
                load = obj["spec"]["initContainers"][0]
                hosts = {n: a["ip"] for a in obj["spec"]["hostAliases"] for n in a["hostnames"]}
                env = {e["name"]: e["value"] for e in load.get("env") or []}
                url = re.search(r"http://([^/:]+)", load["command"][2])
                host = (url[1] if url else "").lstrip("$")
                ip = hosts.get(host) or env.get(host) or host  # a name, a Service variable, or an address
                self.pages["app"] = self.pages["backend"] if ip == "10.244.1.9" else "baked page"
        return out

    def service_get(self, namespace: str, service: str, port: str, path: str = "/") -> tuple[int, str]:
        assert service.startswith("breakfix-trial-") and port == "http"
        return 200, self.pages["app"]


def run(kube: Kubelet) -> CheckResult:
    return trials.loads_from_backend(kube, IMAGES, CLUSTER, "frontpage", "headlines", "frontpage", "news", wait_for=0)


@pytest.mark.parametrize(
    "host", ["headlines", "headlines.news.svc.cluster.local", "headline", "$HEADLINES_SERVICE_HOST", "CLUSTER_IP"]
)
def test_an_app_that_loads_from_the_backend_by_any_of_its_names_passes(host: str) -> None:
    kube = Kubelet("")
    ip = kube.objects[("v1", "Service", "news", "headlines")]["spec"]["clusterIP"]
    load = kube.objects[("apps/v1", "Deployment", "news", "frontpage")]["spec"]["template"]["spec"]["initContainers"][0]
    load["command"][2] = f"until wget -q -O /www/index.html http://{host.replace('CLUSTER_IP', ip)}/; do sleep 2; done"
    result = run(kube)
    assert result.ok, result.message
    assert not [k for k in kube.objects if k[3].startswith("breakfix-trial-")]  # every trial object deleted


def test_a_baked_page_fails_and_the_stand_in_serves_every_port_of_the_backend() -> None:
    kube = Kubelet("echo '<p>Top story</p>' > /www/index.html")
    created: list[dict[str, Any]] = []
    plain_create = kube.create

    def spy(obj: dict[str, Any]) -> dict[str, Any]:
        created.append(obj)
        return plain_create(obj)

    kube.create = spy  # type: ignore[method-assign]
    result = run(kube)
    assert result.status == "fail" and "does not serve what headlines gives it" in result.message
    backend, app, svc = created
    assert "httpd -p 80 -h /www; httpd -p 8080 -h /www;" in backend["spec"]["containers"][0]["command"][2]
    assert "headline.news.svc" in app["spec"]["hostAliases"][0]["hostnames"]
    assert "app" not in app["metadata"]["labels"]  # the copy never joins the app's own Service
    assert svc["spec"]["ports"] == [{"name": "http", "port": 80}]  # no nodePort taken from the app's Service


def test_a_copy_that_never_starts_is_an_error_or_a_failure() -> None:
    assert run(Kubelet("true", start=False)).status == "error"  # the stand-in itself did not start
