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
