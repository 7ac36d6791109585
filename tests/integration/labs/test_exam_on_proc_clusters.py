"""An exam for a class of three through the `lab` command, each student on a real API server of their own."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from breakfix.state import State
from tests.integration.labs.test_cli_on_proc_cluster import kube_of, lab

BROKEN = {"app.kubernetes.io/name": "web"}


def seats(board: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["student"]: s for s in board["students"]}


def test_exam_for_a_class(capsys: pytest.CaptureFixture[str], proc_cluster_factory: Any, tmp_path: Path) -> None:
    clusters = {name: proc_cluster_factory(name=name) for name in ("alice", "bob", "carol")}
    for name, cluster in clusters.items():
        assert lab(capsys, "cluster", "adopt", str(cluster.inventory), "--name", name, "--yes")[0] == 0
    exam = tmp_path / "exam.yaml"
    exam.write_text(
        yaml.safe_dump(
            {
                "name": "week-1",
                "duration": "20m",
                "labs": ["svc-wrong-selector"],
                "students": [
                    {"name": "alice", "cluster": "alice"},
                    {"name": "bob", "cluster": "bob"},
                    # etcd-datadir needs static pods, which a process control plane does not have
                    {"name": "carol", "cluster": "carol", "lab": "etcd-datadir"},
                ],
            }
        )
    )

    code, out, err = lab(capsys, "exam", "start", str(exam), "--json")
    board = json.loads(out)
    assert code == 1 and "1 task(s) not started" in err
    assert {k: s["state"] for k, s in seats(board).items()} == {
        "alice": "active",
        "bob": "active",
        "carol": "not started",
    }
    assert "needs static-pods" in seats(board)["carol"]["detail"]
    assert "[alice] svc-wrong-selector is live on alice" in err and "[bob]" in err
    assert board["deadline"] - board["started"] == 1200
    for name in ("alice", "bob"):
        assert kube_of(clusters[name]).get("v1", "Service", "web", "shop")["spec"]["selector"] == BROKEN
        code, out, _ = lab(capsys, "--cluster", name, "status", "--json")
        assert json.loads(out)["deadline"] == board["deadline"]  # one clock for the class
    assert kube_of(clusters["carol"]).get("v1", "Namespace", "shop") is None
    assert State().journal("carol") == []

    # starting it again tries only the student who is not started, and says why again
    code, out, err = lab(capsys, "exam", "start", str(exam), "--json")
    assert code == 1 and "[carol] not started" in err and "[alice]" not in err

    # alice fixes her Service, bob does not
    clusters["alice"].kubectl(
        "-n", "shop", "patch", "svc", "web", "--type=json",
        "-p", '[{"op":"replace","path":"/spec/selector","value":{"app":"web"}}]',
    )  # fmt: skip
    code, out, _ = lab(capsys, "exam", "status", "--grade", "--json")
    board = json.loads(out)
    assert code == 0
    assert seats(board)["alice"]["passed"] is True and seats(board)["alice"]["score_percent"] == 100.0
    assert seats(board)["alice"]["state"] == "solved" and seats(board)["alice"]["solved_in_seconds"] >= 0
    assert seats(board)["bob"]["passed"] is False and "no endpoints" in seats(board)["bob"]["detail"]

    report, junit = tmp_path / "report.md", tmp_path / "exam.xml"
    code, out, err = lab(capsys, "exam", "end", "--report", str(report), "--junit", str(junit), "--json")
    board = json.loads(out)
    assert code == 0, err
    assert board["ended"] is not None and board["passed"] == 1
    assert [seats(board)[s]["passed"] for s in ("alice", "bob", "carol")] == [True, False, None]
    text = report.read_text()
    assert "| alice | alice | svc-wrong-selector | fixed | 100% | 7/7 |" in text
    assert "| bob | bob | svc-wrong-selector | not fixed | 0% | 6/7 |" in text  # the guard checks alone earn nothing
    assert "| carol | carol | etcd-datadir | not started | - | - |" in text
    suites = {s.get("name"): s for s in ET.parse(junit).getroot()}
    assert set(suites) == {"week-1.alice", "week-1.bob", "week-1.carol"}
    assert suites["week-1.alice"].get("failures") == "0" and suites["week-1.bob"].get("failures") == "1"
    assert suites["week-1.carol"].get("errors") == "1"  # never graded: it counts against her, with the reason

    # every cluster is as it was before the exam
    for name in ("alice", "bob"):
        assert kube_of(clusters[name]).get("v1", "Namespace", "shop") is None
        assert State().journal(name) == []
        code, out, _ = lab(capsys, "--cluster", name, "status", "--json")
        assert json.loads(out)["status"] == "idle"

    # the report stays; the exam cannot end twice or start again
    code, out, _ = lab(capsys, "exam", "report", "week-1", "--json")
    assert code == 0 and json.loads(out)["passed"] == 1
    assert "needs static-pods" in seats(json.loads(out))["carol"]["detail"]  # why she never started is kept
    code, _, err = lab(capsys, "exam", "end", "week-1")
    assert code == 1 and "has ended already" in err
    code, _, err = lab(capsys, "exam", "start", str(exam))
    assert code == 1 and "has ended" in err
