"""Bad input and damaged state end as one clear line with exit 1 or 2, never "unexpected error" (exit 3)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from breakfix.cli.main import main
from breakfix.errors import BreakfixError
from breakfix.state import State

REPO = Path(__file__).resolve().parents[2]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().err


def one_line(err: str) -> bool:
    return err.count("\n") == 1 and err.startswith("lab: ") and "unexpected error" not in err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("all: {hosts: {cp1: {ansible_host: 127.0.0.1, ansible_port: twenty-two}}}", "ansible_port 'twenty-two'"),
        ("all: {hosts: {cp1: {ansible_port: 70000}}}", "not a TCP port"),
        ("all: {hosts: {cp1: {breakfix_transport: 'ssh://root@h:abc'}}}", "port is not a number"),
        ("all: {vars: [a, b], hosts: {cp1: {}}}", "all.vars must be a mapping, not list"),
        ("all: {children: {workers: {vars: [1], hosts: {w1: {}}}}}", "workers.vars must be a mapping"),
        ("all: {hosts: {cp1: [x]}}", "all.hosts.cp1 must be a mapping"),
        ("all: {children: [workers]}", "all.children must be a mapping"),
        ("", "top-level 'all:'"),
    ],
)
def test_bad_inventory_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str) -> None:
    inv = tmp_path / "inv.yaml"
    inv.write_text(text)
    code, err = run(capsys, "cluster", "adopt", str(inv), "--yes")
    assert code == 1 and one_line(err) and message in err, err


@pytest.mark.parametrize("where", ["folder", "empty"])
def test_inventory_path_that_is_a_folder_or_empty(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    monkeypatch.chdir(tmp_path)
    code, err = run(capsys, "cluster", "adopt", str(tmp_path) if where == "folder" else "", "--yes")
    assert code == 1 and one_line(err) and "is a folder, not a file" in err, err


def test_junit_into_a_missing_folder_is_refused_before_grading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run(capsys, "grade", "--junit", str(tmp_path / "nope" / "report.xml"))
    assert code == 2 and one_line(err) and f"{tmp_path / 'nope'} does not exist" in err, err


def test_a_binary_exam_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    exam = tmp_path / "exam.yaml"
    exam.write_bytes(b"name: x\n" + bytes(range(256)))
    code, err = run(capsys, "exam", "start", str(exam))
    assert code == 1 and one_line(err) and "exam.yaml" in err and "not UTF-8" in err, err


def test_a_state_folder_that_is_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("not a folder")
    monkeypatch.setenv("BREAKFIX_STATE_DIR", str(blocker))
    code, err = run(capsys, "cluster", "list")
    assert code == 1 and one_line(err) and f"state folder {blocker}" in err and "BREAKFIX_STATE_DIR" in err, err


def _lab(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "breakfix", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def listed_once(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """`lab list --json` once, in a state folder of its own: what it printed and the catalog cache it wrote."""
    folder = tmp_path_factory.mktemp("listed")
    first = _lab("list", "--json", env={**os.environ, "BREAKFIX_STATE_DIR": str(folder)})
    assert first.returncode == 0, first.stderr
    return first.stdout, (folder / "catalog-cache.json").read_text()


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: {**d, "rows": [{"id": 1}]},
        lambda d: {**d, "rows": "x"},
        lambda d: {**d, "errors": [3]},
        lambda d: {"key": d["key"]},
        lambda d: [d],
    ],
)
def test_a_tampered_catalog_cache_is_rebuilt(
    isolated_state: Path, damage: object, listed_once: tuple[str, str]
) -> None:
    env = {**os.environ, "BREAKFIX_STATE_DIR": str(isolated_state)}
    first_stdout, good_cache = listed_once
    cache = isolated_state / "catalog-cache.json"
    cache.write_text(json.dumps(damage(json.loads(good_cache))))  # type: ignore[operator]
    again = _lab("list", "--json", env=env)
    assert again.returncode == 0 and "Traceback" not in again.stderr, again.stderr
    assert json.loads(again.stdout) == json.loads(first_stdout)


# the state store ---------------------------------------------------------------------------------------
def _registered(isolated_state: Path) -> Path:
    store = State()
    store.add_cluster("c1", "/inv.yaml", "inventory", "m")
    store.close()
    return isolated_state / "state.db"


def test_a_new_store_is_never_zero_bytes(isolated_state: Path) -> None:
    State().close()
    assert (isolated_state / "state.db").stat().st_size > 0
    assert not list(isolated_state.glob(".state.db.*"))  # no temporary file left behind


def test_a_truncated_store_is_moved_aside_and_said(isolated_state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = _registered(isolated_state)
    db.write_bytes(b"")
    code, err = run(capsys, "cluster", "list")
    assert code == 1 and one_line(err), err
    assert "empty" in err and "lab cluster adopt" in err and "journal" in err and "broken" in err
    assert "`lab reset --take-over`" in err  # the copy of the journal on the cluster
    (aside,) = isolated_state.glob("state.db.corrupt-*")
    assert str(aside) in err and aside.stat().st_size == 0
    assert State().clusters() == []  # the next command starts a new one


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: b"this is not a database at all" * 200,
        lambda data: data[:100] + b"\x00" * 50 + data[150:],  # a damaged header
        lambda data: data[:4096] + b"\xa5" * (len(data) - 4096),  # damaged pages
    ],
)
def test_a_corrupt_store_is_moved_aside(
    isolated_state: Path, capsys: pytest.CaptureFixture[str], damage: object
) -> None:
    db = _registered(isolated_state)
    original = db.read_bytes()
    db.write_bytes(damage(original))  # type: ignore[operator]
    code, err = run(capsys, "cluster", "list")
    assert code == 1 and one_line(err) and "damaged" in err and "lab cluster adopt" in err, err
    (aside,) = isolated_state.glob("state.db.corrupt-*")
    assert aside.read_bytes() == damage(original)  # type: ignore[operator]


def test_a_healthy_store_keeps_its_data(isolated_state: Path) -> None:
    _registered(isolated_state)
    assert [c["name"] for c in State().clusters()] == ["c1"]
    assert not list(isolated_state.glob("*.corrupt-*"))


def test_a_store_that_is_a_folder(isolated_state: Path) -> None:
    (isolated_state / "state.db").mkdir()
    with pytest.raises(BreakfixError, match="is a folder"):
        State()


def test_a_read_only_store_is_one_line(
    isolated_state: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = _registered(isolated_state)
    os.chmod(db, 0o444)
    os.chmod(isolated_state, 0o555)
    try:
        if os.getuid() == 0:  # root may write anyway: let the store see what an ordinary user sees
            monkeypatch.setattr("breakfix.state.os.access", lambda path, mode: mode & os.W_OK == 0)
        code, err = run(capsys, "cluster", "list")
    finally:
        os.chmod(isolated_state, 0o755)
    assert code == 1 and one_line(err) and "read-only" in err and str(db) in err, err
    assert not list(isolated_state.glob("*.corrupt-*"))  # a read-only store is not damaged
