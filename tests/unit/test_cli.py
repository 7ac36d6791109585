"""The `lab` command: output, exit codes and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from breakfix import __version__
from breakfix.cli.main import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "--version") == (0, f"breakfix {__version__}\n", "")


def test_list_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "list")
    assert code == 0 and "etcd-datadir" in out and "svc-wrong-selector" in out
    code, out, _ = run(capsys, "list", "--json", "--domain", "services-networking")
    listed = json.loads(out)
    assert code == 0 and "svc-wrong-selector" in [lab["id"] for lab in listed] and "etcd-datadir" not in out
    assert {lab["domain"] for lab in listed} == {"services-networking"}


def test_show_and_schema(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "show", "etcd-datadir", "--json")
    data = json.loads(out)
    assert code == 0 and data["cheats_tested"] == 2  # a cheat's name tells the shortcut: a count for students
    code, out, _ = run(capsys, "show", "etcd-datadir", "--json", "--spoilers")
    assert code == 0 and json.loads(out)["cheats_tested"] == ["fresh-store", "volume-follows-name"]
    code, out, _ = run(capsys, "schema")
    assert code == 0 and json.loads(out)["title"] == "LabFile"


def test_unknown_lab_is_one_line_with_suggestion(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "show", "etcd-datdir")
    assert code == 1 and out == ""
    assert err.startswith("lab: no lab named 'etcd-datdir'. Did you mean: etcd-datadir") and err.count("\n") == 1


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "list", "--bogus")[0] == 2
    assert run(capsys, "verify")[0] == 2  # neither LAB nor --all


def test_no_cluster_says_what_to_do(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "start", "etcd-datadir")
    assert code == 1 and "lab cluster up" in err and err.count("\n") == 1
    code, _, err = run(capsys, "--cluster", "nope", "status")
    assert code == 1 and "no registered cluster 'nope'" in err and "--cluster nope" in err


def test_adopt_needs_confirmation_without_a_terminal(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    inv = tmp_path / "inv.yaml"
    inv.write_text("all: {vars: {breakfix_kubeconfig: kc}}")
    code, _, err = run(capsys, "cluster", "adopt", str(inv))
    assert code == 1 and "--yes" in err


def test_unexpected_error_exits_3_with_log(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, isolated_state: Path
) -> None:
    import breakfix.catalog

    def boom(*_a: object, **_k: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(breakfix.catalog, "load_catalog", boom)
    code, _, err = run(capsys, "list")
    assert code == 3 and "unexpected error" in err
    log = isolated_state / "lab-error.log"
    assert "RuntimeError: bug" in log.read_text() and str(log) in err


def test_console_script_starts_without_heavy_imports() -> None:
    """`lab list` must not import the kubernetes client, paramiko or ansible (start-up speed)."""
    code = (
        "import sys; from breakfix.cli.main import main; main(['list', '--json']);"
        "heavy = [m for m in ('kubernetes', 'paramiko', 'ansible_runner', 'urllib3') if m in sys.modules];"
        "print('HEAVY', heavy, file=sys.stderr)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in proc.stderr


def test_shell_completion_offers_lab_ids() -> None:
    env = {
        **__import__("os").environ,
        "_LAB_COMPLETE": "complete_bash",
        "COMP_WORDS": "lab show etcd-d",
        "COMP_CWORD": "2",
    }
    proc = subprocess.run([sys.executable, "-m", "breakfix"], env=env, capture_output=True, text=True)
    assert proc.stdout.split() == ["etcd-datadir"]


def test_typer_runner_drives_the_app() -> None:
    from typer.testing import CliRunner

    from breakfix.cli.main import app

    result = CliRunner().invoke(app, ["show", "svc-wrong-selector", "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["difficulty"] == "easy"
    result = CliRunner().invoke(app, ["cluster", "list", "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout) == []
