"""An exam as the store holds it part-way through, without any cluster: for the board's unit and browser tests."""

from __future__ import annotations

from typing import Any

from breakfix.clock import CLOCK
from breakfix.exam.model import ExamFile
from breakfix.state import State

EXAM = "week-1"
SPEC = {
    "name": EXAM,
    "duration": "30m",
    "labs": ["svc-wrong-selector", "coredns-scaled-down"],
    "students": [
        {"name": "alice", "cluster": "c1"},
        {"name": "bob", "cluster": "c2"},
        {"name": "carol", "cluster": "c3", "lab": "etcd-datadir"},
    ],
}
#: What must never reach the class's board: lab ids (they name the fault), check messages, clusters.
SPOILERS = ("svc-wrong-selector", "coredns-scaled-down", "etcd-datadir", "no endpoints", "/exams/")


def check(name: str, ok: bool, weight: int = 1) -> dict[str, Any]:
    """A stored check result."""
    return {
        "status": "pass" if ok else "fail",
        "message": "fine" if ok else "no endpoints",
        "hint": "",
        "name": name,
        "weight": weight,
        "seconds": 0.1,
    }


def exam_with_grades(store: State, started_ago: float = 600) -> dict[str, int]:
    """Alice fixed hers, bob has one check of two and took a hint, carol never started; session ids by student."""
    store.add_exam(EXAM, f"/exams/{EXAM}.yaml", ExamFile.model_validate(SPEC).model_dump(mode="json"))
    now = CLOCK.wall()  # the wall fixture moves it by hand
    store.update_exam(EXAM, started=now - started_ago, deadline=now - started_ago + 1800)
    alice = store.new_session("c1", "svc-wrong-selector", "alice", EXAM)
    bob = store.new_session("c2", "coredns-scaled-down", "bob", EXAM)
    store.update_session(alice.id, status="solved", started=now - started_ago)
    store.update_session(bob.id, status="active", started=now - started_ago, hints_used=1)
    store.add_grade(alice.id, 2, 2, True, [check("routes", True, 2)])
    store.add_grade(bob.id, 1, 3, False, [check("dns answers", False, 2), check("nothing redeployed", True)])
    return {"alice": alice.id, "bob": bob.id}


def bob_fixes_it(store: State, sessions: dict[str, int]) -> None:
    """Bob's next grade passes (as `lab exam status --grade` would record it)."""
    store.add_grade(sessions["bob"], 3, 3, True, [check("dns answers", True, 2), check("nothing redeployed", True)])
    store.update_session(sessions["bob"], status="solved")


TITLES = {
    "svc-wrong-selector": "A Service with nobody behind it",
    "coredns-scaled-down": "Nobody answers DNS",
    "etcd-datadir": "The cluster forgot everything",
}


def exam_with_tasks(store: State) -> None:
    """Exam `cka`, pass mark 60: alice has three tasks (fixed two), bob two (fixed one); one check each."""
    spec = {
        "name": "cka",
        "duration": "2h",
        "pass_mark": 60,
        "labs": ["svc-wrong-selector", "coredns-scaled-down", "etcd-datadir"],
        "students": [{"name": "alice", "clusters": ["a1", "a2", "a3"]}, {"name": "bob", "clusters": ["b1", "b2"]}],
    }
    store.add_exam("cka", "/exams/cka.yaml", ExamFile.model_validate(spec).model_dump(mode="json"))
    now = CLOCK.wall()
    store.update_exam("cka", started=now - 60, deadline=now + 3600)
    fixed = {("alice", "a1"), ("alice", "a2"), ("bob", "b1")}
    for student, cluster, lab in [("alice", "a1", "svc-wrong-selector"), ("alice", "a2", "coredns-scaled-down"),
                                  ("alice", "a3", "etcd-datadir"), ("bob", "b1", "svc-wrong-selector"),
                                  ("bob", "b2", "coredns-scaled-down")]:  # fmt: skip
        session = store.new_session(cluster, lab, student, "cka")
        ok = (student, cluster) in fixed
        store.update_session(session.id, status="solved" if ok else "active", started=now - 60)
        store.add_grade(session.id, int(ok), 1, ok, [check("works", ok)])
