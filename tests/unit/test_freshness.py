"""graders.freshness: a page that changes passes, a page written once fails (fake API server's proxy)."""

from __future__ import annotations

from typing import Any

from breakfix.errors import ClusterError
from breakfix.results import CheckResult
from graders import freshness
from tests.fakes import FakeKube


class Pages(FakeKube):
    """A Service whose answers follow a list of (status, body), the last one repeated."""

    def __init__(self, answers: list[tuple[int, str]]) -> None:
        super().__init__(set())
        self.answers = answers

    def service_get(self, namespace: str, service: str, port: str, path: str = "/") -> tuple[int, str]:
        assert (namespace, service, port, path) == ("shipping", "tracker", "80", "/")
        self.calls.append("proxy")
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def check(answers: list[tuple[int, str]], **kw: Any) -> CheckResult:
    return freshness.page_changes(Pages(answers), "tracker", "Parcels", "shipping", watch_for=0.2, every=0.01, **kw)


def test_a_page_that_changes_passes() -> None:
    result = check([(200, "Parcels: 42 (refresh 7)"), (200, "Parcels: 42 (refresh 8)")])
    assert result.ok, result.message


def test_a_page_written_once_fails() -> None:
    result = check([(200, "Parcels: 42 (static)")])
    assert result.status == "fail" and "nothing keeps it up to date" in result.message


def test_errors_or_other_pages_do_not_count_as_changes() -> None:
    result = check([(503, "no endpoints"), (200, "Parcels: 42"), (200, "It works!"), (200, "Parcels: 42")])
    assert result.status == "fail" and "same page" in result.message
    assert check([(503, "no endpoints")]).message.startswith("Service shipping/tracker does not serve")


def test_an_unreachable_api_is_an_error() -> None:
    kube = Pages([(200, "x")])

    def down(*_a: Any, **_k: Any) -> tuple[int, str]:
        raise ClusterError("cannot reach the API server")

    kube.service_get = down  # type: ignore[method-assign]
    assert freshness.page_changes(kube, "tracker", "Parcels", "shipping", watch_for=0).status == "error"
