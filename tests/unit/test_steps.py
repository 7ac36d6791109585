"""Steps are bound against function signatures when a lab loads."""

import pytest

from breakfix.steps import StepBindError, bind, render


def test_bind_converts_durations_and_defaults_node() -> None:
    step = bind("graders.static_pod.stable", {"component": "etcd", "stable_for": "1m", "weight": 3}, "grade")
    assert step.kwargs == {"component": "etcd", "stable_for": 60.0, "node": "control-plane"}
    assert step.weight == 3


def test_alias() -> None:
    assert bind("sentinel", {"name": "x"}, "setup").ref == "breakers.kube.create_sentinel"


@pytest.mark.parametrize(
    ("ref", "args", "section", "message"),
    [
        ("graders.api.nope", {}, "grade", "has no function"),
        ("os.system", {}, "grade", "is not a function of"),
        ("graders.nomodule.x", {}, "grade", "no module"),
        ("graders.static_pod.stable", {"componnt": "etcd"}, "grade", "takes no argument 'componnt'"),
        ("graders.static_pod.stable", {}, "grade", "missing a required argument"),
        ("graders.static_pod.stable", {"component": "etcd", "stable_for": "soon"}, "grade", "stable_for"),
        ("graders.api.reachable", {"kube": "x"}, "grade", "provided by breakfix"),
        ("graders.api.reachable", {"weight": -1}, "grade", "weight"),
        ("graders.api.reachable", {"weight": 1}, "break", "takes no argument 'weight'"),
        ("graders.api.reachable", {"within": "1m", "expect": "maybe"}, "confirm", "expect"),
        (
            "breakers.manifest.set_flag",
            {"manifest": "etcd", "flag": "--x", "value": "{{ nope }}"},
            "break",
            "unknown template variable",
        ),
    ],
)
def test_bind_errors(ref: str, args: dict[str, object], section: str, message: str) -> None:
    with pytest.raises(StepBindError, match=message):
        bind(ref, args, section)


def test_own_step_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(StepBindError):
        bind("tests.steps.ok", {}, "grade")
    monkeypatch.setenv("BREAKFIX_STEP_MODULES", "tests.steps")
    assert bind("tests.steps.ok", {}, "grade").ref == "tests.steps.ok"


def test_render_nested() -> None:
    assert render({"a": ["{{ worker_ip }}:80", 3]}, {"worker_ip": "10.1.1.1"}) == {"a": ["10.1.1.1:80", 3]}
