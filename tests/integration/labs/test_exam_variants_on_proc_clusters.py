"""An exam with a lab that has variables: every student breaks and fixes their own values, on a real API server.

The values come from the exam's seed and the student's name; the report shows each student's values and the seed
that gives their lab again, and `lab start LAB --seed S` does give it again."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from breakfix.catalog import load_lab
from breakfix.state import State
from breakfix.variants import student_seed
from tests.integration.labs.test_cli_on_proc_cluster import kube_of, lab

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "labs"
STUDENTS = ("alice", "bob")


def test_each_student_gets_and_fixes_their_own_variant(
    capsys: pytest.CaptureFixture[str], proc_cluster_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BREAKFIX_LABS_PATH", str(FIXTURES))
    written = load_lab(FIXTURES / "svc-variant" / "lab.yaml")

    def values(exam_seed: int, student: str) -> dict[str, Any]:
        return dict(written.variant(student_seed(exam_seed, student)).values)

    # an exam seed that gives the two students different namespaces, apps and wrong labels
    exam_seed = next(
        s
        for s in range(1, 500)
        if all(values(s, "alice")[k] != values(s, "bob")[k] for k in ("namespace", "app", "wrong_key"))
    )
    want = {name: values(exam_seed, name) for name in STUDENTS}
    clusters = {name: proc_cluster_factory(name=name) for name in STUDENTS}
    for name, cluster in clusters.items():
        assert lab(capsys, "cluster", "adopt", str(cluster.inventory), "--name", name, "--yes")[0] == 0
    exam = tmp_path / "exam.yaml"
    exam.write_text(
        yaml.safe_dump(
            {
                "name": "variants-1",
                "duration": "20m",
                "seed": exam_seed,
                "labs": ["svc-variant"],
                "students": [{"name": n, "cluster": n} for n in STUDENTS],
            }
        )
    )

    code, out, err = lab(capsys, "exam", "start", str(exam), "--json")
    assert code == 0, err
    board = {s["student"]: s for s in json.loads(out)["students"]}
    for name in STUDENTS:
        assert board[name]["seed"] == student_seed(exam_seed, name) and board[name]["values"] == want[name]
        ns, app = str(want[name]["namespace"]), str(want[name]["app"])
        kube = kube_of(clusters[name])
        assert kube.get("v1", "Service", app, ns)["spec"]["selector"] == {want[name]["wrong_key"]: app}  # type: ignore[index]
        other = str(want["bob" if name == "alice" else "alice"]["namespace"])
        assert kube.get("v1", "Namespace", other) is None  # nobody else's lab on this cluster

    a_ns, a_app = str(want["alice"]["namespace"]), str(want["alice"]["app"])
    clusters["alice"].kubectl(
        "-n", a_ns, "patch", "svc", a_app, "--type=json",
        "-p", json.dumps([{"op": "replace", "path": "/spec/selector", "value": {"app": a_app}}]),
    )  # fmt: skip
    code, out, _ = lab(capsys, "exam", "status", "--grade", "--json")
    graded = {s["student"]: s for s in json.loads(out)["students"]}
    assert graded["alice"]["passed"] is True and graded["bob"]["passed"] is False

    report = tmp_path / "variants-1.csv"
    code, out, err = lab(capsys, "exam", "end", "--report", str(report), "--json")
    assert code == 0, err
    rows = {r["Student"]: r for r in csv.DictReader(io.StringIO(report.read_text()))}
    assert rows["alice"]["Result"] == "fixed" and rows["bob"]["Result"] == "not fixed"
    for name in STUDENTS:
        assert f"--seed {student_seed(exam_seed, name)}" in rows[name]["Values (seed)"]
        assert f"namespace={want[name]['namespace']}" in rows[name]["Values (seed)"]
        assert State().journal(name) == []

    # the seed in bob's row gives his lab again, on his cluster, after the exam
    code, out, err = lab(
        capsys, "--cluster", "bob", "start", "svc-variant", "--seed", str(student_seed(exam_seed, "bob"))
    )
    assert code == 0, err
    b_ns, b_app = str(want["bob"]["namespace"]), str(want["bob"]["app"])
    selector = kube_of(clusters["bob"]).get("v1", "Service", b_app, b_ns)["spec"]["selector"]  # type: ignore[index]
    assert selector == {want["bob"]["wrong_key"]: b_app}
    assert lab(capsys, "--cluster", "bob", "reset")[0] == 0
    assert kube_of(clusters["bob"]).get("v1", "Namespace", b_ns) is None
