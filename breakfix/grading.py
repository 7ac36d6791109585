"""Run checks concurrently and turn crashes into `error` results, never tracebacks."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor

from breakfix.context import Context
from breakfix.durations import format_duration
from breakfix.errors import BreakfixError
from breakfix.results import CheckResult
from breakfix.steps import Step

log = logging.getLogger("breakfix")


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


def run_checks(ctx: Context, steps: list[Step]) -> list[CheckResult]:
    """Run every check at once (stability windows overlap), results in the lab's order."""
    if not steps:
        return []
    with ThreadPoolExecutor(max_workers=min(16, len(steps)), thread_name_prefix="check") as pool:
        return list(pool.map(lambda s: run_check(ctx, s), steps))


def confirmed(step: Step, result: CheckResult) -> bool:
    """Whether a confirm check shows what it expects: a pass, or (expect: fail) a real failure."""
    return result.status == step.expect


def wait_for(ctx: Context, steps: list[Step], what: str, poll: float = 3.0) -> list[bool]:
    """Re-run confirm checks until each shows what it expects or the longest `within` runs out."""
    limit = max((s.within for s in steps), default=120.0)
    start = time.monotonic()
    last_note = -10.0
    while True:
        results = run_checks(ctx, steps)
        shown = [confirmed(s, r) for s, r in zip(steps, results, strict=True)]
        elapsed = time.monotonic() - start
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
        time.sleep(poll)
