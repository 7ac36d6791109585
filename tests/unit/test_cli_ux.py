"""The student's daily use of `lab`: no spoilers, rendered tasks, -o formats, global options anywhere,
exit codes, a quiet broken pipe, and `lab verify --all` stopping once when the cluster is down."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import typer
import yaml

from breakfix.catalog import NEUTRAL_VARIABLES, Lab, load_catalog
from breakfix.cli import listing
from breakfix.cli.entry import hoist_global_options, lower_command_options, output_as_json_flag
from breakfix.cli.main import app, main
from breakfix.errors import BreakfixError, ClusterError
from breakfix.results import CheckResult, GradeReport
from breakfix.runner import VerifyPhase
from breakfix.state import Session, SessionStatus, State
from breakfix.steps import render
from breakfix.variants import neutral

ROOT = Path(__file__).resolve().parents[2]
CATALOG = load_catalog()
pytestmark = pytest.mark.usefixtures("shared_catalog")  # the shipped labs, loaded once for all the commands


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def register(tmp_path: Path, name: str = "lab", store: State | None = None) -> State:
    """A registered cluster cp1 + w1 (an inventory on disk; nothing reaches it)."""
    inv = tmp_path / f"{name}.yaml"
    inv.write_text(
        yaml.safe_dump(
            {
                "all": {
                    "vars": {"breakfix_cluster": name, "breakfix_capabilities": ["static-pods", "multi-node"]},
                    "children": {
                        "control_plane": {"hosts": {"cp1": {"breakfix_node_ip": "10.0.0.10"}}},
                        "workers": {"hosts": {"w1": {"breakfix_node_ip": "10.0.0.11"}}},
                    },
                }
            }
        )
    )
    store = store or State()
    store.add_cluster(name, str(inv), "inventory", "m1")
    return store


# 1. spoilers ---------------------------------------------------------------------------------
def test_list_shows_summaries_only_with_spoilers(capsys: pytest.CaptureFixture[str]) -> None:
    summaries = [lab.spec.summary for lab in CATALOG.labs.values() if lab.spec.summary]
    assert summaries
    for argv in (["list", "--details"], ["list", "-o", "wide"], ["list", "--json"], ["list", "-o", "yaml"]):
        code, out, _ = run(capsys, *argv)
        assert code == 0 and not [s for s in summaries if s in out], argv
        assert listing.fast_list(argv) is True  # the cached path hides them too
        cached = capsys.readouterr().out
        assert cached == out and not [s for s in summaries if s in cached], argv
    assert "kube-proxy-parked" in out and "Services that existed this morning" in out  # the task instead
    code, out, _ = run(capsys, "list", "--details", "--spoilers")
    assert code == 0 and all(s in out for s in summaries) and "SUMMARY" in out
    assert listing.fast_list(["list", "--json", "--spoilers"]) is True
    assert all("summary" in row for row in json.loads(capsys.readouterr().out))


def test_show_hides_the_summary_and_the_names_of_cheats(capsys: pytest.CaptureFixture[str]) -> None:
    lab = CATALOG.labs["kube-proxy-parked"]
    code, out, _ = run(capsys, "show", lab.id, "--json")
    data = json.loads(out)
    assert code == 0 and "summary" not in data and data["cheats_tested"] == len(lab.cheats)
    assert data["alternatives_tested"] == len(lab.alternatives)
    code, out, _ = run(capsys, "show", lab.id)
    assert code == 0 and lab.spec.summary not in out and not [c for c in lab.cheats if c in out]
    code, out, _ = run(capsys, "show", lab.id, "--spoilers")
    assert code == 0 and lab.spec.summary in out and all(c in out for c in lab.cheats)
    code, out, _ = run(capsys, "show", lab.id, "-o", "json", "--spoilers")
    assert json.loads(out)["summary"] == lab.spec.summary
    assert json.loads(out)["shares_a_cluster"] is False and "kube-system" in json.loads(out)["footprint"]


def test_show_tells_authors_what_a_lab_claims_on_a_shared_cluster(capsys: pytest.CaptureFixture[str]) -> None:
    """Only with --spoilers: what a lab touches names the area of its fault."""
    code, out, _ = run(capsys, "show", "secret-key-missing")
    assert code == 0 and "claims" not in out and "payments" not in out.split("graded by")[1]
    code, out, _ = run(capsys, "show", "secret-key-missing", "--spoilers")
    assert code == 0 and "on a cluster (`lab start A B`): may run with others; claims namespace payments" in out
    code, out, _ = run(capsys, "show", "kubelet-stopped", "--spoilers")
    assert "on a cluster (`lab start A B`): runs alone (it needs node services or static pods)" in out


def _values(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _values(v)
    elif isinstance(value, list):
        for v in value:
            yield from _values(v)
    elif value is not None and not isinstance(value, bool):
        yield str(value)


def breaker_values(lab: Lab) -> set[str]:
    """Every argument value of the lab's break steps longer than 3 characters, rendered with neutral words,
    except those the student is shown anyway: the lab's title and task name them (a namespace, the node)."""
    given = f"{lab.spec.title}\n{lab.task_text()}"
    words = {**neutral(lab.spec.variables), **NEUTRAL_VARIABLES}  # a lab's own variables: their neutral words
    found = {v for step in lab.steps["break"] for v in _values(render(step.kwargs, words))}
    return {v for v in found if len(v) > 3 and v not in given}


@pytest.mark.parametrize("lab_id", sorted(CATALOG.labs))
def test_lab_show_names_no_breaker_argument(capsys: pytest.CaptureFixture[str], lab_id: str) -> None:
    lab = CATALOG.labs[lab_id]
    secrets = breaker_values(lab)
    for argv in (["show", lab_id], ["show", lab_id, "--json"], ["show", lab_id, "-o", "wide"]):
        code, out, _ = run(capsys, *argv)
        assert code == 0
        out = out.replace(lab_id, "LAB")  # the id is what the student typed
        told = sorted(v for v in secrets if v in out)
        assert not told, f"`lab {' '.join(argv)}` names {told}: reword the grade step's title:"


def test_the_spoiler_check_would_see_a_title_naming_the_breaker() -> None:
    lab = CATALOG.labs["kubelet-stopped"]
    assert "kubelet" in breaker_values(lab)  # what a title like "the kubelet runs" would give away


def test_solution_of_the_running_lab_by_name_costs_the_score(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    store = register(tmp_path, "lab")
    register(tmp_path, "other", store)
    session = store.new_session("lab", "etcd-datadir")
    store.update_session(session.id, status="active")
    code, out, _ = run(capsys, "solution", "kube-proxy-parked")  # another lab: free
    assert code == 0 and "kube-proxy-parked: solution" in out
    assert "solution_viewed" not in store.session(session.id).data
    code, out, _ = run(capsys, "-c", "other", "solution", "etcd-datadir")  # by name, from another cluster
    assert code == 0 and "etcd-datadir: solution" in out
    assert "solution_viewed" in store.session(session.id).data
    report = GradeReport("etcd-datadir", [CheckResult("pass", "ok", name="x")])
    from breakfix.api import Breakfix

    assert Breakfix.session_score(report, store.session(session.id)) == 0.0


# 2. task placeholders ---------------------------------------------------------------------------
def test_show_renders_placeholders_with_neutral_words(capsys: pytest.CaptureFixture[str]) -> None:
    for lab_id in CATALOG.labs:
        for argv in (["show", lab_id], ["show", lab_id, "--json"]):
            code, out, _ = run(capsys, *argv)
            assert code == 0 and "{{" not in out, argv
    code, out, _ = run(capsys, "show", "etcd-datadir")
    assert "After maintenance on the control-plane node," in out


def test_show_uses_the_registered_clusters_node_names(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    register(tmp_path, "lab")
    code, out, _ = run(capsys, "show", "etcd-datadir")
    assert code == 0 and "After maintenance on cp1," in out
    code, out, _ = run(capsys, "-c", "nope", "show", "etcd-datadir")  # a cluster that cannot be had: neutral
    assert code == 0 and "After maintenance on the control-plane node," in out


# 3. broken pipe -----------------------------------------------------------------------------------
@pytest.mark.parametrize("argv", [["list"], ["show", "etcd-datadir"], ["list", "-o", "yaml"]])
def test_a_reader_that_leaves_early_gets_no_traceback(argv: list[str], tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "breakfix", *argv],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={"PATH": "/usr/bin:/bin", "BREAKFIX_STATE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # like `head` that already has its lines
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert "Traceback" not in err and "BrokenPipe" not in err and "unexpected" not in err, err


# 4. global options anywhere -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "argv",
    [
        ["reset", "--cluster", "nope"],
        ["status", "-c", "nope"],
        ["status", "--cluster=nope"],
        ["status", "-cnope"],
        ["cluster", "status", "-c", "nope"],
        ["-c", "other", "status", "-c", "nope"],
    ],
)
def test_cluster_option_after_the_subcommand(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 1 and "no registered cluster 'nope' (tried --cluster nope" in err


def test_hoisting_leaves_values_and_the_rest_alone() -> None:
    command = typer.main.get_command(app)
    same = [
        ["start", "etcd-datadir", "--student", "-c"],  # a value that looks like the option
        ["start", "etcd-datadir", "--", "-c", "x"],
        ["-c", "x", "list"],
        ["show", "--help"],
    ]
    for argv in same:
        assert hoist_global_options(argv, command) == argv
    assert hoist_global_options(["start", "x", "--student", "ann", "--cluster", "b", "--spoilers"], command) == [
        "--cluster",
        "b",
        "start",
        "x",
        "--student",
        "ann",
        "--spoilers",
    ]


def test_a_subcommands_options_before_it_are_moved_after_it() -> None:
    command = typer.main.get_command(app)
    assert lower_command_options(["-o", "json", "status"], command) == ["status", "-o", "json"]
    assert lower_command_options(["-c", "x", "-ojson", "cluster", "status", "--json"], command) == [
        "-c",
        "x",
        "cluster",
        "status",
        "-ojson",
        "--json",
    ]
    assert lower_command_options(["--spoilers", "show", "etcd-datadir"], command) == [
        "show",
        "--spoilers",
        "etcd-datadir",
    ]
    unchanged = [
        ["--spoilers", "status"],  # status has no --spoilers: click refuses it where it was given
        ["-o", "json", "cluster"],  # a group, not a command
        ["--spoilers", "x", "show"],  # a flag does not take a value
        ["--bogus", "list"],
    ]
    for argv in unchanged:
        assert lower_command_options(argv, command) == argv


def test_o_json_or_yaml_on_a_command_that_offers_json() -> None:
    command = typer.main.get_command(app)
    assert output_as_json_flag(["cluster", "status", "-o", "yaml"], command) == (
        ["cluster", "status", "--json"],
        "yaml",
    )
    assert output_as_json_flag(["-c", "x", "verify", "--output=json", "a"], command) == (
        ["-c", "x", "verify", "--json", "a"],
        "json",
    )
    assert output_as_json_flag(["status", "-o", "yaml"], command) == (["status", "-o", "yaml"], None)  # its own -o
    assert output_as_json_flag(["start", "x", "--student", "-o"], command) == (["start", "x", "--student", "-o"], None)
    with pytest.raises(ValueError, match="lab cluster status prints -o json or -o yaml"):
        output_as_json_flag(["cluster", "status", "-o", "wide"], command)


# 5. verify --all ------------------------------------------------------------------------------------
class VerifyAll:
    """Just enough of Breakfix for `lab verify --all`."""

    def __init__(self, phases: list[VerifyPhase], api: Any = None, raises: Exception | None = None) -> None:
        self.phases, self.raises, self.verified = phases, raises, []
        self.catalog = SimpleNamespace(labs={k: CATALOG.labs[k] for k in ("etcd-datadir", "kubelet-stopped")})
        self.store = SimpleNamespace(active_session=lambda _c: None, journal=lambda _c: [])
        self.api = api or (lambda: {"gitVersion": "v1.34.4"})

    def cluster(self) -> SimpleNamespace:
        return SimpleNamespace(name="lab", provider="testbed", capabilities={"static-pods", "systemd", "multi-node"})

    @contextmanager
    def context(self) -> Iterator[SimpleNamespace]:
        yield SimpleNamespace(kube=SimpleNamespace(version=self.api))

    def verify(self, lab_id: str, *_a: object, on_phase: Any = None, bypass_window: float = 30) -> list[VerifyPhase]:
        self.verified.append(lab_id)
        if self.raises:
            raise self.raises
        return self.phases


def _down() -> dict[str, str]:
    raise ClusterError("cannot reach https://10.0.0.10:6443: connection refused")


NOT_STARTED = [VerifyPhase("break", False, "the lab did not start: cannot reach the API server")]


def test_verify_all_on_a_cluster_that_runs_no_lab_exits_5(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = VerifyAll([])
    fake.cluster = lambda: SimpleNamespace(name="lab", provider="testbed", capabilities=set())  # type: ignore[method-assign]
    monkeypatch.setattr("breakfix.cli.main._bf", lambda: fake)
    code, out, err = run(capsys, "verify", "--all")
    assert (code, out, fake.verified) == (5, "", [])
    assert err == "lab: nothing to verify: no lab needs only what cluster lab offers (nothing)\n"


def test_verify_all_stops_once_when_the_cluster_is_down_and_not_for_a_lab(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = VerifyAll(NOT_STARTED, api=_down)
    monkeypatch.setattr("breakfix.cli.main._bf", lambda: fake)
    code, _, err = run(capsys, "verify", "--all")
    assert code == 3 and fake.verified == ["etcd-datadir"]
    assert [line for line in err.splitlines() if line.startswith("lab:")] == [
        "lab: verify stopped at etcd-datadir: the API server of lab does not answer: "
        "cannot reach https://10.0.0.10:6443: connection refused"
    ]
    fake = VerifyAll([], raises=ClusterError("no API"))
    monkeypatch.setattr("breakfix.cli.main._bf", lambda: fake)
    code, _, err = run(capsys, "verify", "--all")
    assert code == 3 and fake.verified == ["etcd-datadir"] and err.count("lab: verify stopped") == 1
    fake = VerifyAll(NOT_STARTED)  # the API answers: each lab's own fault, and the others still run
    monkeypatch.setattr("breakfix.cli.main._bf", lambda: fake)
    code, out, _ = run(capsys, "verify", "--all")
    assert code == 1 and fake.verified == ["etcd-datadir", "kubelet-stopped"]
    assert out.splitlines() == ["FAIL etcd-datadir", "FAIL kubelet-stopped"]


# 6. -o and exit codes -------------------------------------------------------------------------------
def test_list_output_formats(capsys: pytest.CaptureFixture[str]) -> None:
    code, as_json, _ = run(capsys, "list", "--json")
    assert code == 0 and run(capsys, "list", "-o", "json")[1] == as_json
    code, out, _ = run(capsys, "list", "-o", "yaml")
    assert code == 0 and yaml.safe_load(out) == json.loads(as_json)
    code, out, _ = run(capsys, "list", "--output", "name")
    assert code == 0 and out.split() == sorted(CATALOG.labs)
    assert run(capsys, "list", "--json", "-o", "yaml")[0] == 2
    assert run(capsys, "list", "-o", "bogus")[0] == 2
    code, out, _ = run(capsys, "show", "etcd-datadir", "-o", "name")
    assert (code, out) == (0, "etcd-datadir\n")
    code, out, _ = run(capsys, "show", "etcd-datadir", "-o", "yaml")
    assert yaml.safe_load(out)["id"] == "etcd-datadir"


def test_status_and_cluster_list_formats(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    store = register(tmp_path, "lab")
    code, out, _ = run(capsys, "cluster", "list", "-o", "name")
    assert (code, out) == (0, "lab\n")
    code, out, _ = run(capsys, "cluster", "list", "-o", "wide")
    assert code == 0 and "CAPABILITIES" in out and "multi-node, static-pods" in out
    code, out, _ = run(capsys, "cluster", "list", "-o", "yaml")
    assert yaml.safe_load(out)[0]["name"] == "lab"
    assert run(capsys, "status", "-o", "name")[:2] == (0, "")  # nothing running
    session = store.new_session("lab", "etcd-datadir")
    store.update_session(session.id, status="active")
    assert run(capsys, "status", "-o", "name")[:2] == (0, "etcd-datadir\n")
    code, out, _ = run(capsys, "status", "-o", "yaml")
    assert code == 0 and yaml.safe_load(out)["lab"] == "etcd-datadir"
    code, out, _ = run(capsys, "status", "-o", "wide")
    assert code == 0 and f"session {session.id}" in out


class Grading:
    """The API as `lab grade` uses it, with one lab running whose grade is RESULT."""

    def __init__(self, result: GradeReport | BreakfixError) -> None:
        self.result = result

    def grade_tasks(self) -> list[tuple[Session, GradeReport, float]]:
        if isinstance(self.result, BreakfixError):
            raise self.result
        session = Session(1, "lab", "demo", SessionStatus.active, 0.0, 0.0, 300.0, None, 0, None, None, None, {})
        return [(session, self.result, 100.0 if self.result.passed else 0.0)]

    def title_of(self, session: Session) -> str:
        return "Demo lab"


@pytest.mark.parametrize(
    ("result", "code"),
    [
        (GradeReport("demo", [CheckResult("pass", "ok", name="a"), CheckResult("pass", "ok", name="b")]), 0),
        (GradeReport("demo", [CheckResult("pass", "ok", name="a"), CheckResult("fail", "no", name="b")]), 1),
        (GradeReport("demo", [CheckResult("fail", "no", name="a"), CheckResult("error", "?", name="b")]), 3),
        (BreakfixError("no lab is running on lab: start one with `lab start LAB`"), 3),
        (ClusterError("cannot reach the API server"), 3),
    ],
)
def test_grade_exit_codes(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    result: GradeReport | BreakfixError,
    code: int,
) -> None:
    monkeypatch.setattr("breakfix.cli.main._bf", lambda: Grading(result))
    assert run(capsys, "grade")[0] == code
    got, out, _ = run(capsys, "grade", "-o", "name")
    assert got == code
    if isinstance(result, GradeReport):
        assert out == "a\nb\n"
        got, out, _ = run(capsys, "grade", "-o", "yaml")
        assert got == code and yaml.safe_load(out)["lab"] == "demo"


def test_cluster_status_exits_3_when_the_api_or_a_node_cannot_be_reached(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import socket

    with socket.socket() as s:  # a loopback port nobody listens on: both connections are refused at once
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "c",
                "clusters": [{"name": "c", "cluster": {"server": f"https://127.0.0.1:{port}"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
            }
        )
    )
    inv = tmp_path / "lab.yaml"
    node = {"ansible_host": "127.0.0.1", "ansible_port": port, "breakfix_check_host_key": False}
    inv.write_text(
        yaml.safe_dump(
            {
                "all": {
                    "vars": {"breakfix_cluster": "lab", "breakfix_kubeconfig": str(kubeconfig)},
                    "children": {"control_plane": {"hosts": {"cp1": node}}},
                }
            }
        )
    )
    State().add_cluster("lab", str(inv), "inventory", "m1")
    code, out, err = run(capsys, "cluster", "status")
    assert code == 3, (out, err)
    assert "api: unreachable" in out and "cp1: unreachable" in out
    assert "host keys are not checked for cp1" in err


@pytest.mark.parametrize(
    ("args", "said"),
    [
        ((), "name a lab (`lab list` shows them), or draw some with --count N"),
        (("--domain", "storage"), "--domain chooses what --count draws: give --count too"),
        (("svc-target-port", "--count", "2"), "name the labs, or draw them with --count (and --domain): not both"),
    ],
)
def test_start_says_what_it_needs_in_one_line(
    capsys: pytest.CaptureFixture[str], args: tuple[str, ...], said: str
) -> None:
    code, out, err = run(capsys, "start", *args)
    assert code == 2 and out == "" and said in err and len(err.strip().splitlines()) == 1
