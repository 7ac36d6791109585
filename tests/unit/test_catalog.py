"""Lab files are validated at load time; one broken lab never hides the others."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from breakfix.catalog import lab_roots, load_catalog, load_lab
from breakfix.errors import LabFileError, UnknownLabError

REPO = Path(__file__).resolve().parents[2]
GOOD = {
    "id": "demo",
    "title": "A demo lab",
    "domain": "troubleshooting",
    "difficulty": "easy",
    "time_limit": "5m",
    "task": "Fix the demo on {{ control_plane }} please.",
    "break": [{"breakers.files.write": {"path": "/tmp/x", "content": "broken"}}],
    "confirm": [{"graders.api.reachable": {"within": "10s"}}],
    "grade": [{"graders.api.reachable": {"weight": 2}}],
    "solve": [{"breakers.files.write": {"path": "/tmp/x", "content": "fixed"}}],
    "solution": "Write fixed.",
}


def write_lab(root: Path, data: object, folder: str = "demo") -> Path:
    path = root / folder / "lab.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def test_shipped_labs_all_load() -> None:
    catalog = load_catalog()
    assert not catalog.errors, [str(e) for e in catalog.errors]
    assert {"etcd-datadir", "apiserver-advertise-address", "svc-wrong-selector"} <= set(catalog.labs)
    for lab in catalog.labs.values():
        assert lab.spec.hints and lab.solution_text.strip() and lab.cheats, lab.id


def test_good_lab_loads(tmp_path: Path) -> None:
    lab = load_lab(write_lab(tmp_path, GOOD))
    assert lab.id == "demo" and lab.spec.time_limit == 300
    assert lab.steps["grade"][0].weight == 2


@pytest.mark.parametrize(
    ("change", "key", "message"),
    [
        ({"difficulty": "brutal"}, "difficulty", "Input should be"),
        ({"colour": "red"}, "colour", "Extra inputs"),
        ({"time_limit": "soon"}, "time_limit", "not a duration"),
        ({"id": "other"}, "id", "must match the folder"),
        ({"task": "Fix {{ nodez }} now please"}, "task", "unknown variable"),
        ({"grade": [{"graders.api.nope": {}}]}, "grade[0] graders.api.nope", "has no function"),
        (
            {"grade": [{"graders.api.reachable": {}, "graders.api.unreachable": {}}]},
            "grade",
            "step 0 must be one mapping",
        ),
        ({"solution": ""}, "solution", "no solution.md"),
        ({"requires": ["gpu"]}, "requires.0", "Input should be"),
        ({"cheats": {"x": [{"graders.api.reachable": {}, "graders.api.unreachable": {}}]}}, "cheats", "one mapping"),
        ({"cheats": {"x": []}}, "cheats", "has no steps"),
        ({"setup": [{"apply": {"file": "manifests/missing.yaml"}}]}, "setup[0] apply.file", "does not exist"),
    ],
)
def test_bad_lab_names_file_and_key(tmp_path: Path, change: dict[str, object], key: str, message: str) -> None:
    path = write_lab(tmp_path, {**GOOD, **change})
    with pytest.raises(LabFileError) as err:
        load_lab(path)
    assert err.value.key == key
    assert message in err.value.problem
    assert str(path) in str(err.value)


def test_one_broken_lab_does_not_hide_the_rest(tmp_path: Path) -> None:
    write_lab(tmp_path, GOOD)
    write_lab(tmp_path, "id: [unclosed", folder="broken")
    catalog = load_catalog([tmp_path])
    assert list(catalog.labs) == ["demo"]
    assert len(catalog.errors) == 1 and "broken/lab.yaml" in catalog.errors[0].path
    with pytest.raises(LabFileError):
        catalog.get("broken")  # asking for the broken lab says why it is broken


def test_unknown_lab_suggests_close_names() -> None:
    with pytest.raises(UnknownLabError) as err:
        load_catalog().get("etcd-dtadir")
    assert err.value.suggestions[0] == "etcd-datadir"
    with pytest.raises(UnknownLabError) as err2:
        load_catalog().get("selector")
    assert "svc-wrong-selector" in err2.value.suggestions


def test_extra_lab_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_lab(tmp_path, GOOD)
    monkeypatch.setenv("BREAKFIX_LABS_PATH", str(tmp_path))
    assert tmp_path in lab_roots()
    assert "demo" in load_catalog().labs


def test_schema_file_is_current() -> None:
    from breakfix.model import LabFile

    shipped = json.loads((REPO / "docs" / "lab.schema.json").read_text())
    assert shipped == LabFile.model_json_schema(by_alias=True), "run `lab schema > docs/lab.schema.json`"


def test_wheel_ships_the_labs(tmp_path: Path) -> None:
    """A plain (non-editable) install finds every lab: the wheel carries labs/ inside the package."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    wheel = next(tmp_path.glob("breakfix-*.whl"))
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    assert "breakfix/_labs/etcd-datadir/lab.yaml" in names
    assert "breakers/manifest.py" in names and "graders/api.py" in names
    # installed for real (not editable) into its own folder, run from elsewhere: every lab is found
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    env = {**os.environ, "PYTHONPATH": str(target), "BREAKFIX_STATE_DIR": str(tmp_path)}
    run = [sys.executable, "-c", "from breakfix.cli.entry import run; run()", "list", "--json"]
    proc = subprocess.run(run, cwd=tmp_path, capture_output=True, text=True, check=True, env=env)
    ids = {lab["id"] for lab in json.loads(proc.stdout)}
    assert {"etcd-datadir", "apiserver-advertise-address", "svc-wrong-selector"} <= ids
    origin = subprocess.run(
        [sys.executable, "-c", "import breakfix; print(breakfix.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout
    assert origin.startswith(str(target))  # the installed copy, not the source tree


# property test: whatever the file holds, loading ends in a LabFileError or a lab, never a traceback
yaml_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20))
yaml_values = st.recursive(
    yaml_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from([*GOOD.keys(), "cheats", "hints", "setup", "requires"]), value=yaml_values)
def test_mutated_labs_fail_cleanly(tmp_path: Path, key: str, value: object) -> None:
    path = write_lab(tmp_path, {**GOOD, key: value})
    try:
        load_lab(path)
    except LabFileError as err:
        assert err.path == str(path)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200))
def test_garbage_files_fail_cleanly(tmp_path: Path, text: str) -> None:
    path = write_lab(tmp_path, text)
    with pytest.raises(LabFileError):
        load_lab(path)
