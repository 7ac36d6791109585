"""The Job check: complete, and its own succeeded pod printed the result (log read on its node; fakes)."""

from __future__ import annotations

from typing import Any

from breakfix.transport.node import Node
from graders import lifecycle
from tests.fakes import FakeKube, FakeTransport

LOG_DIR = "/var/log/pods/reports_report-abc_p1/report"


def test_cri_log_text_joins_partial_lines_and_keeps_both_streams() -> None:
    raw = (
        "2026-12-02T05:00:00.1Z stdout P TOTAL=\n"
        "2026-12-02T05:00:00.2Z stdout F 1546\n"
        "2026-12-02T05:00:00.3Z stderr F warning: late\n"
        "garbage line\n"
        "2026-12-02T05:00:00.4Z stdout F \n"
    )
    assert lifecycle.cri_log_text(raw) == "TOTAL=1546\nwarning: late\n"


def _job(complete: bool = True, failed: bool = False) -> dict[str, Any]:
    conditions = []
    if complete:
        conditions.append({"type": "Complete", "status": "True"})
    if failed:
        conditions.append({"type": "Failed", "status": "True"})
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "report", "namespace": "reports"},
        "spec": {"selector": {"matchLabels": {"app": "report"}}},
        "status": {"conditions": conditions, "succeeded": 1 if complete else 0, "failed": 3 if failed else 0},
    }


def _pod(name: str, uid: str, owner: str, phase: str = "Succeeded") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "reports",
            "labels": {"app": "report"},
            "ownerReferences": [{"kind": "Job", "name": "report", "uid": owner}],
        },
        "spec": {"nodeName": "w1", "containers": [{"name": "report"}]},
        "status": {"phase": phase},
    }


def _cluster(log: str, complete: bool = True) -> tuple[FakeKube, list[Node]]:
    kube = FakeKube({"Job", "Pod"})
    job = kube.create(_job(complete))
    pod = kube.create(_pod("report-abc", "p1", job["metadata"]["uid"]))
    uid = pod["metadata"]["uid"]
    t = FakeTransport()
    t.expect(f"cat -- /var/log/pods/reports_report-abc_{uid}/report/\\*\\.log", stdout=log)
    return kube, [Node("cp1", "control-plane", FakeTransport()), Node("w1", "worker", t)]


def test_job_output_passes_when_the_jobs_pod_printed_the_result() -> None:
    kube, nodes = _cluster("2026-12-02T05:00:00Z stdout F TOTAL=1546\n")
    result = lifecycle.job_output(kube, nodes, "report", "TOTAL=1546", "reports")
    assert result.ok, result.message


def test_job_output_fails_for_a_job_that_only_exits_zero() -> None:
    kube, nodes = _cluster("2026-12-02T05:00:00Z stdout F done\n")
    result = lifecycle.job_output(kube, nodes, "report", "TOTAL=1546", "reports")
    assert result.status == "fail" and "did not print the expected result" in result.message


def test_job_output_fails_while_the_job_has_not_completed() -> None:
    kube = FakeKube({"Job", "Pod"})
    assert "does not exist" in lifecycle.job_output(kube, [], "report", "TOTAL=1", "reports").message
    kube.create(_job(complete=False, failed=True))
    result = lifecycle.job_output(kube, [], "report", "TOTAL=1", "reports")
    assert result.status == "fail" and "is failed (0 pods succeeded, 3 failed)" in result.message


def test_job_output_ignores_the_pods_of_another_job_with_the_same_labels() -> None:
    kube = FakeKube({"Job", "Pod"})
    kube.create(_job())
    kube.create(_pod("report-old", "p0", "some-older-job"))  # its log would say the total
    result = lifecycle.job_output(kube, [], "report", "TOTAL=1546", "reports")
    assert result.status == "fail" and "none of its succeeded pods" in result.message


def test_job_output_is_an_error_when_no_log_can_be_read() -> None:
    kube, nodes = _cluster("")
    nodes[1].transport.scripts.clear()  # type: ignore[attr-defined]
    nodes[1].transport.expect(r"cat -- .*", rc=1, stderr="No such file")  # type: ignore[attr-defined]
    assert lifecycle.job_output(kube, nodes, "report", "TOTAL=1546", "reports").status == "error"


class _JobController(FakeKube):
    """A fake API server whose Job controller runs a trial Job at once: the pod 'prints' what its template does.

    A template that mounts a ConfigMap prints the sum of its numbers; one that does not prints a fixed total."""

    def __init__(self, transport: FakeTransport, complete: bool = True) -> None:
        super().__init__({"Job", "Pod", "ConfigMap"})
        self.transport, self.complete = transport, complete

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        stored = super().create(obj)
        if obj["kind"] != "Job" or not obj["metadata"]["name"].startswith("breakfix-trial-"):
            return stored
        key = ("batch/v1", "Job", "reports", obj["metadata"]["name"])
        if not self.complete:
            return stored
        self.objects[key]["status"] = {"conditions": [{"type": "Complete", "status": "True"}]}
        volumes = obj["spec"]["template"]["spec"].get("volumes") or []
        mounted = [v["configMap"]["name"] for v in volumes if "configMap" in v]
        cm = self.objects.get(("v1", "ConfigMap", "reports", mounted[0])) if mounted else None
        total = sum(int(x) for x in cm["data"]["sales.txt"].split()) if cm else 1546
        pod = super().create(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": "trial-pod",
                    "namespace": "reports",
                    "labels": obj["spec"]["template"]["metadata"]["labels"],
                },
                "spec": {"nodeName": "w1", "containers": [{"name": "report"}]},
                "status": {"phase": "Succeeded"},
            }
        )
        self.transport.expect(
            f"cat -- /var/log/pods/reports_trial-pod_{pod['metadata']['uid']}/report/\\*\\.log",
            stdout=f"2026-12-02T05:00:00.1Z stdout F TOTAL={total}\n",
        )
        return stored


def _report_job(volumes: list[dict[str, Any]]) -> dict[str, Any]:
    job = _job()
    job["spec"]["template"] = {
        "metadata": {"labels": {"app": "report", "batch.kubernetes.io/controller-uid": "old"}},
        "spec": {"containers": [{"name": "report", "image": "shell"}], "volumes": volumes},
    }
    return job


def _trial(volumes: list[dict[str, Any]], complete: bool = True) -> tuple[Any, _JobController]:
    t = FakeTransport()
    kube = _JobController(t, complete)
    kube.create(_report_job(volumes))
    nodes = [Node("cp1", "control-plane", FakeTransport()), Node("w1", "worker", t)]
    result = lifecycle.job_follows_input(
        kube, nodes, "report", "sales", {"sales.txt": "5\n17\n300\n"}, "TOTAL=322", "reports", wait_for=0
    )
    return result, kube


def test_job_follows_input_passes_when_a_copy_works_out_other_figures() -> None:
    result, kube = _trial([{"name": "input", "configMap": {"name": "sales"}}])
    assert result.status == "pass", result.message
    assert not [k for k in kube.objects if k[3].startswith("breakfix-trial-")]  # the trial Job and ConfigMap go


def test_job_follows_input_fails_for_a_job_that_prints_a_fixed_answer() -> None:
    result, _ = _trial([])
    assert result.status == "fail" and "did not print that input's result" in result.message


def test_job_follows_input_fails_when_the_trial_never_completes() -> None:
    result, kube = _trial([{"name": "input", "configMap": {"name": "sales"}}], complete=False)
    assert result.status == "fail" and "did not complete" in result.message
    assert not [k for k in kube.objects if k[1] in ("Job", "ConfigMap") and k[3].startswith("breakfix-trial-")]


def test_point_at_renames_every_kind_of_configmap_reference() -> None:
    spec: dict[str, Any] = {
        "volumes": [
            {"name": "a", "configMap": {"name": "sales"}},
            {"name": "b", "projected": {"sources": [{"configMap": {"name": "sales"}}, {"secret": {"name": "sales"}}]}},
        ],
        "containers": [
            {
                "name": "c",
                "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "sales", "key": "k"}}}],
                "envFrom": [{"configMapRef": {"name": "sales"}}, {"configMapRef": {"name": "other"}}],
            }
        ],
    }
    lifecycle._point_at(spec, "sales", "trial")
    assert spec["volumes"][0]["configMap"]["name"] == "trial"
    assert spec["volumes"][1]["projected"]["sources"] == [
        {"configMap": {"name": "trial"}},
        {"secret": {"name": "sales"}},
    ]
    assert spec["containers"][0]["env"][0]["valueFrom"]["configMapKeyRef"]["name"] == "trial"
    assert [s["configMapRef"]["name"] for s in spec["containers"][0]["envFrom"]] == ["trial", "other"]
