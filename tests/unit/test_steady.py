"""The shared hold-for-a-while loop of checks."""

from __future__ import annotations

from collections.abc import Callable

from breakfix.results import CheckResult, failed
from graders._steady import Sample, holds


def samples(*values: CheckResult | Sample[int]) -> Callable[[], CheckResult | Sample[int]]:
    """A sampler that hands out VALUES in order and refuses to be called once more."""
    queue = list(values)

    def sample() -> CheckResult | Sample[int]:
        assert queue, "sampled more often than the test expected"
        return queue.pop(0)

    return sample


def differs(first: int, now: int) -> CheckResult | None:
    return None if first == now else failed(f"moved from {first} to {now}")


def test_without_a_window_one_good_sample_passes_with_its_message() -> None:
    result = holds(samples(Sample(1, "all good")), 0, 0, differs)
    assert result.status == "pass" and result.message == "all good"


def test_a_bad_sample_fails_at_once() -> None:
    result = holds(samples(failed("down")), 10, 0, differs)
    assert result.status == "fail" and result.message == "down"


def test_a_change_during_the_window_fails() -> None:
    result = holds(samples(Sample(1, "ok"), Sample(1, "ok"), Sample(2, "ok")), 10, 0, differs)
    assert result.status == "fail" and result.message == "moved from 1 to 2"


def test_a_later_bad_sample_fails_even_after_good_ones() -> None:
    result = holds(samples(Sample(1, "ok"), failed("not Ready")), 10, 0, differs)
    assert result.message == "not Ready"


def test_the_window_passes_with_the_last_message() -> None:
    result = holds(samples(*[Sample(1, f"look {i}") for i in range(1000)]), 0.05, 0.01, differs)
    assert result.status == "pass" and result.message.startswith("look ")
