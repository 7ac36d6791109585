"""Lab, exam and inventory files are bounded before parsing: size, encoding, aliases; every error is one line."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from breakfix.catalog import load_catalog, load_lab
from breakfix.cli.main import main
from breakfix.errors import BreakfixError, ClusterError, LabFileError
from breakfix.exam.model import load_exam
from breakfix.inventory import load_inventory
from tests.unit.test_catalog import GOOD, write_lab

BOMB = """id: demo
title: A demo lab
a: &a [x, x, x, x, x, x, x, x, x, x]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]
break:
  - breakers.files.write: {path: /tmp/x, content: *i}
"""


def test_a_lab_file_that_is_not_utf8_is_one_error_and_the_rest_load(tmp_path: Path) -> None:
    write_lab(tmp_path, GOOD)
    bad = tmp_path / "latin" / "lab.yaml"
    bad.parent.mkdir()
    bad.write_bytes(yaml.safe_dump({**GOOD, "id": "latin"}).encode() + b"# caf\xe9\n" + b"\xff" * 10_000)
    catalog = load_catalog([tmp_path])
    assert list(catalog.labs) == ["demo"]
    (err,) = catalog.errors
    assert "latin/lab.yaml" in str(err) and "not UTF-8" in str(err) and "byte " in str(err)
    assert len(str(err)) < 400 and "\n" not in str(err)


def test_a_solution_that_is_not_utf8_is_one_error(tmp_path: Path) -> None:
    path = write_lab(tmp_path, {**GOOD, "solution": ""})
    (path.parent / "solution.md").write_bytes(b"Fix it \xff\xfe")
    catalog = load_catalog([tmp_path])
    (err,) = catalog.errors
    assert "solution.md" in str(err) and "not UTF-8" in str(err) and not catalog.labs


def test_a_lab_file_error_is_always_one_bounded_line() -> None:
    err = LabFileError("lab.yaml", "grade[0]\nx", "first\n  second\r\n" + "z" * 2000)
    assert str(err).startswith("lab.yaml: grade[0] x: first second zzz") and "\n" not in str(err)
    assert len(str(err)) < 600 and err.problem.endswith("...")


def test_an_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    path = write_lab(tmp_path, BOMB)
    assert path.stat().st_size < 1024
    began = time.monotonic()
    with pytest.raises(LabFileError, match="aliases"):
        load_lab(path)
    assert time.monotonic() - began < 5


def test_a_few_aliases_are_still_fine(tmp_path: Path) -> None:
    inv = tmp_path / "inv.yaml"
    inv.write_text("all:\n  vars: &v {ansible_user: root}\n  hosts: {a: *v, b: *v}\n")
    assert {n.name for n in load_inventory(inv).nodes} == {"a", "b"}


def test_a_huge_file_is_not_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "demo" / "lab.yaml"
    path.parent.mkdir()
    with path.open("wb") as fh:
        fh.truncate(50 << 20)  # 50 MB (sparse)
    with pytest.raises(LabFileError, match="larger than 1024 KiB"):
        load_lab(path)


def test_a_fifo_or_device_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "exam.yaml"
    os.mkfifo(fifo)
    with pytest.raises(LabFileError, match="not a regular file"):
        load_exam(fifo)
    with pytest.raises(ClusterError, match="not a regular file"):
        load_inventory("/dev/zero")


def test_a_binary_exam_file_and_inventory_are_one_line(tmp_path: Path) -> None:
    exam = tmp_path / "exam.yaml"
    exam.write_bytes(os.urandom(256) + b"\xff\xfe")
    with pytest.raises(LabFileError, match="not UTF-8"):
        load_exam(exam)
    inv = tmp_path / "inv.yaml"
    inv.write_bytes(b"all: {}\n\x80\x81")
    with pytest.raises(ClusterError, match=r"inv.yaml: not UTF-8 text \(byte 8, line 2"):
        load_inventory(inv)


@pytest.mark.parametrize(
    "rel",
    ["../../../etc/passwd", "/etc/passwd", "manifests/../../other/x.yaml", "link.yaml"],
)
@pytest.mark.parametrize("section", ["setup", "break", "solve"])
def test_files_named_by_a_lab_stay_inside_its_folder(tmp_path: Path, rel: str, section: str) -> None:
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x.yaml").write_text("kind: ConfigMap\n")
    path = write_lab(tmp_path, {**GOOD, section: [{"apply": {"file": rel}}]})
    (path.parent / "link.yaml").symlink_to(tmp_path / "other" / "x.yaml")
    with pytest.raises(LabFileError) as err:
        load_lab(path)
    assert err.value.key == f"{section}[0] apply.file" and "outside the lab folder" in err.value.problem


def test_a_manifest_that_is_not_text_is_refused_at_load_time(tmp_path: Path) -> None:
    path = write_lab(tmp_path, {**GOOD, "cheats": {"x": [{"apply": {"file": "m.yaml"}}]}})
    (path.parent / "m.yaml").write_bytes(b"kind: ConfigMap\n\xc3")
    with pytest.raises(LabFileError) as err:
        load_lab(path)
    assert err.value.key == "cheats.x[0] apply.file" and "m.yaml: not UTF-8" in err.value.problem


def test_a_symlink_inside_the_folder_is_fine(tmp_path: Path) -> None:
    path = write_lab(tmp_path, {**GOOD, "setup": [{"apply": {"file": "link.yaml"}}]})
    (path.parent / "manifests").mkdir()
    (path.parent / "manifests" / "cm.yaml").write_text("kind: ConfigMap\n")
    (path.parent / "link.yaml").symlink_to("manifests/cm.yaml")
    assert load_lab(path).steps["setup"]


# fuzz ------------------------------------------------------------------------------------------------
_fragments = st.sampled_from(
    [
        yaml.safe_dump(GOOD),
        "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n",
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n",
        "all: {vars: {ansible_port: abc}, hosts: {a: {ansible_port: '22x'}}}\n",
        "all: {vars: [1, 2], children: [x]}\n",
        "all: {hosts: [a, b]}\n",
        "name: week-1\nduration: 30m\nlabs: [x]\nstudents: [{name: a, cluster: c}]\n",
        "students: 12\n",
        "break: [{apply: {file: ../../x}}]\n",
        "x: !!python/object:os.system [id]\n",
        "[" * 200,
        "- " * 300,
        "\t\x00\x07",
        "é ü 漢字\n",
        "? [a]\n: b\n",
        "",
    ]
)
_blobs = st.one_of(
    st.lists(_fragments, max_size=4).map(lambda parts: "".join(parts).encode()),
    st.binary(max_size=300),
    st.lists(_fragments, max_size=3).map(lambda parts: "".join(parts).encode("utf-16")),
    st.tuples(st.lists(_fragments, max_size=3), st.binary(max_size=20)).map(lambda t: "".join(t[0]).encode() + t[1]),
)


@settings(max_examples=60, deadline=5000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(blob=_blobs)
def test_fuzz_lab_exam_and_inventory_files_fail_as_one_line(tmp_path: Path, blob: bytes) -> None:
    lab = tmp_path / "demo" / "lab.yaml"
    lab.parent.mkdir(exist_ok=True)
    lab.write_bytes(blob)
    for load in (load_lab, load_exam, load_inventory):
        began = time.monotonic()
        try:
            load(lab)  # type: ignore[operator]
        except BreakfixError as exc:
            assert "\n" not in str(exc) and len(str(exc)) < 1000, str(exc)
        assert time.monotonic() - began < 5
    catalog = load_catalog([tmp_path])
    assert len(catalog.labs) + len(catalog.errors) == 1


@settings(max_examples=8, deadline=20000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(blob=_blobs)
def test_fuzz_the_cli_never_exits_3(
    tmp_path: Path, blob: bytes, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lab = tmp_path / "demo" / "lab.yaml"
    lab.parent.mkdir(exist_ok=True)
    lab.write_bytes(blob)
    monkeypatch.setenv("BREAKFIX_LABS_PATH", str(tmp_path))
    for args in (["list"], ["show", "demo"], ["cluster", "adopt", str(lab), "--yes"], ["exam", "start", str(lab)]):
        code = main(args)
        err = capsys.readouterr().err
        assert code in (0, 1, 2), (args, err)
        assert "Traceback" not in err and err.count("\n") <= 2 + len(err.split("warning:")), err
