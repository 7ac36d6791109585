"""An exam in the CKA's shape: each student has several tasks, each on a cluster of its own, a score over the
tasks and a pass mark; on real API servers, through the `lab` command."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from breakfix.state import State
from tests.integration.labs.test_cli_on_proc_cluster import kube_of, lab

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "labs"


def test_two_tasks_each_scored_against_the_pass_mark(
    capsys: pytest.CaptureFixture[str], proc_cluster_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BREAKFIX_LABS_PATH", str(FIXTURES))
    names = ("alice-1", "alice-2", "bob-1", "bob-2")
    clusters = {name: proc_cluster_factory(name=name) for name in names}
    for name, cluster in clusters.items():
        assert lab(capsys, "cluster", "adopt", str(cluster.inventory), "--name", name, "--yes")[0] == 0
    exam = tmp_path / "exam.yaml"
    exam.write_text(
        yaml.safe_dump(
            {
                "name": "mock-cka",
                "duration": "30m",
                "seed": 7,
                "labs": ["svc-wrong-selector", "svc-variant"],
                "students": [
                    {"name": "alice", "clusters": ["alice-1", "alice-2"]},
                    {"name": "bob", "clusters": ["bob-1", "bob-2"]},
                ],
            }
        )
    )
    code, out, err = lab(capsys, "exam", "start", str(exam), "--json")
    assert code == 0, err
    board = json.loads(out)
    tasks = {(s["student"], s["task"]): (s["cluster"], s["lab"], s["state"]) for s in board["students"]}
    assert tasks == {
        ("alice", 1): ("alice-1", "svc-wrong-selector", "active"),
        ("alice", 2): ("alice-2", "svc-variant", "active"),
        ("bob", 1): ("bob-1", "svc-wrong-selector", "active"),
        ("bob", 2): ("bob-2", "svc-variant", "active"),
    }
    variant = {s["student"]: s["values"] for s in board["students"] if s["lab"] == "svc-variant"}

    def fix_plain(cluster: str) -> None:
        clusters[cluster].kubectl(
            "-n", "shop", "patch", "svc", "web", "--type=json",
            "-p", '[{"op":"replace","path":"/spec/selector","value":{"app":"web"}}]',
        )  # fmt: skip

    def fix_variant(cluster: str, values: dict[str, Any]) -> None:
        app = str(values["app"])
        clusters[cluster].kubectl(
            "-n", str(values["namespace"]), "patch", "svc", app, "--type=json",
            "-p", json.dumps([{"op": "replace", "path": "/spec/selector", "value": {"app": app}}]),
        )  # fmt: skip

    # alice fixes both tasks, bob only his first
    fix_plain("alice-1")
    fix_variant("alice-2", variant["alice"])
    fix_plain("bob-1")
    code, out, _ = lab(capsys, "exam", "status", "--grade", "--json")
    board = json.loads(out)
    assert code == 0
    passed = {(s["student"], s["task"]): s["passed"] for s in board["students"]}
    assert passed == {("alice", 1): True, ("alice", 2): True, ("bob", 1): True, ("bob", 2): False}
    results = {r["student"]: r for r in board["results"]}
    assert results["alice"] == {
        "student": "alice",
        "score_percent": 100.0,
        "passed": True,
        "tasks_fixed": 2,
        "tasks": 2,
    }
    assert results["bob"] == {"student": "bob", "score_percent": 50.0, "passed": False, "tasks_fixed": 1, "tasks": 2}
    assert board["pass_mark"] == 66.0

    # one of bob's clusters stops answering: only that task shows it, the other three are graded as before
    clusters["bob-2"].stop()
    code, out, _ = lab(capsys, "exam", "status", "--grade", "--json")
    board = json.loads(out)
    by_task = {(s["student"], s["task"]): s for s in board["students"]}
    assert "not graded" in by_task[("bob", 2)]["detail"]
    assert all(by_task[k]["detail"] == "" for k in by_task if k != ("bob", 2))
    assert [by_task[k]["passed"] for k in sorted(by_task)] == [True, True, True, False]

    report, junit = tmp_path / "report.md", tmp_path / "exam.xml"
    code, out, err = lab(capsys, "exam", "end", "--report", str(report), "--junit", str(junit), "--json")
    text = report.read_text()
    assert "1 of 2 students passed (pass mark 66%); 3 of 4 tasks fixed." in text
    assert "| alice | 100% | 2/2 | passed |" in text and "| bob | 50% | 1/2 | not passed |" in text
    assert "| bob | 2 | bob-2 | svc-variant | not fixed | 0% |" in text
    assert {s.get("name") for s in ET.parse(junit).getroot()} == {
        "mock-cka.alice.task1", "mock-cka.alice.task2", "mock-cka.bob.task1", "mock-cka.bob.task2"
    }  # fmt: skip
    # every cluster that answers is as it was; the one that does not is named, with how to retry
    assert code == 1 and "bob-2" in err
    for name, namespace in (("alice-1", "shop"), ("alice-2", str(variant["alice"]["namespace"])), ("bob-1", "shop")):
        assert State().journal(name) == []
        assert kube_of(clusters[name]).get("v1", "Namespace", namespace) is None
    assert State().journal("bob-2") != []
