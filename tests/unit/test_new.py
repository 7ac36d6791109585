"""`lab new`: a skeleton (or a copy of a lab) that the catalog loads at once, written where the user may write."""

from __future__ import annotations

from pathlib import Path

import pytest

from breakfix.catalog import load_catalog
from breakfix.cli.main import main
from breakfix.paths import lab_roots
from breakfix.scaffold import writable_root

REPO_LABS = Path(__file__).resolve().parents[2] / "labs"


@pytest.fixture
def labs_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """New labs go to a tmp folder, never into the repository's labs/."""
    monkeypatch.setenv("BREAKFIX_LABS_PATH", str(tmp_path))
    return tmp_path


def test_new_writes_a_skeleton_that_loads(labs_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["new", "demo"]) == 0
    assert str(labs_path / "demo") in capsys.readouterr().out  # says where
    assert {p.name for p in (labs_path / "demo").iterdir()} == {"lab.yaml", "solution.md", "manifests"}
    assert (labs_path / "demo" / "manifests" / "app.yaml").is_file()
    catalog = load_catalog()
    assert catalog.errors == []
    lab = catalog.get("demo")
    assert lab.folder == labs_path / "demo"
    assert len(lab.cheats) >= 2 and len(lab.alternatives) >= 1
    assert "TODO" in (labs_path / "demo" / "lab.yaml").read_text()
    assert "name: lab-demo" in (labs_path / "demo" / "manifests" / "app.yaml").read_text()  # a namespace of its own
    assert not (REPO_LABS / "demo").exists()


def test_new_like_copies_a_lab_with_its_id_and_title_adapted(labs_path: Path) -> None:
    assert main(["new", "demo2", "--like", "svc-wrong-selector"]) == 0
    catalog = load_catalog()
    assert catalog.errors == []
    lab, original = catalog.get("demo2"), catalog.get("svc-wrong-selector")
    assert lab.spec.title != original.spec.title and "demo2" in lab.spec.title
    assert list(lab.cheats) == list(original.cheats) and list(lab.alternatives) == list(original.alternatives)
    assert (labs_path / "demo2" / "manifests" / "app.yaml").read_text() == (
        original.folder / "manifests" / "app.yaml"
    ).read_text()
    assert not (labs_path / "demo2" / "verified.json").exists()  # a proof belongs to its own lab
    assert "copied from svc-wrong-selector" in (labs_path / "demo2" / "lab.yaml").read_text()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["new", "svc-wrong-selector"], "already exists"),
        (["new", "Bad_Id"], "bad lab id"),
        (["new", "demo3", "--like", "svc-wrong-selectr"], "svc-wrong-selector"),
    ],
)
def test_new_refuses_in_one_line(
    labs_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], words: str
) -> None:
    assert main(args) != 0
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1
    assert list(labs_path.iterdir()) == []


def test_new_refuses_a_folder_that_is_there(labs_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (labs_path / "demo").mkdir()
    assert main(["new", "demo"]) == 1
    assert "already exists" in capsys.readouterr().err


def test_labs_go_to_the_first_writable_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocked, mine = tmp_path / "a-file" / "labs", tmp_path / "mine"  # a file in the way: no folder there, even as root
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("BREAKFIX_LABS_PATH", f"{blocked}:{mine}")
    assert writable_root() == mine  # created on demand
    monkeypatch.delenv("BREAKFIX_LABS_PATH")
    assert writable_root() == lab_roots()[0]  # no folder of the user's: the built-in one
