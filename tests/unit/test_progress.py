"""lab history / stats / next / doctor on a store filled with a synthetic history (no cluster, no docker)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from breakfix import doctor, progress
from breakfix.catalog import load_catalog
from breakfix.cli.main import main
from breakfix.doctor import Probes
from breakfix.inventory import ClusterSpec, NodeSpec
from breakfix.progress import LabInfo
from breakfix.state import State
from breakfix.transport.spec import TransportSpec

NOW = 1_800_000_000.0
DAY = 86400.0
LABS = {
    "t1": LabInfo("t1", "Trouble one", "troubleshooting", 900),
    "t2": LabInfo("t2", "Trouble two", "troubleshooting", 900),
    "t3": LabInfo("t3", "Trouble three", "troubleshooting", 900),
    "n1": LabInfo("n1", "Net one", "services-networking", 900),
    "n2": LabInfo("n2", "Net two", "services-networking", 900),
    "w1": LabInfo("w1", "Work one", "workloads-scheduling", 900),
    "s1": LabInfo("s1", "Store one", "storage", 900, frozenset({"multi-node"})),
}


def attempt(
    store: State,
    lab: str,
    days_ago: float,
    status: str,
    grades: list[tuple[int, int]] = (),  # type: ignore[assignment]
    fixed_in: float | None = None,
    hints: int = 0,
    viewed: bool = False,
    cluster: str = "lab",
) -> int:
    """One session DAYS_AGO before NOW with its grades (score, max)."""
    s = store.new_session(cluster, lab)
    started = NOW - days_ago * DAY
    store.update_session(
        s.id,
        status=status,
        created=started - 30,
        started=started,
        ended=started + (fixed_in or 60) + 10,
        solved_at=started + fixed_in if fixed_in is not None else None,
        hints_used=hints,
        data={"solution_viewed": started + 5} if viewed else {},
    )
    for score, top in grades:
        store.add_grade(s.id, score, top, score == top, [])
    return s.id


@pytest.fixture
def store(tmp_path: Path) -> State:
    """Five weeks of practice over four domains."""
    st = State(tmp_path / "state.db")
    attempt(st, "t1", 28, "closed", [(2, 4), (4, 4)], fixed_in=300)  # clean: 100
    attempt(st, "t1", 20, "closed", [(4, 4)], fixed_in=200, hints=2)  # 80
    attempt(st, "t2", 14, "closed", [(1, 4)])  # reset, 25
    attempt(st, "t1", 10, "closed", [(4, 4)], fixed_in=100)  # clean: 100
    attempt(st, "t2", 7, "aborted")
    attempt(st, "t1", 4, "closed", [(4, 4)], fixed_in=400, viewed=True)  # 0: the walk-through was read
    attempt(st, "n1", 21, "closed", [(3, 3)], fixed_in=600 * 0.7)  # clean, due long ago
    attempt(st, "n2", 2, "closed", [(3, 3)], fixed_in=700)  # slow (over half of 900s)
    attempt(st, "w1", 9, "closed", [(2, 2)], fixed_in=120)
    attempt(st, "w1", 1, "closed", [(2, 2)], fixed_in=120)  # clean twice: back in 3 days
    attempt(st, "t3", 0.5, "verified", [(5, 5)], fixed_in=50)  # a self-test, not an attempt
    return st


# history -------------------------------------------------------------------------------------
def test_history_newest_first_without_self_tests(store: State) -> None:
    found = progress.history(store, LABS)
    assert [(a.lab, round((NOW - a.when) / DAY)) for a in found] == [
        ("w1", 1),
        ("n2", 2),
        ("t1", 4),
        ("t2", 7),
        ("w1", 9),
        ("t1", 10),
        ("t2", 14),
        ("t1", 20),
        ("n1", 21),
        ("t1", 28),
    ]
    assert "t3" in [a.lab for a in progress.history(store, LABS, include_verified=True)]


def test_history_scores_as_lab_grade(store: State) -> None:
    by_age = {round((NOW - a.when) / DAY): a for a in progress.history(store, LABS, lab="t1")}
    assert by_age[28].score == 100.0 and by_age[28].outcome == "solved" and by_age[28].time_to_fix == 300
    assert by_age[20].score == 80.0  # two hints, a tenth each
    assert by_age[4].score == 0.0 and by_age[4].solution_viewed
    t2 = progress.history(store, LABS, lab="t2")
    assert [(a.outcome, a.score, a.time_to_fix) for a in t2] == [("aborted", None, None), ("reset", 25.0, None)]


def test_history_filters(store: State) -> None:
    assert {a.lab for a in progress.history(store, LABS, domain="services-networking")} == {"n1", "n2"}
    assert [a.lab for a in progress.history(store, LABS, limit=2)] == ["w1", "n2"]


def test_history_names_a_running_lab_the_student_did_not_choose_by_its_title_only(store: State) -> None:
    """A drawn lab's id names its fault: hidden (and not found by it) until the lab is over, as in an exam."""
    drawn = store.new_session("c9", "n1", None, None)
    store.update_session(drawn.id, status="active", started=NOW, data={"drawn": True})
    shown = progress.history(store, LABS)[0]
    assert (shown.lab, shown.title) == ("-", "Net one")
    assert drawn.id not in [a.id for a in progress.history(store, LABS, lab="n1")]
    store.update_session(drawn.id, status="closed")
    assert progress.history(store, LABS)[0].lab == "n1"


def test_outcome_of_a_running_lab() -> None:
    from breakfix.state import Session

    running = Session(1, "c", "t1", "active", 0, 1, None, None, 0, None, None, None, {})
    assert progress.outcome(running) == "not solved"


# stats ---------------------------------------------------------------------------------------
def test_trend() -> None:
    assert progress.trend([50, 50, 50, 80, 90, 100]) == 40.0
    assert progress.trend([100, 0, 0, 0]) == -100.0
    assert progress.trend([10, 20, 30]) is None


def test_stats_per_domain_and_lab(store: State) -> None:
    stats = {s.name: s for s in progress.stats(progress.history(store, LABS), LABS)}
    assert list(stats) == list(progress.DOMAIN_WEIGHTS)
    t = stats["troubleshooting"]
    assert (t.attempts, t.solved, t.best_score, t.labs_solved, t.labs_total) == (5, 4, 100.0, 1, 3)
    assert t.median_time_to_fix == 250.0
    assert t.trend == round((25 + 100 + 0) / 3 - (100 + 80) / 2, 1)
    t1 = next(s for s in t.labs if s.name == "t1")
    assert (t1.attempts, t1.trend) == (4, -40.0)  # last three 80, 100, 0 against 100
    assert stats["storage"].attempts == 0 and stats["storage"].best_score is None


def test_bar() -> None:
    assert progress.bar(0.5, 10) == "#####....."
    assert progress.bar(2, 4) == "####"


# next ----------------------------------------------------------------------------------------
def test_next_order(store: State) -> None:
    picks = progress.next_labs(LABS, progress.history(store, LABS), now=NOW)
    assert [p.lab for p in picks] == ["t3", "s1", "t1", "t2", "n2", "n1", "w1"]
    reasons = {p.lab: p.reason for p in picks}
    assert reasons["t3"] == "never tried; troubleshooting is your weakest area"
    assert "walk-through" in reasons["t1"] and "not solved" in reasons["t2"] and "slowly" in reasons["n2"]
    assert reasons["n1"].startswith("review") and "in 2 days" in reasons["w1"]


def test_next_spaced_repetition_intervals() -> None:
    labs = {"a": LabInfo("a", "A lab", "storage", 900)}

    def solved(times: int, last_days_ago: float) -> list[progress.Attempt]:
        return [
            progress.Attempt(
                i,
                "a",
                "A lab",
                "storage",
                "c",
                None,
                NOW - (last_days_ago + 40 * i) * DAY,
                "solved",
                100.0,
                60.0,
                0,
                False,
            )
            for i in range(times)
        ]

    for clean, interval in [(1, 1), (2, 3), (3, 7), (4, 14), (5, 30), (9, 30)]:
        due = progress.next_labs(labs, solved(clean, interval + 0.01), now=NOW)[0]
        early = progress.next_labs(labs, solved(clean, interval - 0.01), now=NOW)[0]
        assert due.reason.startswith("review"), (clean, due)
        assert early.reason.startswith("nothing else is due"), (clean, early)


def test_next_only_what_the_cluster_can_run(store: State) -> None:
    picks = progress.next_labs(LABS, progress.history(store, LABS), now=NOW, capabilities=frozenset())
    assert "s1" not in [p.lab for p in picks]


def test_next_never_prints_a_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["next", "-n", "500"]) == 0
    out = capsys.readouterr().out
    catalog = load_catalog()
    assert len(out.splitlines()) == len(catalog.labs) + 1
    for lab in catalog.labs.values():
        assert not lab.spec.summary or lab.spec.summary not in out


# CLI -----------------------------------------------------------------------------------------
def _real_history(folder: Path) -> list[str]:
    ids = sorted(load_catalog().labs)[:2]
    st = State(folder / "state.db")
    attempt(st, ids[0], 3, "closed", [(4, 4)], fixed_in=90, hints=1)
    attempt(st, ids[1], 1, "aborted")
    return ids


def test_cli_history_and_stats(isolated_state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ids = _real_history(isolated_state)
    assert main(["history", "-o", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["lab"], r["outcome"], r["score"]) for r in rows] == [(ids[1], "aborted", None), (ids[0], "solved", 90.0)]
    assert main(["history", "--lab", ids[0], "-o", "yaml"]) == 0
    assert [r["lab"] for r in yaml.safe_load(capsys.readouterr().out)] == [ids[0]]
    assert main(["history"]) == 0
    table = capsys.readouterr().out
    assert "aborted" in table and "solved" in table and "1m30s" in table
    assert main(["stats"]) == 0
    out = capsys.readouterr().out
    assert "labs solved per domain" in out and "\x1b[" not in out
    assert main(["stats", "-o", "json"]) == 0
    assert sum(d["attempts"] for d in json.loads(capsys.readouterr().out)) == 1


# doctor --------------------------------------------------------------------------------------
def good(**change: Any) -> Probes:
    """Probes of a machine where everything is fine, with CHANGE swapped in."""
    versions = {
        "docker": "27.1.1",
        "kind": "kind v0.30.0",
        "vagrant": "Vagrant 2.4.1",
        "kubectl": "Client Version: v1.34.1",
        "VBoxManage": "7.0.20r163906",
        "virsh": "10.0.0",
    }
    probes = Probes(
        python=lambda: (3, 11, 9),
        which=lambda tool: f"/usr/bin/{tool}",
        run=lambda argv: (0, versions[argv[0]]),
        sysctl=lambda name: doctor.INOTIFY[name] * 2,
        mem_available=lambda: 8 * 1024**3,
        connect=lambda host, port, timeout: None,
        exists=lambda path: path == "/dev/kvm",
    )
    for key, value in change.items():
        setattr(probes, key, value)
    return probes


def ssh_cluster(provider: str = "inventory") -> ClusterSpec:
    nodes = (
        NodeSpec("cp1", "control-plane", TransportSpec("ssh", host="10.0.0.10", port=22)),
        NodeSpec("w1", "worker", TransportSpec("ssh", host="10.0.0.11", port=2222)),
    )
    return ClusterSpec("lab", provider, Path("lab.yaml"), nodes, None, None, frozenset())


def test_doctor_all_pass() -> None:
    reached: list[tuple[str, int, float]] = []
    probes = good(connect=lambda host, port, timeout: reached.append((host, port, timeout)))
    checks = doctor.diagnose(probes, ssh_cluster(), cluster_version="v1.34.0")
    assert all(c.ok for c in checks), [c.line() for c in checks if not c.ok]
    assert reached == [("10.0.0.10", 22, 3.0), ("10.0.0.11", 2222, 3.0)]
    assert all(c.line().startswith("✓") for c in checks)
    assert {c.name for c in doctor.diagnose(good())} >= {"python", "docker", "kind", "kubectl", "memory"}


def refuse(host: str, port: int, timeout: float) -> None:
    if host == "10.0.0.11":
        raise ConnectionRefusedError(111, "Connection refused")


def slow(host: str, port: int, timeout: float) -> None:
    raise TimeoutError("timed out")


@pytest.mark.parametrize(
    ("change", "failing"),
    [
        ({"python": lambda: (3, 10, 4)}, "python"),
        ({"which": lambda tool: None if tool == "docker" else tool}, "docker"),
        ({"run": lambda argv: (1, "Cannot connect") if argv[0] == "docker" else (0, "v1.34.0")}, "docker"),
        ({"which": lambda tool: None if tool == "kind" else tool}, "kind"),
        ({"which": lambda tool: None if tool == "kubectl" else tool}, "kubectl"),
        ({"sysctl": lambda name: 128 if name.endswith("instances") else 10**6}, "fs.inotify.max_user_instances"),
        ({"sysctl": lambda name: 8192 if name.endswith("watches") else 10**6}, "fs.inotify.max_user_watches"),
        ({"mem_available": lambda: 2 * 1024**3}, "memory"),
    ],
)
def test_doctor_each_local_failure(change: dict[str, Any], failing: str) -> None:
    checks = doctor.diagnose(good(**change))
    bad = [c for c in checks if not c.ok]
    assert [c.name for c in bad] == [failing]
    assert bad[0].fix and bad[0].line().startswith("✗")


@pytest.mark.parametrize(("connect", "why"), [(refuse, "Connection refused"), (slow, "timed out")])
def test_doctor_unreachable_host(connect: Any, why: str) -> None:
    bad = [c for c in doctor.diagnose(good(connect=connect), ssh_cluster()) if not c.ok]
    assert bad and bad[-1].name == "ssh w1" and why in bad[-1].detail


def test_doctor_kubectl_skew() -> None:
    bad = [c for c in doctor.diagnose(good(), ssh_cluster(), cluster_version="v1.31.2") if not c.ok]
    assert [c.name for c in bad] == ["kubectl skew"] and "1.31" in bad[0].fix
    unknown = doctor.diagnose(good(), ssh_cluster())
    assert next(c for c in unknown if c.name == "kubectl skew").ok


def test_doctor_vagrant_cluster_needs_vagrant_not_kind() -> None:
    probes = good(which=lambda tool: None if tool in ("vagrant",) else tool)
    assert doctor.diagnose(probes)[0].ok and all(c.ok for c in doctor.diagnose(probes))
    bad = [c for c in doctor.diagnose(probes, ssh_cluster("vagrant")) if not c.ok]
    assert [c.name for c in bad] == ["vagrant"]
    assert "kind" not in {c.name for c in doctor.diagnose(probes, ssh_cluster("vagrant"))}


def test_doctor_hypervisor_for_vagrant() -> None:
    def named(probes: Probes) -> Any:
        return next(c for c in doctor.diagnose(probes, ssh_cluster("vagrant")) if c.name == "hypervisor")

    assert named(good()).detail == "VirtualBox 7.0.20r163906"
    libvirt = good(which=lambda tool: None if tool == "VBoxManage" else tool)
    assert named(libvirt).ok and named(libvirt).detail == "libvirt 10.0.0 with KVM"
    no_kvm = named(good(which=libvirt.which, exists=lambda path: False))
    assert not no_kvm.ok and "no /dev/kvm" in no_kvm.detail and "kvm_intel" in no_kvm.fix

    def none_which(tool: str) -> str | None:
        return None if tool in ("VBoxManage", "virsh") else tool

    none = named(good(which=none_which))
    assert not none.ok and "vagrant-libvirt" in none.fix
    no_cluster = next(c for c in doctor.diagnose(good(which=none_which)) if c.name == "hypervisor")
    assert no_cluster.ok and no_cluster.detail.endswith("(only Vagrant clusters need one)")
    without_vagrant = good(which=lambda tool: None if tool == "vagrant" else tool)
    assert "hypervisor" not in {c.name for c in doctor.diagnose(without_vagrant)}  # no vagrant, no VMs to run


def test_doctor_cli_exit_code(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(doctor, "Probes", lambda: good())
    assert main(["doctor"]) == 0
    assert "✗" not in capsys.readouterr().out
    monkeypatch.setattr(doctor, "Probes", lambda: good(mem_available=lambda: 1024**3))
    assert main(["doctor", "-o", "json"]) == 1
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows if not r["ok"]] == ["memory"]


def test_cli_next_follows_the_chosen_clusters_capabilities(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inv = tmp_path / "bare.yaml"
    inv.write_text(yaml.safe_dump({"all": {"vars": {"breakfix_cluster": "bare", "breakfix_capabilities": []}}}))
    State().add_cluster("bare", str(inv), "inventory", "m1")
    assert main(["next", "-n", "500", "-o", "json"]) == 0
    picked = {p["lab"] for p in json.loads(capsys.readouterr().out)}
    catalog = load_catalog()
    assert picked == {lab.id for lab in catalog.labs.values() if not lab.spec.requires}
    assert picked != set(catalog.labs)


def test_cli_domain_typo_is_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "--domain", "storag"]) == 2
    assert "not a CKA domain" in capsys.readouterr().err
    assert main(["stats", "--domain", "network"]) == 2
    assert main(["stats", "--domain", "storage", "-o", "json"]) == 0
    assert [d["name"] for d in json.loads(capsys.readouterr().out)] == ["storage"]
