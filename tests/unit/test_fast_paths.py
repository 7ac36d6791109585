"""Fast paths of the `lab` command: a Tab on a lab id without loading the catalog, one lab read alone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from breakfix.catalog import load_one
from breakfix.catalog_ids import lab_ids
from breakfix.cli.entry import fast_complete
from breakfix.errors import UnknownLabError


def test_lab_ids_are_the_folders_that_hold_a_lab(tmp_path: Path) -> None:
    for name in ("b-lab", "a-lab", "Not_An_Id", "no-file"):
        (tmp_path / name).mkdir()
    for name in ("b-lab", "a-lab", "Not_An_Id"):
        (tmp_path / name / "lab.yaml").write_text("id: x\n")
    assert lab_ids([tmp_path]) == ["a-lab", "b-lab"]


def test_a_tab_on_a_lab_id_is_answered_from_the_folders(capsys: pytest.CaptureFixture[str]) -> None:
    env = {"_LAB_COMPLETE": "complete_bash", "COMP_WORDS": "lab show etcd-d", "COMP_CWORD": "2"}
    assert fast_complete(env)
    assert capsys.readouterr().out.splitlines() == ["etcd-datadir"]


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"_LAB_COMPLETE": "complete_zsh", "COMP_WORDS": "lab show e", "COMP_CWORD": "2"},
        {"_LAB_COMPLETE": "complete_bash", "COMP_WORDS": "lab sh", "COMP_CWORD": "1"},
        {"_LAB_COMPLETE": "complete_bash", "COMP_WORDS": "lab show --sp", "COMP_CWORD": "2"},
        {"_LAB_COMPLETE": "complete_bash", "COMP_WORDS": "lab grade x", "COMP_CWORD": "2"},
        {"_LAB_COMPLETE": "complete_bash", "COMP_WORDS": "lab show", "COMP_CWORD": "x"},
    ],
)
def test_any_other_tab_is_left_to_the_full_cli(env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert not fast_complete(env)
    assert capsys.readouterr().out == ""


def test_the_console_script_completes_without_importing_the_cli() -> None:
    code = (
        "import os, sys\n"
        "os.environ.update(_LAB_COMPLETE='complete_bash', COMP_WORDS='lab start pending-', COMP_CWORD='2')\n"
        "from breakfix.cli.entry import run\n"
        "try:\n    run()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('typer', 'pydantic', 'breakfix.cli.main', 'yaml') if m in sys.modules]\n"
        "print('heavy:', heavy, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == ["pending-taint"]
    assert "heavy: []" in done.stderr


def test_one_lab_is_read_alone_and_an_unknown_one_gets_close_names(tmp_path: Path) -> None:
    lab = load_one("etcd-datadir")
    assert lab.id == "etcd-datadir"
    with pytest.raises(UnknownLabError, match="etcd-datadir"):
        load_one("etcd-dataddir")
    with pytest.raises(UnknownLabError):
        load_one("../labs/etcd-datadir")  # not an id: never a path
