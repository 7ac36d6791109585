"""Steps are bound against function signatures when a lab loads."""

import pytest

from breakfix.steps import ALIASES, ENGINE_KEYS, StepBindError, available_steps, bind, render, resolve


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
        ("graders._images.same_image", {"a": "x", "b": "y"}, "grade", "private helper module"),  # no step
        ("breakers._manifests.get_flag", {}, "break", "private helper module"),
        ("graders.nomodule.x", {}, "grade", "no module"),
        ("graders.static_pod.stable", {"componnt": "etcd"}, "grade", "takes no argument 'componnt'"),
        ("graders.static_pod.stable", {}, "grade", "missing a required argument"),
        ("graders.static_pod.stable", {"component": "etcd", "stable_for": "soon"}, "grade", "stable_for"),
        ("graders.api.reachable", {"kube": "x"}, "grade", "provided by breakfix"),
        ("graders.api.reachable", {"weight": -1}, "grade", "weight"),
        ("graders.api.reachable", {"weight": 1}, "break", "weight: not a setting of break steps"),
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


# engine keys never reach a function, and a function never loses its own argument to them ----------------------
@pytest.fixture
def fixture_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BREAKFIX_STEP_MODULES", "tests.unit.step_fixtures")


@pytest.mark.usefixtures("fixture_steps")
@pytest.mark.parametrize(
    ("ref", "args", "section", "key"),
    [
        ("tests.unit.step_fixtures.waits", {"within": "15s", "expect": "fail"}, "confirm", "within"),
        ("tests.unit.step_fixtures.waits", {"within": "15s"}, "grade", "within"),  # not grade's, still ambiguous
        ("tests.unit.step_fixtures.weighs", {"weight": 2}, "grade", "weight"),
        ("tests.unit.step_fixtures.titled", {"title": "x"}, "break", "title"),
    ],
)
def test_short_form_refuses_an_engine_key_the_function_also_takes(
    ref: str, args: dict[str, object], section: str, key: str
) -> None:
    assert key in ENGINE_KEYS
    with pytest.raises(StepBindError, match=rf"^{key}: .* takes its own '{key}'.*long form \{{step: {ref}, args:"):
        bind(ref, args, section)


@pytest.mark.usefixtures("fixture_steps")
def test_long_form_keeps_the_function_arguments_apart() -> None:
    step = bind(
        "tests.unit.step_fixtures.waits", {"within": "15s"}, "confirm", settings={"within": 120.0, "expect": "fail"}
    )
    assert step.kwargs == {"within": 15.0} and step.within == 120.0 and step.expect == "fail"
    graded = bind("tests.unit.step_fixtures.weighs", {"weight": 5}, "grade", settings={"weight": 2, "title": "t"})
    assert graded.kwargs == {"weight": 5} and graded.weight == 2 and graded.title == "t"
    with pytest.raises(StepBindError, match="within: not a setting of grade steps"):
        bind("tests.unit.step_fixtures.waits", {}, "grade", settings={"within": 60.0})


def test_short_form_still_takes_engine_keys_when_nothing_collides() -> None:
    step = bind("graders.probe.new_pods_scheduled", {"wait_for": "15s", "within": "2m", "expect": "fail"}, "confirm")
    assert step.kwargs["wait_for"] == 15.0 and step.within == 120.0 and step.expect == "fail"


def test_no_shipped_breaker_or_grader_is_named_like_an_engine_key() -> None:
    """Their own arguments stay writable in the short form: no parameter takes a name breakfix reads."""
    clashes = [(info.ref, a.name) for info in available_steps() for a in info.args if a.name in ENGINE_KEYS]
    assert clashes == []


def test_every_alias_resolves() -> None:
    for alias, ref in ALIASES.items():
        assert resolve(alias) is resolve(ref), alias


@pytest.mark.parametrize("ref", ["graders.probe.passed", "graders.probe.CheckResult", "breakers.manifest.load_pod"])
def test_imported_helpers_are_not_steps(ref: str) -> None:
    with pytest.raises(StepBindError, match="has no function"):
        resolve(ref)
