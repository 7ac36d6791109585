"""The errors breakfix expects: each one prints as one clear line and exits 1."""

from __future__ import annotations


class BreakfixError(Exception):
    """An expected failure that the user can act on."""

    exit_code = 1


class LabFileError(BreakfixError):
    """A lab file that cannot be loaded; names the file and the key."""

    def __init__(self, path: str, key: str, problem: str) -> None:
        self.path = path
        self.key = " ".join(key.split())[:200]
        flat = " ".join(problem.split())  # always one line, whatever a validator or the YAML parser said
        self.problem = flat if len(flat) <= 500 else flat[:497] + "..."
        where = f"{path}: {self.key}: " if self.key else f"{path}: "
        super().__init__(f"{where}{self.problem}")


class UnknownLabError(BreakfixError):
    """A lab id that is not in the catalog; carries close matches."""

    def __init__(self, lab_id: str, suggestions: list[str]) -> None:
        self.lab_id = lab_id
        self.suggestions = suggestions
        hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else " See `lab list`."
        super().__init__(f"no lab named {lab_id!r}.{hint}")


class ClusterError(BreakfixError):
    """A cluster that is missing, unreachable or not fit for the lab."""


class NotALabCluster(ClusterError):
    """A cluster without the breakfix marker: breakfix refuses to break it."""


class NodeError(BreakfixError):
    """A node that cannot be reached or refused a command."""


class StepError(BreakfixError):
    """A breaker, grader or setup step that failed while running."""


class ApiRefused(StepError):
    """The API server answered with a 4xx refusal."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def api_not_ready(exc: BaseException) -> bool:
    """True for errors that mean "the API server is (re)starting": unreachable, 5xx, or 401/403 before RBAC loads."""
    return isinstance(exc, ClusterError) or (isinstance(exc, ApiRefused) and exc.status in (401, 403))


class UsageError(BreakfixError):
    """Bad command-line usage (exit 2)."""

    exit_code = 2


class Interrupted(BreakfixError):
    """Ctrl-C, after breakfix made the state safe (exit 130)."""

    exit_code = 130
