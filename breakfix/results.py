"""Check results: what every grader returns."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

Status = Literal["pass", "fail", "error"]
#: What a failing check says while the fault is live (its own message would name the fault).
HELD_BACK = "not yet (details appear once the fault itself is fixed; `lab hint` helps)"


@dataclass
class CheckResult:
    """One check: pass, fail or error, with a message a student can act on."""

    status: Status
    message: str
    hint: str = ""
    name: str = ""
    weight: int = 1
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when the check passed."""
        return self.status == "pass"

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def passed(message: str) -> CheckResult:
    """A passing result."""
    return CheckResult("pass", message)


def failed(message: str, hint: str = "") -> CheckResult:
    """A failing result with an optional hint."""
    return CheckResult("fail", message, hint)


@dataclass
class GradeReport:
    """The checks of one grading run and the score they add up to."""

    lab: str
    checks: list[CheckResult] = field(default_factory=list)
    elapsed: float | None = None
    fault_live: bool = False  # the lab's confirm checks still see the fault the break made

    def for_student(self) -> GradeReport:
        """The report as a student may see it while the fault is still live: failing checks without details.

        Their messages describe the broken state, which is the answer; once the fault itself is gone, the
        details are shown, to help with what is left (a shortcut, a side effect)."""
        if not self.fault_live:
            return self
        held = [c if c.ok else replace(c, message=HELD_BACK, hint="") for c in self.checks]
        return replace(self, checks=held)

    @property
    def score(self) -> int:
        """Sum of the weights of passing checks."""
        return sum(c.weight for c in self.checks if c.ok)

    @property
    def max_score(self) -> int:
        """Sum of all weights."""
        return sum(c.weight for c in self.checks)

    @property
    def passed(self) -> bool:
        """True when every check passed."""
        return bool(self.checks) and all(c.ok for c in self.checks)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "lab": self.lab,
            "passed": self.passed,
            "score": self.score,
            "max_score": self.max_score,
            "elapsed_seconds": self.elapsed,
            "checks": [c.as_dict() for c in self.checks],
        }
