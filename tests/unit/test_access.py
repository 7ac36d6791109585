"""graders.access: what a ServiceAccount may do, as the API server's SubjectAccessReview answers."""

from __future__ import annotations

from typing import Any

from graders import access
from tests.fakes import FakeKube


class Authorizer(FakeKube):
    """Answers SubjectAccessReviews from a set of (user, verb, resource, group) it allows; '*' allows all."""

    def __init__(self, allowed: set[tuple[str, str, str, str]]) -> None:
        super().__init__({"SubjectAccessReview"})
        self.allowed = allowed
        self.reviews: list[dict[str, Any]] = []

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        self._check(obj["kind"], "create")
        spec = obj["spec"]
        self.reviews.append(spec)
        a = spec["resourceAttributes"]
        key = (spec["user"], a["verb"], a["resource"], a["group"])
        everything = (spec["user"], "*", "*", "*") in self.allowed
        return {**obj, "status": {"allowed": everything or key in self.allowed}}


USER = "system:serviceaccount:kube-system:coredns"
NEEDS = ["list endpointslices.discovery.k8s.io", "watch services"]
TOO_MUCH = ["get secrets", "create pods kube-system"]
GRANTED = {(USER, "list", "endpointslices", "discovery.k8s.io"), (USER, "watch", "services", "")}


def test_an_account_with_what_it_needs_and_no_more_passes() -> None:
    kube = Authorizer(GRANTED)
    result = access.service_account_may(kube, "coredns", "kube-system", NEEDS, TOO_MUCH)
    assert result.ok, result.message
    assert kube.reviews[0]["groups"] == [
        "system:serviceaccounts",
        "system:serviceaccounts:kube-system",
        "system:authenticated",
    ]
    assert kube.reviews[-1]["resourceAttributes"] == {
        "verb": "create",
        "resource": "pods",
        "group": "",
        "namespace": "kube-system",
    }


def test_a_missing_permission_fails_and_names_it() -> None:
    result = access.service_account_may(Authorizer({GRANTED.pop()}), "coredns", "kube-system", NEEDS, TOO_MUCH)
    assert result.status == "fail" and "may not" in result.message and "coredns" in result.message


def test_a_wide_grant_fails() -> None:
    result = access.service_account_may(Authorizer({(USER, "*", "*", "*")}), "coredns", "kube-system", NEEDS, TOO_MUCH)
    assert result.status == "fail" and "get secrets; create pods kube-system" in result.message


def test_a_badly_written_action_or_an_unreachable_api_is_an_error() -> None:
    assert access.service_account_may(Authorizer(set()), "x", may=["list"]).status == "error"
    kube = Authorizer(set())
    kube.down = True
    assert access.service_account_may(kube, "x", may=["list pods"]).status == "error"
