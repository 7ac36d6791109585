"""Checks run concurrently; crashes and wrong return types become `error`, never tracebacks."""

from __future__ import annotations

import pytest

from breakfix.grading import run_checks
from breakfix.steps import bind
from tests.fakes import FakeKube, FakeTransport
from tests.unit.contexts import make_ctx


@pytest.fixture(autouse=True)
def _test_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BREAKFIX_STEP_MODULES", "tests.steps")


def test_checks_run_at_the_same_time() -> None:
    ctx = make_ctx(FakeTransport())
    steps = [bind("tests.steps.meet", {"name": "grading-concurrency", "parties": 3}, "grade") for _ in range(3)]
    assert [r.status for r in run_checks(ctx, steps)] == ["pass", "pass", "pass"]


def test_crash_and_bad_return_are_errors() -> None:
    ctx = make_ctx(FakeTransport())
    results = run_checks(
        ctx,
        [
            bind("tests.steps.crash", {}, "grade"),
            bind("tests.steps.returns_wrong_type", {}, "grade"),
            bind("tests.steps.ok", {"weight": 2}, "grade"),
        ],
    )
    assert [r.status for r in results] == ["error", "error", "pass"]
    assert "ZeroDivisionError" in results[0].message and results[2].weight == 2


def test_unreachable_api_is_a_fail_with_a_message() -> None:
    kube = FakeKube()
    kube.down = True
    ctx = make_ctx(FakeTransport(), kube)
    (result,) = run_checks(ctx, [bind("graders.api.reachable", {}, "grade")])
    assert result.status == "fail" and "fake outage" in result.message


def test_sentinel_checks() -> None:
    kube = FakeKube({"ConfigMap"})
    ctx = make_ctx(FakeTransport(), kube)
    obj = kube.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ledger", "namespace": "default"}})
    step = bind("graders.api.sentinel_intact", {"name": "ledger"}, "grade")
    assert run_checks(ctx, [step])[0].status == "error"  # nothing recorded at setup
    ctx.state.set("sentinel:default/ledger", obj["metadata"]["uid"])
    assert run_checks(ctx, [step])[0].status == "pass"
    kube.delete("v1", "ConfigMap", "ledger", "default")
    kube.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ledger", "namespace": "default"}})
    result = run_checks(ctx, [step])[0]
    assert result.status == "fail" and "recreated" in result.message


def test_parallel_keeps_order_raises_the_first_error_and_starts_nothing_after_it() -> None:
    import threading
    import time

    from breakfix.grading import parallel

    assert parallel(lambda x: x * 2, [3, 1, 2], workers=2) == [6, 2, 4]
    ran: list[int] = []

    def work(x: int) -> int:
        ran.append(x)
        if x == 0:
            raise ValueError("boom")
        time.sleep(0.2)
        return x

    with pytest.raises(ValueError, match="boom"):
        parallel(work, [0, 1, 2, 3, 4, 5], workers=1)
    time.sleep(0.3)
    assert ran == [0]  # the one worker saw the caller give up and took nothing more
    assert all(t.daemon for t in threading.enumerate() if t.name.startswith("check-"))
