"""graders.metrics, breakers.metrics and breakers.workload_flags: the Metrics API, autoscalers, container flags."""

from __future__ import annotations

from typing import Any

import pytest

from breakers import metrics as metrics_breakers
from breakers.workload_flags import set_container_flags
from breakfix.changes import ChangeLog
from breakfix.errors import ApiRefused, StepError
from graders import metrics
from tests.fakes import FakeKube, FakeTransport
from tests.unit.contexts import make_ctx

KINDS = {
    "APIService",
    "Node",
    "NodeMetrics",
    "Pod",
    "PodMetrics",
    "HorizontalPodAutoscaler",
    "Deployment",
    "LimitRange",
    "Service",
}


def node(name: str, ready: bool = True) -> dict[str, Any]:
    status = "True" if ready else "False"
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "status": {"conditions": [{"type": "Ready", "status": status}]},
    }


def apiservice(available: str = "True", reason: str = "Passed") -> dict[str, Any]:
    return {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": "v1beta1.metrics.k8s.io"},
        "status": {"conditions": [{"type": "Available", "status": available, "reason": reason}]},
    }


def node_metrics(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "metrics.k8s.io/v1beta1",
        "kind": "NodeMetrics",
        "metadata": {"name": name},
        "usage": {"cpu": "120m", "memory": "900Mi"},
    }


def pod(name: str, phase: str = "Running") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "shop", "labels": {"app": "checkout"}},
        "status": {"phase": phase},
    }


def pod_metrics(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "metrics.k8s.io/v1beta1",
        "kind": "PodMetrics",
        "metadata": {"name": name, "namespace": "shop"},
        "containers": [{"name": "checkout", "usage": {"cpu": "1m", "memory": "2Mi"}}],
    }


def cluster(*objs: dict[str, Any]) -> FakeKube:
    kube = FakeKube(KINDS)
    for obj in objs:
        meta = obj["metadata"]
        kube.objects[(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"])] = obj
    return kube


def healthy() -> FakeKube:
    return cluster(
        apiservice(),
        node("cp1"),
        node("w1"),
        node_metrics("cp1"),
        node_metrics("w1"),
        pod("checkout-a"),
        pod("checkout-b"),
        pod_metrics("checkout-a"),
        pod_metrics("checkout-b"),
    )


def test_metrics_api_passes_with_figures_for_every_node_and_pod() -> None:
    result = metrics.metrics_api(healthy(), namespace="shop", selector="app=checkout")
    assert result.status == "pass", result.message
    assert "2 node(s) and 2 pod(s)" in result.message


def test_metrics_api_ignores_a_node_that_is_not_ready() -> None:
    kube = cluster(apiservice(), node("cp1"), node("w1", ready=False), node_metrics("cp1"))
    assert metrics.metrics_api(kube).status == "pass"


def test_metrics_api_fails_without_the_apiservice() -> None:
    kube = cluster(node("cp1"), node_metrics("cp1"))
    result = metrics.metrics_api(kube)
    assert result.status == "fail" and "not registered" in result.message


def test_metrics_api_fails_when_the_apiservice_is_not_available() -> None:
    kube = cluster(apiservice("False", "MissingEndpoints"), node("cp1"))
    result = metrics.metrics_api(kube)
    assert result.status == "fail" and "MissingEndpoints" in result.message


def test_metrics_api_fails_for_a_node_without_figures() -> None:
    """A metrics server that answers Ready with an empty store (its readiness probe removed) is not serving."""
    kube = cluster(apiservice(), node("cp1"), node("w1"), node_metrics("cp1"))
    result = metrics.metrics_api(kube)
    assert result.status == "fail" and "w1" in result.message and "1 of 2" in result.message


def test_metrics_api_fails_for_a_running_pod_without_figures() -> None:
    kube = healthy()
    del kube.objects[("metrics.k8s.io/v1beta1", "PodMetrics", "shop", "checkout-b")]
    result = metrics.metrics_api(kube, namespace="shop", selector="app=checkout")
    assert result.status == "fail" and "checkout-b" in result.message


def test_metrics_api_fails_when_no_pod_runs() -> None:
    kube = cluster(apiservice(), node("cp1"), node_metrics("cp1"), pod("checkout-a", phase="Pending"))
    result = metrics.metrics_api(kube, namespace="shop", selector="app=checkout")
    assert result.status == "fail" and "nothing to measure" in result.message


class RefusingDiscovery(FakeKube):
    """An API server whose aggregated group is down: discovery refuses the Metrics API's kinds."""

    def list(
        self, api_version: str, kind: str, namespace: str | None = None, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        if api_version == metrics.METRICS_API:
            raise ApiRefused(f"the API server does not serve {kind} in {api_version}", 404)
        return super().list(api_version, kind, namespace, label_selector)


def test_metrics_api_fails_in_one_line_when_the_group_is_not_served() -> None:
    kube = RefusingDiscovery(KINDS)
    kube.objects = healthy().objects
    result = metrics.metrics_api(kube)
    assert result.status == "fail" and "does not answer" in result.message


def hpa(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "checkout"},
        "minReplicas": 2,
        "maxReplicas": 6,
        "metrics": [
            {
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}},
            }
        ],
    }
    base.update(spec)
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "checkout", "namespace": "shop"},
        "spec": base,
        "status": {
            "conditions": [
                {"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale"},
                {"type": "ScalingActive", "status": "True", "reason": "ValidMetricFound"},
            ],
            "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 4}}}],
        },
    }


def grade_hpa(obj: dict[str, Any] | None) -> tuple[str, str]:
    kube = cluster(obj) if obj else cluster()
    result = metrics.hpa_active(
        kube, "checkout", "checkout", min_replicas=2, max_replicas=6, utilization=50, namespace="shop"
    )
    return result.status, result.message


def test_hpa_active_passes_when_it_computes_the_policy() -> None:
    status, message = grade_hpa(hpa())
    assert status == "pass" and "4% of requests" in message


def test_hpa_active_fails_when_it_cannot_compute_its_metric() -> None:
    obj = hpa()
    obj["status"]["conditions"][1] = {"type": "ScalingActive", "status": "False", "reason": "FailedGetResourceMetric"}
    status, message = grade_hpa(obj)
    assert status == "fail" and "FailedGetResourceMetric" in message


def test_hpa_active_fails_without_a_current_figure() -> None:
    obj = hpa()
    obj["status"]["currentMetrics"] = [{"type": "Resource", "resource": {"name": "cpu", "current": {}}}]
    assert grade_hpa(obj)[0] == "fail"


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (
            {
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {"name": "cpu", "target": {"type": "AverageValue", "averageValue": "25m"}},
                    }
                ]
            },
            "AverageValue 25m",
        ),
        (
            {
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {"name": "memory", "target": {"type": "Utilization", "averageUtilization": 50}},
                    }
                ]
            },
            "no longer scales on cpu",
        ),
        ({"minReplicas": 1}, "between 1 and 6"),
        ({"scaleTargetRef": {"kind": "Deployment", "name": "other"}}, "Deployment/other"),
    ],
)
def test_hpa_active_fails_when_the_policy_was_changed(change: dict[str, Any], said: str) -> None:
    status, message = grade_hpa(hpa(**change))
    assert status == "fail" and said in message


def test_hpa_active_fails_with_an_extra_metric() -> None:
    obj = hpa()
    obj["spec"]["metrics"].append(
        {
            "type": "Resource",
            "resource": {"name": "memory", "target": {"type": "Utilization", "averageUtilization": 80}},
        }
    )
    status, message = grade_hpa(obj)
    assert status == "fail" and "2 metrics, not one" in message


def test_hpa_active_fails_with_a_second_cpu_target() -> None:
    obj = hpa()
    obj["spec"]["metrics"].append(
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 10}}}
    )
    assert grade_hpa(obj)[0] == "fail"


def test_hpa_active_fails_when_scaling_up_is_disabled() -> None:
    status, message = grade_hpa(hpa(behavior={"scaleUp": {"selectPolicy": "Disabled"}}))
    assert status == "fail" and "scaleUp is disabled" in message


def test_hpa_active_fails_when_the_autoscaler_is_gone() -> None:
    status, message = grade_hpa(None)
    assert status == "fail" and "does not exist" in message


def test_wait_hpa_active_returns_once_active_and_says_why_not_otherwise() -> None:
    metrics_breakers.wait_hpa_active(cluster(hpa()), "checkout", "shop", timeout=0)
    blind = hpa()
    blind["status"]["conditions"][1] = {
        "type": "ScalingActive",
        "status": "False",
        "message": "the HPA was unable to compute the replica count",
    }
    with pytest.raises(StepError, match="unable to compute"):
        metrics_breakers.wait_hpa_active(cluster(blind), "checkout", "shop", timeout=0)


def test_wait_metrics_says_what_is_missing() -> None:
    metrics_breakers.wait_metrics(healthy(), timeout=0)
    with pytest.raises(StepError, match="not registered"):
        metrics_breakers.wait_metrics(cluster(node("cp1")), timeout=0)


def deployment(container: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "metrics-server", "namespace": "kube-system"},
        "spec": {"template": {"spec": {"containers": [container, {"name": "sidecar", "image": "x"}]}}},
    }


def containers_after(container: dict[str, Any], flags: dict[str, str | None]) -> list[dict[str, Any]]:
    kube = cluster(deployment(container))
    ctx = make_ctx(FakeTransport(), kube)
    set_container_flags(ChangeLog(ctx, "break"), kube, "metrics-server", "metrics-server", flags, "kube-system")
    live = kube.objects[("apps/v1", "Deployment", "kube-system", "metrics-server")]
    return list(live["spec"]["template"]["spec"]["containers"])


def test_set_container_flags_sets_adds_and_removes_flags_in_args() -> None:
    before = {
        "name": "metrics-server",
        "args": ["--cert-dir=/tmp", "--kubelet-use-node-status-port", "--kubelet-port=10250"],
    }
    after = containers_after(before, {"--kubelet-use-node-status-port": None, "--kubelet-port": "10255", "--v": "2"})
    assert after[0]["args"] == ["--cert-dir=/tmp", "--kubelet-port=10255", "--v=2"]
    assert after[1] == {"name": "sidecar", "image": "x"}


def test_set_container_flags_edits_the_command_when_the_flags_live_there() -> None:
    before = {"name": "metrics-server", "command": ["/metrics-server", "--kubelet-port=10250"]}
    after = containers_after(before, {"--kubelet-port": "10255"})
    assert after[0]["command"] == ["/metrics-server", "--kubelet-port=10255"]
    assert "args" not in after[0]


def test_set_container_flags_refuses_what_it_cannot_edit() -> None:
    with pytest.raises(StepError, match="no container 'nope'"):
        kube = cluster(deployment({"name": "metrics-server", "args": []}))
        ctx = make_ctx(FakeTransport(), kube)
        set_container_flags(ChangeLog(ctx, "break"), kube, "metrics-server", "nope", {"--a": "1"}, "kube-system")
    with pytest.raises(StepError, match="not a command-line flag"):
        containers_after({"name": "metrics-server", "args": []}, {"kubelet-port": "1"})


def test_set_container_flags_edits_args_beside_a_bare_command() -> None:
    before = {"name": "metrics-server", "command": ["/metrics-server"], "args": ["--kubelet-port=10250"]}
    after = containers_after(before, {"--kubelet-port": "10255", "--v": "2"})
    assert after[0]["command"] == ["/metrics-server"]
    assert after[0]["args"] == ["--kubelet-port=10255", "--v=2"]


def app(container_resources: dict[str, Any], pod_resources: dict[str, Any] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "checkout", "image": "web", "resources": container_resources}]}
    if pod_resources:
        spec["resources"] = pod_resources
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "checkout", "namespace": "shop"},
        "spec": {"template": {"spec": spec}},
    }


def limitrange(**item: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": {"name": "defaults", "namespace": "shop"},
        "spec": {"limits": [{"type": "Container", **item}]},
    }


@pytest.mark.parametrize(
    ("objs", "verdict"),
    [
        ([app({"requests": {"cpu": "50m"}})], "pass"),
        ([app({"limits": {"cpu": "200m"}})], "pass"),  # Kubernetes requests what the limit says
        ([app({"requests": {"memory": "16Mi"}}, {"requests": {"cpu": "100m"}})], "pass"),  # a pod-level request
        ([app({"requests": {"memory": "16Mi"}}), limitrange(defaultRequest={"cpu": "50m"})], "pass"),
        ([app({"requests": {"memory": "16Mi"}}), limitrange(default={"cpu": "100m"})], "pass"),
        (
            [app({"requests": {"memory": "16Mi"}})],
            "fail",
        ),  # running pods resized in place: the template still asks none
        ([app({"requests": {"memory": "16Mi"}}), limitrange(defaultRequest={"memory": "16Mi"})], "fail"),
    ],
)
def test_template_requests_judges_the_pods_to_come(objs: list[dict[str, Any]], verdict: str) -> None:
    assert metrics.template_requests(cluster(*objs), "checkout", "cpu", "shop").status == verdict


def serving(args: list[str]) -> FakeKube:
    service = apiservice()
    service["spec"] = {"service": {"name": "metrics-server", "namespace": "kube-system"}}
    backend = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "metrics-server", "namespace": "kube-system"},
        "spec": {"selector": {"k8s-app": "metrics-server"}},
    }
    server = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "metrics-server-1", "namespace": "kube-system", "labels": {"k8s-app": "metrics-server"}},
        "spec": {"containers": [{"name": "metrics-server", "args": args}]},
    }
    return cluster(service, backend, server)


@pytest.mark.parametrize(
    ("args", "verdict"),
    [
        (["--kubelet-insecure-tls", "--kubelet-port=10250"], "pass"),
        (["--deprecated-kubelet-completely-insecure=false"], "pass"),
        (["--deprecated-kubelet-completely-insecure=true", "--kubelet-port=10255"], "fail"),
        (["--deprecated-kubelet-completely-insecure"], "fail"),
    ],
)
def test_kubelets_read_securely_refuses_plain_http(args: list[str], verdict: str) -> None:
    assert metrics.kubelets_read_securely(serving(args)).status == verdict


def test_kubelets_read_securely_fails_when_nothing_serves() -> None:
    assert metrics.kubelets_read_securely(cluster(apiservice())).status == "fail"
