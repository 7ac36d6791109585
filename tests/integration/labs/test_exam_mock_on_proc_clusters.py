"""A mock exam a student runs alone on two real API servers: tasks drawn, nothing spoiled until the end, a score."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from breakfix.state import State
from tests.integration.labs.test_cli_on_proc_cluster import kube_of, lab

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "labs"
POOL = ("svc-wrong-selector", "svc-variant")


def test_a_mock_exam_hides_its_labs_until_the_end_and_scores_against_the_pass_mark(
    capsys: pytest.CaptureFixture[str], proc_cluster_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BREAKFIX_LABS_PATH", str(FIXTURES))
    clusters = {name: proc_cluster_factory(name=name) for name in ("k1", "k2")}
    for name, cluster in clusters.items():
        assert lab(capsys, "cluster", "adopt", str(cluster.inventory), "--name", name, "--yes")[0] == 0

    code, _, err = lab(capsys, "exam", "mock", "--count", "3", "--from", POOL[0])
    assert code == 1 and "no lab left to draw for me" in err and len(err.strip().splitlines()) == 1

    args = ["exam", "mock", "--duration", "30m", "--seed", "9", "--name", "mock-1"]
    code, out, err = lab(capsys, *args, "--from", POOL[0], "--from", POOL[1])
    assert code == 0, err
    for spoiler in (*POOL, "selector", "endpoints"):
        assert spoiler not in out + err, spoiler
    assert "task 1 is live on k1" in err and "pass mark 66%" in err and "seed 9" in err
    code, out, _ = lab(capsys, "exam", "status", "--json")
    board = json.loads(out)
    assert board["mock"] is True and all("lab" not in s and "detail" not in s for s in board["students"])
    assert {s["cluster"] for s in board["students"]} == {"k1", "k2"}
    assert "svc-" not in out
    code, out, _ = lab(capsys, "--cluster", "k1", "task")
    assert code == 0 and "Service" in out  # each task reads like a CKA task, on its own cluster
    for cluster in clusters:  # what the student's own commands show: no lab id
        for command in (["task"], ["status"], ["status", "--json"]):
            code, out, err = lab(capsys, "--cluster", cluster, *command)
            assert code == 0 and not any(lab_id in out + err for lab_id in POOL), (command, out)

    # the student fixes the plain Service only
    drawn = {s.cluster: s.lab for s in State().exam_sessions("mock-1")}
    assert sorted(drawn.values()) == sorted(POOL)
    plain = next(c for c, lab_id in drawn.items() if lab_id == "svc-wrong-selector")
    clusters[plain].kubectl(
        "-n", "shop", "patch", "svc", "web", "--type=json",
        "-p", '[{"op":"replace","path":"/spec/selector","value":{"app":"web"}}]',
    )  # fmt: skip
    code, out, err = lab(capsys, "exam", "status", "--grade")
    assert code == 0 and "scores (pass mark 66%): me 50% (1/2 fixed)" in out
    for spoiler in (*POOL, "no endpoints"):
        assert spoiler not in out + err, spoiler
    code, _, err = lab(
        capsys, "exam", "report", "mock-1", "--report", str(Path(clusters["k1"].inventory).parent / "r.md")
    )
    assert code == 2 and "written at the end" in err

    # the end: the labs, the score against the pass mark and the weakest domain; both clusters back as they were
    code, out, err = lab(capsys, "exam", "end", "--json")
    assert code == 0, err
    board = json.loads(out)
    assert board["results"] == [{"student": "me", "score_percent": 50.0, "passed": False, "tasks_fixed": 1, "tasks": 2}]
    assert board["domains"] == [{"domain": "services-networking", "score_percent": 50.0, "tasks": 2}]
    assert {s["lab"] for s in board["students"]} == set(POOL)
    for name in clusters:
        assert State().journal(name) == []
        assert kube_of(clusters[name]).get("v1", "Namespace", "shop") is None or drawn[name] == "svc-variant"


def fix(cluster: Any, namespace: str) -> None:
    """The student's fix: the web Service selects the web pods again."""
    patch = '[{"op":"replace","path":"/spec/selector","value":{"app":"web"}}]'
    cluster.kubectl("-n", namespace, "patch", "svc", "web", "--type=json", "-p", patch)


def test_a_mock_exam_of_two_tasks_on_one_cluster(
    capsys: pytest.CaptureFixture[str], proc_cluster_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More tasks than clusters: both run together on k1, named by their titles only; one fixed scores 50%."""
    monkeypatch.setenv("BREAKFIX_LABS_PATH", str(FIXTURES))
    k1 = proc_cluster_factory(name="k1")
    assert lab(capsys, "cluster", "adopt", str(k1.inventory), "--name", "k1", "--yes")[0] == 0
    pool = ["--from", POOL[0], "--from", POOL[1], "--cluster", "k1", "--count", "2"]

    code, _, err = lab(capsys, "exam", "mock", *pool, "--seed", "9", "--name", "clash")  # both in namespace shop
    assert code == 1 and "no lab left to draw for me on cluster k1" in err, err
    assert State().journal("k1") == []

    code, out, err = lab(capsys, "exam", "mock", *pool, "--seed", "13", "--name", "mock-2")  # shop and store
    assert code == 0, err
    assert not any(lab_id in out + err for lab_id in POOL)
    assert sorted(s.lab for s in State().open_sessions("k1")) == sorted(POOL)  # both on k1
    code, out, err = lab(capsys, "--cluster", "k1", "status")
    assert code == 0 and "2 labs run together" in out and not any(lab_id in out + err for lab_id in POOL)
    code, out, err = lab(capsys, "--cluster", "k1", "grade")
    assert code == 1 and "0 of 2 tasks fixed" in out and not any(lab_id in out + err for lab_id in POOL)

    fix(k1, "store")  # the variant's task only
    code, out, err = lab(capsys, "exam", "status", "--grade")
    assert code == 0 and "scores (pass mark 66%): me 50% (1/2 fixed)" in out, out
    code, out, err = lab(capsys, "exam", "end", "--json")
    assert code == 0, err
    board = json.loads(out)
    assert board["results"] == [{"student": "me", "score_percent": 50.0, "passed": False, "tasks_fixed": 1, "tasks": 2}]
    assert State().journal("k1") == [] and State().open_sessions("k1") == []
    kube = kube_of(k1)
    for namespace in ("shop", "store"):
        left = kube.get("v1", "Namespace", namespace)
        assert left is None or left["status"]["phase"] == "Terminating"
