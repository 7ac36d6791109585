"""Per-student variants: variables drawn from a seed, rendered everywhere the lab speaks, checked at load time."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from breakfix import runner
from breakfix.api import Breakfix, Status
from breakfix.catalog import Catalog, Lab, lab_files, load_catalog, load_lab, materialize
from breakfix.cli.main import main
from breakfix.errors import LabFileError
from breakfix.exam.model import Assignment
from breakfix.exam.report import markdown
from breakfix.exam.session import ExamRunner
from breakfix.model import Variable
from breakfix.paths import lab_roots
from breakfix.results import CheckResult, GradeReport
from breakfix.state import Session, State
from breakfix.variants import VariantError, draw, parse_seed, student_seed
from tests.unit.contexts import LAB, lab_from, marked_ctx

pytestmark = pytest.mark.usefixtures("fast_clock")  # confirm and settle waits run their course at once


@pytest.fixture(autouse=True)
def _test_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BREAKFIX_STEP_MODULES", "tests.steps")


FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "labs"
VARIANT_LAB = FIXTURES / "svc-variant" / "lab.yaml"


@pytest.fixture(scope="module")
def variant_lab() -> Lab:
    return load_lab(VARIANT_LAB)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


# drawing ----------------------------------------------------------------------------------------
#: seed 1234 of svc-variant, fixed: a change here replays every stored attempt and exam differently
GOLDEN = {
    "namespace": "store",
    "app": "web",
    "canary": "front",
    "replicas": 3,
    "port": 8080,
    "wrong_key": "app.kubernetes.io/name",
}


def test_the_same_seed_gives_the_same_values_and_the_same_lab(variant_lab: Lab, tmp_path: Path) -> None:
    a, b = variant_lab.variant(1234), variant_lab.variant(1234)
    assert a.values == b.values and a.seed == b.seed == 1234
    assert a.task_text() == b.task_text() and a.solution_for() == b.solution_for()
    assert [s.kwargs for s in a.steps["break"]] == [s.kwargs for s in b.steps["break"]]
    assert [s.title for s in a.steps["grade"]] == [s.title for s in b.steps["grade"]]
    assert (
        materialize(a, tmp_path / "a").joinpath("manifests/app.yaml").read_text()
        == materialize(b, tmp_path / "b").joinpath("manifests/app.yaml").read_text()
    )
    # a fixed expectation: no `random`, no hash(): the same on every machine and Python
    assert draw("svc-variant", variant_lab.spec.variables, 1234) == a.values == GOLDEN
    assert a.values == draw("svc-variant", variant_lab.spec.variables, 1234, ["x", "y"])


def test_seeds_spread_over_the_values(variant_lab: Lab) -> None:
    drawn = [variant_lab.variant(seed).values for seed in range(60)]
    for name, var in variant_lab.spec.variables.items():
        seen = {v[name] for v in drawn}
        if var.choices is not None:
            assert seen == set(var.choices), name  # each choice turns up
    assert {v["replicas"] for v in drawn} == {1, 2, 3}


def test_values_are_rendered_everywhere_the_lab_speaks(variant_lab: Lab, tmp_path: Path) -> None:
    lab = variant_lab.variant(99)
    v = lab.values
    ns, app, canary = v["namespace"], v["app"], v["canary"]
    assert f"namespace `{ns}`" in lab.task_text() and f"port {v['port']}" in lab.task_text()
    assert lab.steps["break"][0].kwargs == {"service": app, "namespace": ns, "selector": {v["wrong_key"]: app}}
    assert lab.steps["setup"][3].kwargs["name"] == app and lab.steps["setup"][4].kwargs["name"] == canary
    assert lab.steps["confirm"][0].kwargs["namespace"] == ns
    assert lab.steps["grade"][0].title == f"{app} routes to the {app} pods only"
    assert lab.steps["grade"][2].title == f"service.not_redeployed(name={canary}, namespace={ns})"
    assert lab.steps["solve"][0].kwargs["selector"] == {"app": app}
    cheat = lab.cheats["relabel-pods"][0].kwargs["patch"]
    assert cheat == {"spec": {"template": {"metadata": {"labels": {v["wrong_key"]: app}}}}}
    assert lab.alternatives["both-labels"][0].kwargs["selector"] == {"app": app, "tier": "web"}
    assert lab.hint_text(0) == (f"`kubectl -n {ns} get endpointslices` and `kubectl -n {ns} describe svc {app}`.")
    assert f"kubectl -n {ns} patch svc {app}" in lab.solution_for() and "{{" not in lab.solution_for()
    docs = list(yaml.safe_load_all(materialize(lab, tmp_path).joinpath("manifests/app.yaml").read_text()))
    assert docs[0]["metadata"]["name"] == ns
    assert docs[1]["spec"]["replicas"] == v["replicas"] and isinstance(docs[1]["spec"]["replicas"], int)
    assert docs[3]["spec"]["ports"][0]["port"] == v["port"]
    assert (tmp_path / "lab.yaml").is_file()  # the whole folder: steps find their files where they always do
    assert "{{" in lab_files(variant_lab)["manifests/app.yaml"]  # the lab folder itself is never written to


def test_without_a_seed_the_lab_speaks_in_neutral_words(variant_lab: Lab) -> None:
    text = variant_lab.task_text()
    assert "namespace `<team namespace>`" in text and "`<app>` Service (port <port>)" in text
    assert "{{" not in text and "describe svc <app>" in variant_lab.hint_text(0)


def test_a_number_written_in_quotes_stays_a_number_and_is_text_where_text_is_wanted(tmp_path: Path) -> None:
    variables = {**FILE_LAB["variables"], "n": {"type": "integer", "choices": [3, 4]}}
    setup = [
        {"breakers.kube.scale": {"kind": "Deployment", "name": "{{ conf }}", "replicas": "{{ n }}"}},
        {"breakers.kube.patch": {"kind": "Service", "name": "{{ conf }}", "patch": {"spec": {"port": "{{ n }}"}}}},
        {"tests.steps.write": {"path": "/etc/n", "content": "{{ n }}"}},
        {"tests.steps.write": {"path": "/etc/n", "content": "n={{ n }}"}},
    ]
    lab = lab_from(tmp_path, **{**FILE_LAB, "variables": variables, "setup": setup}).variant(8)
    n = lab.values["n"]
    assert lab.steps["setup"][0].kwargs["replicas"] == n and isinstance(n, int)
    assert lab.steps["setup"][1].kwargs["patch"] == {"spec": {"port": n}}
    assert lab.steps["setup"][2].kwargs["content"] == str(n) and lab.steps["setup"][3].kwargs["content"] == f"n={n}"
    wrong = {**variables, "n": {"type": "text", "choices": ["three", "four"]}}
    err = _broken(tmp_path / "w", variables=wrong, setup=setup)
    assert err.key == "setup[0] breakers.kube.scale" and "once seed 0's values are in (" in err.problem
    assert "replicas: Input should be a valid integer" in err.problem


def test_different_students_get_different_values(variant_lab: Lab) -> None:
    seeds = {name: student_seed(31337, name) for name in ("alice", "bob", "carol", "dave")}
    assert len(set(seeds.values())) == 4
    assert seeds["alice"] == student_seed(31337, "alice") and seeds["alice"] != student_seed(31338, "alice")
    values = {name: variant_lab.variant(seed).values for name, seed in seeds.items()}
    assert len({tuple(sorted(v.items())) for v in values.values()}) == 4


def test_dependent_variables_never_collide(variant_lab: Lab) -> None:
    for seed in range(300):
        v = variant_lab.variant(seed).values
        assert v["canary"] != v["app"]
    tight = {
        "right": Variable(type="port", choices=[8080, 8081]),
        "wrong": Variable(type="port", choices=[8080, 8081], differs_from=["right"]),
        "third": Variable(type="port", min=8080, max=8082, differs_from=["right", "wrong"]),
    }
    for seed in range(200):
        v = draw("x", tight, seed)
        assert v["right"] != v["wrong"] and v["third"] not in (v["right"], v["wrong"])
        assert {v["right"], v["wrong"], v["third"]} == {8080, 8081, 8082}
    workers = {"broken": Variable(type="worker"), "healthy": Variable(type="worker", differs_from="broken")}
    for seed in range(50):
        v = draw("x", workers, seed, ["w1", "w2"])
        assert {v["broken"], v["healthy"]} == {"w1", "w2"}
    with pytest.raises(VariantError, match="too few"):
        draw("x", workers, 1, ["w1"])


def test_ranges_names_and_memory_sizes() -> None:
    variables = {
        "ns": Variable(type="name", prefix="team-"),
        "limit": Variable(type="memory", min="32Mi", max="96Mi", step="32Mi"),
        "sizes": Variable(type="memory", choices=["64Mi", "1Gi"]),
        "count": Variable(type="integer", min=2, max=9, step=7),
    }
    seen = [draw("m", variables, seed) for seed in range(40)]
    assert all(str(v["ns"]).startswith("team-") and len(str(v["ns"])) == 10 for v in seen)
    assert {v["limit"] for v in seen} == {"32Mi", "64Mi", "96Mi"}
    assert {v["count"] for v in seen} == {2, 9} and {v["sizes"] for v in seen} == {"64Mi", "1Gi"}


# the life cycle on fakes ------------------------------------------------------------------------------
FILE_LAB: dict[str, Any] = {
    "variables": {
        "conf": {"type": "name", "choices": ["app", "web", "api"]},
        "right": {"type": "text", "choices": ["good", "fine"]},
        "wrong": {"type": "text", "choices": ["bad", "good", "fine", "broken"], "differs_from": "right"},
    },
    "task": "Make /etc/{{ conf }}.conf say {{ right }} on {{ control_plane }}.",
    "break": [{"tests.steps.write": {"path": "/etc/{{ conf }}.conf", "content": "{{ wrong }}"}}],
    "confirm": [
        {
            "tests.steps.file_is": {
                "path": "/etc/{{ conf }}.conf",
                "content": "{{ right }}",
                "expect": "fail",
                "within": "5s",
            }
        }
    ],
    "grade": [
        {"tests.steps.file_is": {"path": "/etc/{{ conf }}.conf", "content": "{{ right }}", "weight": 2}},
        {"graders.api.sentinel_intact": {"name": "ledger"}},
    ],
    "hints": ["look at /etc/{{ conf }}.conf on {{ control_plane }}"],
    "solve": [{"tests.steps.write": {"path": "/etc/{{ conf }}.conf", "content": "{{ right }}"}}],
    "cheats": {"wrong-value": [{"tests.steps.write": {"path": "/etc/{{ conf }}.conf", "content": "meh"}}]},
    "solution": "write {{ right }} into /etc/{{ conf }}.conf",
}


def test_a_variant_starts_grades_and_resets_with_its_own_values(tmp_path: Path) -> None:
    lab = lab_from(tmp_path, **FILE_LAB)
    assert lab.has_variables and not lab_from(tmp_path / "plain").has_variables
    variant = lab.variant(777)
    conf, right, wrong = (variant.values[k] for k in ("conf", "right", "wrong"))
    path = f"/etc/{conf}.conf"
    ctx, t, _kube = marked_ctx({path: right.encode()})  # type: ignore[union-attr]
    session = runner.start(ctx, variant)
    assert t.files[path] == str(wrong).encode()
    assert runner.variant_of(ctx.store.session(session.id)) == (777, variant.values)
    assert runner.render_task(ctx, variant) == f"Make {path} say {right} on cp1."
    assert not runner.grade(ctx, variant, session).passed
    t.files[path] = str(right).encode()
    assert runner.grade(ctx, variant, ctx.store.session(session.id)).passed

    bf = Breakfix("test", ctx.store, catalog=Catalog(labs={"demo": lab}))
    bf._cluster = ctx.cluster
    again = bf.lab_of(ctx.store.session(session.id))  # grade, task, hint and solution use the session's values
    assert again.values == variant.values and again.steps["grade"][0].kwargs["path"] == path
    assert bf.hint() == (1, 1, f"look at {path} on cp1")
    assert bf.solution() == ("demo", f"write {right} into {path}")
    status = Status("test", ctx.store.session(session.id), seed=777)
    assert status.as_dict()["seed"] == 777 and "seed" not in Status("test", None).as_dict()
    runner.reset(ctx)
    assert t.files[path] == str(right).encode()


def test_a_lab_without_variables_runs_as_before(tmp_path: Path) -> None:
    lab = lab_from(tmp_path)
    ctx, _t, _kube = marked_ctx({"/etc/app.conf": b"good"})
    session = runner.start(ctx, lab)
    assert "variant" not in ctx.store.session(session.id).data and runner.variant_of(session) == (None, {})
    bf = Breakfix("test", ctx.store, catalog=Catalog(labs={"demo": lab}))
    bf._cluster = ctx.cluster
    assert bf.variant("demo", 5) is lab and bf.lab_of(ctx.store.session(session.id)) is lab
    runner.reset(ctx)


def test_every_shipped_lab_loads_and_labs_with_variables_draw_them_the_same_way_twice() -> None:
    catalog = load_catalog([lab_roots()[0]])
    assert catalog.errors == [] and len(catalog.labs) >= 20
    varied = [lab for lab in catalog.labs.values() if lab.has_variables]
    assert {"svc-target-port", "pending-taint"} <= {lab.id for lab in varied}
    for lab in varied:
        assert draw(lab.id, lab.spec.variables, 7, ["w1"]) == draw(lab.id, lab.spec.variables, 7, ["w1"])


# load-time errors: the file and the key named, one line -----------------------------------------------
def _broken(tmp_path: Path, **change: Any) -> LabFileError:
    with pytest.raises(LabFileError) as info:
        lab_from(tmp_path, **{**FILE_LAB, **change})
    assert "\n" not in str(info.value)
    return info.value


def test_a_variable_used_nowhere_fails_the_lab(tmp_path: Path) -> None:
    variables = {**FILE_LAB["variables"], "spare": {"type": "port", "choices": [80, 81]}}
    err = _broken(tmp_path, variables=variables)
    assert err.path.endswith("demo/lab.yaml") and err.key == "variables.spare" and "used nowhere" in err.problem


def test_a_placeholder_without_a_variable_fails_the_lab(tmp_path: Path) -> None:
    err = _broken(tmp_path, task="Make /etc/{{ conf }}.conf say {{ rigth }} please.")
    assert err.key == "task" and "unknown variable(s) rigth" in err.problem and "right" in err.problem
    err = _broken(tmp_path, hints=["see {{ nope }}"])
    assert err.key == "hints[0]" and "nope" in err.problem
    err = _broken(tmp_path, solution="write {{ nope }}")
    assert err.key == "solution" and "nope" in err.problem
    cheats = {"wrong-value": [{"tests.steps.write": {"path": "/etc/{{ cfg }}.conf", "content": "meh"}}]}
    err = _broken(tmp_path, cheats=cheats)
    assert err.key == "cheats.wrong-value[0] tests.steps.write" and "cfg" in err.problem
    grade = [{"tests.steps.file_is": {"path": "/etc/a", "content": "x", "title": "{{ nope }} holds"}}]
    assert "nope" in _broken(tmp_path, grade=grade).problem
    err = _broken(tmp_path, summary="The {{ conf }} file")
    assert err.key == "summary"


def test_a_placeholder_in_an_applied_file_is_checked_with_its_line(tmp_path: Path) -> None:
    manifests = tmp_path / "demo" / "manifests"
    manifests.mkdir(parents=True)
    (manifests / "cm.yaml").write_text("kind: ConfigMap\nmetadata:\n  name: {{ conf }}\n  namespace: {{ team }}\n")
    err = _broken(tmp_path, setup=[{"apply": {"file": "manifests/cm.yaml"}}])
    assert err.path.endswith("manifests/cm.yaml") and err.key == "line 4" and "team" in err.problem
    (manifests / "cm.yaml").write_text("kind: ConfigMap\nmetadata:\n  name: {{ control_plane }}\n")
    err = _broken(tmp_path, setup=[{"apply": {"file": "manifests/cm.yaml"}}])  # files get the lab's values only
    assert err.key == "line 3" and "control_plane" in err.problem
    (manifests / "cm.yaml").write_text("kind: ConfigMap\ndata: {{{ conf }}: [}\n")
    err = _broken(tmp_path, setup=[{"apply": {"file": "manifests/cm.yaml"}}])
    assert "not YAML once seed 0's values are in" in err.problem


@pytest.mark.parametrize(
    ("variables", "key", "problem"),
    [
        ({"control_plane": {"type": "text", "choices": ["a"]}}, "variables.control_plane", "from the cluster"),
        ({"Port": {"type": "port", "choices": [80]}}, "variables.Port.[key]", "pattern"),
        ({"p": {"type": "port", "choices": [70000]}}, "variables.p", "not from 1 to 65535"),
        ({"p": {"type": "port"}}, "variables.p", "needs one of: choices or min/max"),
        ({"p": {"type": "port", "choices": [80], "min": 1, "max": 2}}, "variables.p", "needs one of"),
        ({"n": {"type": "name", "choices": ["Not_A_Name"]}}, "variables.n", "not a name Kubernetes accepts"),
        ({"t": {"type": "text", "min": 1, "max": 2}}, "variables.t", "takes no min/max"),
        ({"w": {"type": "worker", "choices": ["a"]}}, "variables.w", "takes no choices"),
        ({"m": {"type": "memory", "choices": ["lots"]}}, "variables.m", "not a memory size"),
        ({"c": {"type": "integer", "min": 5, "max": 1}}, "variables.c", "an empty range"),
        ({"a": {"type": "text", "choices": ["x"], "differs_from": "b"}}, "variables.a.differs_from", "no variable 'b'"),
        (
            {
                "a": {"type": "text", "choices": ["x", "y"], "differs_from": "b"},
                "b": {"type": "text", "choices": ["x", "y"], "differs_from": "a"},
            },
            "variables.a",
            "in a circle",
        ),
        (
            {"a": {"type": "text", "choices": ["x"]}, "b": {"type": "text", "choices": ["x"], "differs_from": "a"}},
            "variables.b",
            "cannot differ",
        ),
        ({"a": {"type": "text", "choices": ["x"], "colour": "red"}}, "variables.a.colour", "Extra inputs"),
        (
            {"a": {"type": "port", "choices": [80, 81]}, "b": {"type": "text", "choices": ["80"], "differs_from": "a"}},
            "variables.b.differs_from",
            "only values of one kind",
        ),
    ],
)
def test_bad_variables_fail_the_lab_with_the_key_named(
    tmp_path: Path, variables: dict[str, Any], key: str, problem: str
) -> None:
    err = _broken(tmp_path, variables={**FILE_LAB["variables"], **variables})
    assert err.key == key and problem in err.problem, str(err)


def test_lab_list_shows_the_broken_lab_and_keeps_the_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    variables = {**FILE_LAB["variables"], "spare": {"type": "port", "choices": [80, 81]}}
    root = tmp_path / "mine"
    lab_from(root, **{**LAB})  # a good one...
    (root / "demo").rename(root / "good")
    text = (root / "good" / "lab.yaml").read_text().replace("id: demo", "id: good")
    (root / "good" / "lab.yaml").write_text(text)
    bad = root / "demo" / "lab.yaml"
    bad.parent.mkdir()
    bad.write_text(yaml.safe_dump({**LAB, **FILE_LAB, "variables": variables}))
    monkeypatch.setenv("BREAKFIX_LABS_PATH", str(root))
    code, out, err = run(capsys, "list")
    assert code == 0 and "good" in out
    assert f"{bad}: variables.spare: declared but used nowhere" in out + err


# the command line: bad input is one line and a non-zero exit, never a traceback ----------------------------
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["start", "svc-variant", "--seed", "abc"], "lab: --seed 'abc': a seed is a whole number from 0 to"),
        (["start", "svc-variant", "--seed", "-3"], "lab: --seed '-3': a seed is a whole number"),
        (["start", "svc-wrong-selector", "--seed", "5"], "lab: lab svc-wrong-selector has no variables"),
        (["verify", "svc-variant", "--variants", "0"], "lab: --variants '0': a whole number from 1 to 50"),
        (["verify", "svc-variant", "--variants", "x"], "lab: --variants 'x': a whole number from 1 to 50"),
        (["verify", "svc-variant", "--variants", "2", "--seed", "1"], "lab: give --variants N or --seed S"),
        (["verify", "--all", "--seed", "1"], "lab: --seed goes with one LAB, not --all"),
        (["verify", "svc-wrong-selector", "--variants", "2"], "lab: lab svc-wrong-selector has no variables"),
        (["verify", "svc-variant", "--seed", "1e3"], "lab: --seed '1e3': a seed is a whole number"),
    ],
)
def test_bad_seeds_and_counts_are_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.setenv("BREAKFIX_LABS_PATH", str(FIXTURES))
    code, _out, err = run(capsys, *args)
    assert code == 2, err
    assert err.startswith(message) and err.count("\n") == 1 and "Traceback" not in err, err


def test_parse_seed() -> None:
    assert parse_seed(" 42 ") == 42 and parse_seed("0") == 0
    for bad in ("", "4.2", "-1", str(10**19), "0x10"):
        with pytest.raises(VariantError):
            parse_seed(bad)


# exams ------------------------------------------------------------------------------------------------
class SeatOnFakes:
    """A student's cluster that starts the lab as the API would store it, and refuses anything else."""

    def __init__(self, runner_: VariantExam, seat: Assignment) -> None:
        self.runner, self.seat = runner_, seat

    def start_together(
        self,
        lab_ids: list[str],
        student: str | None = None,
        seed: int | None = None,
        drawn: bool = False,
        exam: str | None = None,
        numbers: list[int] | None = None,
    ) -> list[tuple[Session, str]]:
        assert seed is not None, "a lab with variables is started with the student's seed"
        assert len(lab_ids) == 1, "one task per cluster in these exams"
        lab = self.runner.catalog.get(lab_ids[0]).variant(seed)
        store = self.runner.store
        session = store.new_session(self.seat.cluster, lab_ids[0], student, exam)
        data = {runner.VARIANT: {"seed": seed, "values": lab.values}}
        store.update_session(session.id, status="active", started=time.time(), data=data)
        self.runner.started[self.seat.student] = lab
        return [(store.session(session.id), lab.task_text())]

    def grade_tasks(self) -> list[tuple[Session, GradeReport, float]]:
        session = self.runner.store.active_session(self.seat.cluster)
        assert session is not None
        check = CheckResult("pass", "fine", name="routes", weight=2)
        self.runner.store.add_grade(session.id, 2, 2, True, [check.as_dict()])
        return [(session, GradeReport(session.lab, [check]), 100.0)]

    def reset(self) -> int:
        raise AssertionError("no reset expected")


class VariantExam(ExamRunner):
    def __init__(self, store: State) -> None:
        super().__init__(store)
        self._catalog = load_catalog([FIXTURES])
        self.started: dict[str, Lab] = {}

    def api_for(self, seat: Assignment) -> SeatOnFakes:  # type: ignore[override]
        return SeatOnFakes(self, seat)


def test_an_exam_draws_each_students_values_from_its_seed_and_reports_them(tmp_path: Path) -> None:
    store = State()
    names = ("alice", "bob", "carol")
    for i, _name in enumerate(names):
        store.add_cluster(f"c{i}", f"/nowhere/c{i}.yaml", "inventory", "m")
    students = [{"name": n, "cluster": f"c{i}"} for i, n in enumerate(names)]
    path = tmp_path / "exam.yaml"
    path.write_text(
        yaml.safe_dump({"name": "quiz", "duration": "10m", "labs": ["svc-variant"], "students": students, "seed": 2026})
    )
    exam = VariantExam(store)
    exam.start(path)
    for name in names:
        assert exam.started[name].seed == student_seed(2026, name)
    assert len({tuple(sorted(lab.values.items())) for lab in exam.started.values()}) == 3
    board = exam.status("quiz", grade=True)
    report = markdown(board)
    assert "| Values (seed) |" in report
    for seat in board.seats:
        lab = exam.started[seat.student]
        assert seat.seed == lab.seed and seat.values == lab.values and seat.passed
        line = next(x for x in report.splitlines() if x.startswith(f"| {seat.student} |"))
        assert f"namespace={lab.values['namespace']}" in line and f"--seed {lab.seed}`" in line
        assert board.as_dict()["students"][names.index(seat.student)]["seed"] == lab.seed
    assert VariantExam(store).start(path)[1] == {}  # the same file again: nothing new, the same seeds


def test_an_exam_without_a_seed_draws_one_and_keeps_it(tmp_path: Path) -> None:
    store = State()
    store.add_cluster("c0", "/nowhere/c0.yaml", "inventory", "m")
    path = tmp_path / "exam.yaml"
    students = [{"name": "alice", "cluster": "c0"}]
    path.write_text(yaml.safe_dump({"name": "quiz", "duration": "10m", "labs": ["svc-variant"], "students": students}))
    exam = VariantExam(store)
    exam.start(path)
    seed = store.exam("quiz")["spec"]["seed"]  # type: ignore[index]
    assert isinstance(seed, int) and exam.started["alice"].seed == student_seed(seed, "alice")
    exam.start(path)  # again with the same file: accepted, the drawn seed kept
    assert store.exam("quiz")["spec"]["seed"] == seed  # type: ignore[index]


def test_an_exam_report_without_variants_is_as_before(tmp_path: Path) -> None:
    from breakfix.exam.board import Board, Seat

    board = Board("quiz", None, None, None, [Seat("alice", "c1", "svc-wrong-selector")])
    assert "Values" not in markdown(board) and "seed" not in board.as_dict()["students"][0]
