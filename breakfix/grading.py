"""Run checks concurrently and turn crashes into `error` results, never tracebacks."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from breakfix.clock import CLOCK
from breakfix.context import Context
from breakfix.durations import format_duration
from breakfix.errors import BreakfixError
from breakfix.results import CheckResult
from breakfix.steps import Step

# a library's logger: what it logs is the application's to show; set here, where it logs, rather than when
# breakfix is imported (every `lab`, even a cached `lab list`, would pay for importing logging)
log = logging.getLogger("breakfix")
log.addHandler(logging.NullHandler())
T = TypeVar("T")
R = TypeVar("R")


def run_check(ctx: Context, step: Step) -> CheckResult:
    """Run one grader; a crash or an unreachable cluster becomes an `error` result."""
    start = time.monotonic()
    try:
        result = ctx.call(step)
        if not isinstance(result, CheckResult):
            result = CheckResult("error", f"{step.ref} returned {type(result).__name__}, not a CheckResult")
    except BreakfixError as exc:
        result = CheckResult("error", str(exc))
    except Exception as exc:  # a grader bug must not crash grading
        log.debug("grader %s crashed", step.ref, exc_info=True)
        result = CheckResult("error", f"{step.ref} crashed: {type(exc).__name__}: {exc}")
    result.name = step.title
    result.weight = step.weight
    result.seconds = round(time.monotonic() - start, 2)
    return result


def parallel(fn: Callable[[T], R], items: Sequence[T], workers: int = 16, name: str = "check") -> list[R]:
    """FN applied to every item in daemon threads, results in order; the first exception is raised.

    Ctrl-C returns at once: a worker blocked on a node or the API server is left behind (a daemon
    thread, gone with the process), where a thread pool would wait for it before the process could exit."""
    if not items:
        return []
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    for i in range(len(items)):
        todo.put(i)
    finished: queue.SimpleQueue[tuple[int, R | None, BaseException | None]] = queue.SimpleQueue()

    stop = threading.Event()  # set when the caller gives up (Ctrl-C, a failure): start nothing new

    def work() -> None:
        while not stop.is_set():
            try:
                i = todo.get_nowait()
            except queue.Empty:
                return
            try:
                finished.put((i, fn(items[i]), None))
            except BaseException as exc:  # handed to the waiting thread, which raises it
                stop.set()
                finished.put((i, None, exc))

    for n in range(min(workers, len(items))):
        threading.Thread(target=work, name=f"{name}-{n}", daemon=True).start()
    results: dict[int, R] = {}
    try:
        while len(results) < len(items):
            try:
                i, value, error = finished.get(timeout=0.2)  # short waits: Ctrl-C is seen at once
            except queue.Empty:
                continue
            if error is not None:
                raise error
            results[i] = value  # type: ignore[assignment]
    finally:
        stop.set()
    return [results[i] for i in range(len(items))]


def run_checks(ctx: Context, steps: list[Step]) -> list[CheckResult]:
    """Run every check at once (stability windows overlap), results in the lab's order."""
    return parallel(lambda s: run_check(ctx, s), steps)


def confirmed(step: Step, result: CheckResult) -> bool:
    """Whether a confirm check shows what it expects: a pass, or (expect: fail) a real failure."""
    return result.status == step.expect


def fault_live(ctx: Context, steps: list[Step]) -> bool:
    """Whether the lab's confirm checks, run once, all still show the fault (False for a lab without any)."""
    return bool(steps) and all(confirmed(s, r) for s, r in zip(steps, run_checks(ctx, steps), strict=True))


def wait_for(ctx: Context, steps: list[Step], what: str, poll: float = 3.0) -> list[bool]:
    """Re-run confirm checks until each shows what it expects or the longest `within` runs out."""
    limit = max((s.within for s in steps), default=120.0)
    start = CLOCK.monotonic()
    last_note = -10.0
    while True:
        results = run_checks(ctx, steps)
        shown = [confirmed(s, r) for s, r in zip(steps, results, strict=True)]
        elapsed = CLOCK.monotonic() - start
        if all(shown) or elapsed > limit:
            if not all(shown):
                step, result = next((s, r) for s, r, ok in zip(steps, results, shown, strict=True) if not ok)
                if ctx.spoilers:
                    ctx.log(
                        f"  not shown: {step.title} (expected {step.expect}, got {result.status}: {result.message})"
                    )
            return shown
        if elapsed - last_note >= 10:
            step, result = next((s, r) for s, r, ok in zip(steps, results, shown, strict=True) if not ok)
            detail = f": {step.title}: {result.message}" if ctx.spoilers else ""
            ctx.log(f"  {what} ({format_duration(elapsed)}/{format_duration(limit)}){detail}")
            last_note = elapsed
        CLOCK.sleep(poll)
