"""`lab --help` and an idle `lab status` answered without the full CLI: the same text and exit code as it gives."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from breakfix.cli import fast
from breakfix.cli.main import main
from tests.unit.test_cli_ux import register, run


def full(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """What the full CLI (typer) prints for ARGS."""
    return run(capsys, *args)


def test_help_is_the_full_clis_own_and_served_from_the_cache_next_time(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    code, typer_help, _ = full(capsys, "--help")
    assert code == 0 and "Commands:" in typer_help
    assert fast.cached_help() is None
    assert fast.fast_help(["--help"])  # laid out by the full CLI, then cached
    assert capsys.readouterr().out == typer_help
    assert fast.cached_help() == typer_help.removesuffix("\n")

    def refused() -> str:
        raise AssertionError("the help was laid out again although the cache is current")

    monkeypatch.setattr(fast, "full_help", refused)
    assert fast.fast_help(["--help"])
    assert capsys.readouterr().out == typer_help


def test_a_narrower_terminal_or_a_changed_cli_lays_the_help_out_again(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    fast.full_help()
    monkeypatch.setenv("COLUMNS", "60")
    assert fast.cached_help() is None  # laid out for 78 columns, the terminal has 60
    _, narrow, _ = full(capsys, "--help")
    assert fast.fast_help(["--help"]) and capsys.readouterr().out == narrow
    assert fast.cached_help() is not None
    monkeypatch.setattr(fast, "help_key", lambda: "another CLI")
    assert fast.cached_help() is None


@pytest.mark.parametrize("argv", [[], ["-h"], ["status", "--help"], ["--help", "list"], ["--version"]])
def test_anything_but_lab_help_is_left_to_the_full_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert not fast.fast_help(argv)
    assert capsys.readouterr().out == ""


def test_a_damaged_help_cache_is_laid_out_again(capsys: pytest.CaptureFixture[str]) -> None:
    fast.help_cache().parent.mkdir(parents=True, exist_ok=True)
    fast.help_cache().write_text('{"key": 1, "width": [], "text": null')
    assert fast.cached_help() is None
    assert fast.fast_help(["--help"]) and "Commands:" in capsys.readouterr().out


def test_idle_status_says_what_the_full_cli_says(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    store = register(tmp_path, "lab")
    expected = full(capsys, "status")
    assert expected == (0, "lab: no lab running\n", "")
    assert fast.fast_status(["status"]) == 0
    assert capsys.readouterr().out == expected[1]
    store.journal_add("lab", None, "break", "object", {"kind": "ConfigMap"})
    expected = full(capsys, "status")
    assert "1 unfinished changes" in expected[1]
    assert fast.fast_status(["status"]) == 0 and capsys.readouterr().out == expected[1]


def test_status_picks_the_cluster_as_the_full_cli_does(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = register(tmp_path, "one")
    register(tmp_path, "two", store)
    for argv in (["status"], ["status", "-c", "two"], ["-ctwo", "status"], ["--cluster=nine", "status"]):
        code, out, err = full(capsys, *argv)
        assert fast.fast_status(argv) == code
        got = capsys.readouterr()
        assert (got.out, got.err) == (out, err)
    monkeypatch.setenv("BREAKFIX_CLUSTER", "one")
    assert fast.fast_status(["status"]) == 0 and capsys.readouterr().out == "one: no lab running\n"
    monkeypatch.setenv("BREAKFIX_CLUSTER", "nope")  # typer reads it as --cluster: the same words
    code, out, err = full(capsys, "status")
    assert fast.fast_status(["status"]) == code == 1
    assert capsys.readouterr().err == err and "tried --cluster nope" in err


def test_status_with_no_cluster_registered_gives_the_same_line_and_code(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = full(capsys, "status")
    assert code == 1 and "no lab cluster yet" in err
    assert fast.fast_status(["status"]) == code
    assert capsys.readouterr().err == err


@pytest.mark.parametrize("argv", [["status", "-o", "json"], ["status", "--json"], ["status", "-c"], ["grade"]])
def test_status_with_options_is_left_to_the_full_cli(argv: list[str], tmp_path: Path) -> None:
    register(tmp_path, "lab")
    assert fast.fast_status(argv) is None


def test_a_running_lab_or_a_lost_inventory_is_left_to_the_full_cli(tmp_path: Path) -> None:
    store = register(tmp_path, "lab")
    session = store.new_session("lab", "etcd-datadir")
    store.update_session(session.id, status="active")
    assert fast.fast_status(["status"]) is None  # its lease is renewed on the cluster
    store.update_session(session.id, status="reset")
    assert fast.fast_status(["status"]) == 0
    (tmp_path / "lab.yaml").unlink()
    assert fast.fast_status(["status"]) is None
    assert main(["status"]) == 1  # the full CLI names the missing inventory


def test_an_inventory_written_since_registration_is_left_to_the_full_cli(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    register(tmp_path, "lab")
    inventory = tmp_path / "lab.yaml"
    inventory.write_text("all: [not: an inventory\n")  # edited by hand after `lab cluster adopt`
    assert fast.fast_status(["status"]) is None
    assert main(["status"]) == 1 and "lab.yaml" in capsys.readouterr().err  # the full CLI names the file


def test_an_error_breakfix_does_not_expect_is_left_to_the_full_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(tmp_path, "lab")

    def denied(*_a: object) -> None:
        raise PermissionError("state.db: permission denied")

    monkeypatch.setattr("breakfix.state.State.__init__", denied)
    assert fast.fast_status(["status"]) is None


def test_the_help_cache_follows_typer_and_click_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util
    from types import SimpleNamespace

    typer_file = tmp_path / "typer_init.py"
    typer_file.write_text("# typer 1\n")
    found = {"typer": SimpleNamespace(origin=str(typer_file)), "click": None}
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: found[name])
    before = fast.help_key()
    typer_file.write_text("# typer 2, another layout\n")
    assert fast.help_key() != before


def test_the_console_script_answers_help_and_idle_status_without_typer(tmp_path: Path) -> None:
    register(tmp_path, "lab")
    code = (
        "import sys\n"
        "from breakfix.cli.entry import run\n"
        "sys.argv = ['lab'] + sys.argv[1:]\n"
        "try:\n    run()\nexcept SystemExit as exc:\n    code = exc.code\n"
        "heavy = [m for m in ('typer', 'pydantic', 'breakfix.cli.main', 'yaml') if m in sys.modules]\n"
        "print('heavy:', heavy, 'code:', code, file=sys.stderr)\n"
    )
    env = {**os.environ, "COLUMNS": "90"}
    first = subprocess.run([sys.executable, "-c", code, "--help"], capture_output=True, text=True, env=env)
    second = subprocess.run([sys.executable, "-c", code, "--help"], capture_output=True, text=True, env=env)
    assert "Commands:" in first.stdout and second.stdout == first.stdout
    assert "heavy: []" in second.stderr and "heavy: []" not in first.stderr  # the first one laid it out
    status = subprocess.run([sys.executable, "-c", code, "status"], capture_output=True, text=True, env=env)
    assert status.stdout == "lab: no lab running\n" and "heavy: [] code: 0" in status.stderr
