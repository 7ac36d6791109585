"""Labs drawn for each student by the CKA's domain weights, from the exam's seed."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest
import yaml

from breakfix.errors import BreakfixError, LabFileError
from breakfix.exam.draw import Candidate, draw_tasks, quotas
from breakfix.exam.session import ExamRunner
from breakfix.footprint import first_clash, footprint
from breakfix.model import CKA_DOMAIN_WEIGHTS
from breakfix.state import State
from tests.unit.test_exam_runs import FakeRunner

POOL = [
    Candidate("t1", "troubleshooting", frozenset()),
    Candidate("t2", "troubleshooting", frozenset({"systemd"})),
    Candidate("t3", "troubleshooting", frozenset()),
    Candidate("a1", "cluster-architecture", frozenset({"static-pods"})),
    Candidate("a2", "cluster-architecture", frozenset()),
    Candidate("s1", "services-networking", frozenset()),
    Candidate("w1", "workloads-scheduling", frozenset()),
    Candidate("v1", "storage", frozenset()),
]
ALL = frozenset({"systemd", "static-pods"})


def test_domains_get_tasks_in_proportion_to_their_weight() -> None:
    ten = Counter(quotas(CKA_DOMAIN_WEIGHTS, 10, random.Random(1)))
    assert ten == {"troubleshooting": 3, "cluster-architecture": 3, "services-networking": 2,
                   "workloads-scheduling": 1, "storage": 1}  # fmt: skip
    assert Counter(quotas(CKA_DOMAIN_WEIGHTS, 20, random.Random(1)))["storage"] == 2
    assert Counter(quotas({"storage": 1, "troubleshooting": 0}, 3, random.Random(1))) == {"storage": 3}
    assert quotas(CKA_DOMAIN_WEIGHTS, 0, random.Random(1)) == []


def test_a_draw_is_the_seeds_and_never_gives_a_lab_twice_or_one_the_cluster_cannot_run() -> None:
    clusters = [("c1", ALL), ("c2", frozenset()), ("c3", ALL), ("c4", frozenset()), ("c5", ALL)]
    first = draw_tasks("alice", clusters, POOL, CKA_DOMAIN_WEIGHTS, seed=42)
    assert first == draw_tasks("alice", clusters, POOL, CKA_DOMAIN_WEIGHTS, seed=42)
    assert len(set(first)) == 5
    needs = {c.id: c.requires for c in POOL}
    assert all(needs[lab] <= caps for lab, (_c, caps) in zip(first, clusters, strict=True))
    draws = {tuple(draw_tasks(s, clusters, POOL, CKA_DOMAIN_WEIGHTS, seed=42)) for s in ("bob", "carol", "dan")}
    assert len(draws | {tuple(first)}) > 1  # students draw apart


def test_a_domain_without_a_lab_left_gives_its_slot_to_the_heaviest_that_has_one() -> None:
    only_storage_first = {"storage": 100, "troubleshooting": 1}
    labs = draw_tasks("alice", [("c1", ALL), ("c2", ALL)], POOL, only_storage_first, seed=3)
    assert sorted(labs)[1] == "v1" and sorted(labs)[0] in {"t1", "t2", "t3"}


def test_no_lab_left_is_one_clear_refusal() -> None:
    with pytest.raises(BreakfixError, match="no lab left to draw for alice on cluster c3"):
        draw_tasks("alice", [("c1", ALL), ("c2", ALL), ("c3", ALL)], POOL[:2], CKA_DOMAIN_WEIGHTS, seed=1)


def _draw_exam(tmp_path: Path, **draw: object) -> Path:
    store = State()
    for name in ("c1", "c2", "c3"):
        store.add_cluster(name, f"/nowhere/{name}.yaml", "inventory", "m")
    path = tmp_path / "exam.yaml"
    students = [{"name": "alice", "clusters": ["c1", "c2"]}, {"name": "bob", "cluster": "c3"}]
    spec = {"name": "drawn", "duration": "1h", "seed": 11, "draw": draw, "students": students}
    path.write_text(yaml.safe_dump(spec))
    return path


def test_an_exam_draws_labs_its_clusters_can_run_and_keeps_them(tmp_path: Path) -> None:
    path = _draw_exam(tmp_path, labs=["svc-wrong-selector", "coredns-scaled-down", "etcd-datadir", "kubelet-stopped"])
    store = State()
    board, failures = FakeRunner(store, {"alice": ["start", "start"], "bob": ["start"]}).start(path)
    assert failures == {}
    labs = {(s.student, s.task): s.lab for s in board.seats}
    # the clusters here offer nothing: etcd-datadir (static pods) and kubelet-stopped (systemd) cannot be drawn
    assert set(labs.values()) == {"coredns-scaled-down", "svc-wrong-selector"}
    assert labs[("alice", 1)] != labs[("alice", 2)]
    stored = ExamRunner(store).board("drawn")
    assert {(s.student, s.task): s.lab for s in stored.seats} == labs  # the draw is kept with the exam
    _board, failures = FakeRunner(store, {}).start(path)  # again: the same draw, nothing new to start
    assert failures == {}


def test_an_unknown_lab_to_draw_from_names_its_key(tmp_path: Path) -> None:
    path = _draw_exam(tmp_path, labs=["svc-wrong-selector", "no-such-lab"])
    with pytest.raises(LabFileError, match=r"draw.labs\[1\]"):
        FakeRunner(State(), {}).start(path)


@pytest.mark.parametrize(
    ("args", "code", "said"),
    [
        ([], 1, "no free lab cluster for a mock exam"),
        (["--cluster", "nope"], 2, "--cluster nope: not a registered lab cluster"),
        (["--from", "svc-wrong-selectr"], 1, "Did you mean: svc-wrong-selector"),
        (["--duration", "soon"], 2, "--duration: 'soon' is not a duration"),
        (["--seed", "x"], 2, "a seed is a whole number"),
    ],
)
def test_a_mock_exam_refuses_bad_input_in_one_line(
    capsys: pytest.CaptureFixture[str], args: list[str], code: int, said: str
) -> None:
    from breakfix.cli.main import main

    assert main(["exam", "mock", *args]) == code
    err = capsys.readouterr().err
    assert said in err and len(err.strip().splitlines()) == 1, err
    assert State().exams() == []  # nothing stored


def test_a_mock_exam_deals_its_tasks_round_the_clusters_and_never_draws_labs_that_clash(tmp_path: Path) -> None:
    """Four tasks on two clusters: two on each, started together there; a lab that must run alone never shares."""
    store = State()
    for name in ("k1", "k2"):
        store.add_cluster(name, f"/nowhere/{name}.yaml", "inventory", "m")
    runner = FakeRunner(store, {"me": ["start", "start"]})
    board, failures = runner.mock(["k1", "k2"], 4, "2h", seed=5)
    assert failures == {}
    seats = [(s.task, s.cluster, s.lab) for s in board.seats]
    assert [(task, cluster) for task, cluster, _lab in seats] == [(1, "k1"), (2, "k2"), (3, "k1"), (4, "k2")]
    for cluster in ("k1", "k2"):
        here = [runner.catalog.get(lab) for _task, c, lab in seats if c == cluster]
        assert first_clash(here) is None and not any(footprint(lab).alone for lab in here)
    assert [s.lab for s in store.open_sessions("k1")] == [seats[0][2], seats[2][2]]  # started together
    assert [s.state for s in board.seats] == ["active"] * 4  # every task has its session on the board
    again, failures = FakeRunner(store, {}).start(Path(store.exam(board.name)["file"]))  # nothing pending
    assert failures == {} and [s.state for s in again.seats] == ["active"] * 4


def test_an_exam_file_with_labs_that_clash_on_a_cluster_names_them(tmp_path: Path) -> None:
    store = State()
    store.add_cluster("c1", "/nowhere/c1.yaml", "inventory", "m")
    path = tmp_path / "exam.yaml"
    student = {"name": "alice", "clusters": ["c1", "c1"], "labs": ["svc-wrong-selector", "kubelet-stopped"]}
    path.write_text(yaml.safe_dump({"name": "clash", "duration": "1h", "students": [student]}))
    with pytest.raises(LabFileError, match=r"students\[0\].labs: the labs of alice on c1 cannot run together"):
        FakeRunner(store, {}).start(path)
    assert store.sessions("c1") == []
