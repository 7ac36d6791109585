"""Lab authoring that cannot go wrong quietly: injected values, `lab steps`, docs/steps.md, the JSON Schema."""

from __future__ import annotations

import ast
import inspect
import json
import typing
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from breakfix import context, steps
from breakfix.catalog import load_catalog
from breakfix.cli.main import main
from breakfix.cli.steps import REGENERATE, markdown
from breakfix.injected import BY_NAME, NOT_SETTABLE, REGISTRY
from breakfix.steps import available_steps, bind, lab_value, type_name
from tests.fakes import FakeTransport
from tests.unit.contexts import make_ctx

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / "docs" / "lab.schema.json").read_text())
#: one validator for every check below: jsonschema.validate would check the (large) schema itself each time
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


# one registry of what the engine injects ------------------------------------------------------------------------
def test_binding_and_context_derive_from_the_registry() -> None:
    assert set(BY_NAME) == steps.INJECTED
    assert set(context.PROVIDERS) == NOT_SETTABLE == set(BY_NAME) - {"node"}
    assert [i.name for i in REGISTRY if i.settable] == ["node"]


def test_context_provides_every_registered_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BREAKFIX_STEP_MODULES", "tests.unit.step_fixtures")
    ctx = make_ctx(FakeTransport())
    got: dict[str, Any] = ctx.call(bind("tests.unit.step_fixtures.everything", {}, "setup"))
    assert set(got) == set(BY_NAME)
    assert got["node"].name == "cp1" and got["changes"].phase == ctx.phase and got["kube"] is ctx.kube
    assert {k: type_name(type(v)) for k, v in got.items() if k in ("nodes", "images")} == {
        "nodes": "list",
        "images": "dict",
    }


def test_every_step_declares_injected_values_with_the_registry_type() -> None:
    """A grader that asks for `node: str` or `kube: dict` would get something else than it declares."""
    wrong = []
    for info in available_steps(roots=("breakers.", "graders.")):
        fn = steps.resolve(info.ref)
        hints = typing.get_type_hints(fn)
        for name in inspect.signature(fn).parameters:
            if name in BY_NAME and name in hints:
                declared = type_name(hints[name]).removesuffix(" | None")
                if declared != BY_NAME[name].type:
                    wrong.append(f"{info.ref}: {name}: {declared} (breakfix gives {BY_NAME[name].type})")
    assert wrong == []


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    }


def test_no_import_cycle_between_changes_and_context() -> None:
    """ChangeLog names what it uses (a Protocol); not even a TYPE_CHECKING import of the context remains."""
    assert "breakfix.context" not in _imports(REPO / "breakfix" / "changes.py")
    assert "breakfix.changes" in _imports(REPO / "breakfix" / "context.py")
    assert not _imports(REPO / "breakfix" / "injected.py") - {"__future__", "dataclasses"}


# `lab steps` and docs/steps.md --------------------------------------------------------------------------------
def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_lab_steps_lists_every_public_step_with_its_lab_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "steps", "-o", "json")
    listed = {s["name"]: s for s in json.loads(out)}
    assert code == 0
    assert {"breakers.manifest.set_flag", "graders.probe.new_pods_scheduled", "graders.api.reachable"} <= set(listed)
    assert not [n for n in listed if n.rpartition(".")[2].startswith("_") or "._" in n]
    assert "graders.probe.passed" not in listed  # imported helpers are not steps
    probe = listed["graders.probe.new_pods_scheduled"]
    assert probe["kind"] == "grader" and probe["injected"] == ["kube", "images", "cluster"]
    assert probe["args"] == [
        {"name": "wait_for", "type": "duration", "required": False, "default": "30s"},
        {"name": "namespace", "type": "str", "required": False, "default": "default"},
    ]
    assert probe["doc"].startswith("A new pod is assigned")
    flag = listed["breakers.manifest.set_flag"]
    assert flag["kind"] == "breaker" and flag["args"][0] == {
        "name": "node",
        "type": "node",
        "required": False,
        "default": "control-plane",
    }
    assert {"name": "flag", "type": "str", "required": True} in flag["args"] and flag["injected"] == ["changes"]


def test_lab_steps_filters_by_prefix_and_prints_signatures(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "steps", "graders.probe")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == 'graders.probe.new_pods_scheduled(wait_for: duration = 30s, namespace: str = "default")'
    assert lines[1].strip().startswith("A new pod is assigned")
    assert all(line.startswith(("graders.probe.", "    ")) for line in lines)
    code, _, err = run(capsys, "steps", "graders.nothing")
    assert code == 1 and "no breaker or grader starts with 'graders.nothing'" in err


@pytest.mark.parametrize(
    ("value", "type_", "shown"),
    [
        (30.0, "duration", "30s"),
        (120.0, "duration", "2m"),
        (7200, "duration", "2h"),
        (90.0, "duration", "90s"),
        (1.5, "duration", "1.5s"),
        (2**30, "quantity", "1Gi"),
        (None, "str | None", "null"),
        ("x", "str", '"x"'),
        (False, "bool", "false"),
    ],
)
def test_defaults_are_shown_as_a_lab_writes_them(value: object, type_: str, shown: str) -> None:
    assert lab_value(value, type_) == shown


def test_steps_reference_is_current() -> None:
    shipped = (REPO / "docs" / "steps.md").read_text()
    assert shipped == markdown(), f"docs/steps.md is out of date: run `{REGENERATE}`"


def test_steps_reference_documents_every_step_and_setting() -> None:
    page = markdown()
    for info in available_steps(roots=("breakers.", "graders.")):
        if info.kind != "helper":
            assert f"`{info.ref.rpartition('.')[2]}(" in page, info.ref
            overview = page.split("## Overview", 1)[1].split("\n## ", 1)[0]
            module, _, name = info.ref.rpartition(".")
            assert f"| `{module}` |" in overview and f"`{name}`" in overview, info.ref  # the generated overview
    for key in steps.ENGINE_KEYS | set(BY_NAME) | set(steps.ALIASES):
        assert f"`{key}`" in page, key
    assert "(steps.md)" in (REPO / "docs" / "writing-labs.md").read_text()


# the JSON Schema that editors use -----------------------------------------------------------------------------
def test_every_shipped_lab_file_fits_the_schema() -> None:
    labs = sorted((REPO / "labs").glob("*/lab.yaml"))
    assert len(labs) >= 10
    for path in labs:
        VALIDATOR.validate(yaml.safe_load(path.read_text()))  # raises, naming the lab's key


def test_schema_takes_durations_as_text_and_both_step_forms() -> None:
    lab = yaml.safe_load((REPO / "labs" / "scheduler-kubeconfig" / "lab.yaml").read_text())
    long_form = {"step": "graders.probe.new_pods_scheduled", "args": {"wait_for": "15s"}, "within": "2m"}
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    VALIDATOR.validate({**lab, "time_limit": "1h30m", "confirm": [{**long_form, "expect": "fail"}]})
    VALIDATOR.validate({**lab, "time_limit": 900})
    templated = {"graders.workload.available": {"name": "{{ app }}", "stable_for": "30s", "poll": "{{ poll }}"}}
    VALIDATOR.validate({**lab, "grade": [templated, {"sentinel": {"name": "ledger"}}, {"my.own.step": None}]})
    for bad in (
        {"time_limit": "soon"},
        {"confirm": [{**long_form, "within": "later"}]},
        {"confirm": [{**long_form, "colour": "red"}]},
        {"grade": [{"graders.api.reachable": {}, "graders.api.unreachable": {}}]},
        {"grade": [{"graders.api.reachable": "weight 2"}]},
        {"grade": [{"graders.workload.available": {"name": "web", "namespce": "shop"}}]},  # an argument typo
        {"grade": [{"graders.workload.available": {"name": 5}}]},  # a number where text is wanted
        {"grade": [{"graders.workload.available": {"namespace": "shop"}}]},  # its required name missing
        {"grade": [{"graders.workload.available": {"name": "web", "stable_for": "soon"}}]},  # not a duration
    ):
        with pytest.raises(jsonschema.ValidationError):
            VALIDATOR.validate({**lab, **bad})


def test_shipped_labs_and_schema_agree_with_the_loader() -> None:
    assert not load_catalog().errors


@pytest.mark.parametrize(
    "text", ["15m", "1h30m", "1h 30m", "500ms", "1.5s", "20 s", "90", "soon", "", "m", "15x", "-5s", "1h30"]
)
def test_schema_duration_pattern_agrees_with_the_loader(text: str) -> None:
    import re

    from breakfix.durations import parse_duration
    from breakfix.model import DURATION_PATTERN

    try:
        parse_duration(text)
        loads = True
    except ValueError:
        loads = False
    assert bool(re.match(DURATION_PATTERN, text)) == loads
