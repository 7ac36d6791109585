"""graders.rbac asks the API server's authorizer (SubjectAccessReview) what a ServiceAccount may do."""

from __future__ import annotations

import copy
from typing import Any

from breakfix.errors import ClusterError
from graders import rbac
from tests.fakes import FakeKube, Unexpected

SA_USER = "system:serviceaccount:reports:reporter"


class AuthorizerKube(FakeKube):
    """A fake API server that answers SubjectAccessReviews from a set of allowed (user, verb, resource, ns)."""

    def __init__(self, allowed: set[tuple[str, str, str, str]], error: str = "") -> None:
        super().__init__({"SubjectAccessReview"})
        self.allowed = allowed
        self.error = error
        self.reviews: list[dict[str, Any]] = []

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        self._check(obj["kind"], "create")
        if obj["apiVersion"] != "authorization.k8s.io/v1":
            raise Unexpected(f"unexpected apiVersion {obj['apiVersion']}")
        spec = obj["spec"]
        self.reviews.append(copy.deepcopy(spec))
        attrs = spec["resourceAttributes"]
        key = (spec["user"], attrs["verb"], attrs["resource"], attrs["namespace"])
        wildcard = (spec["user"], "*", "*", attrs["namespace"])
        status: dict[str, Any] = {"allowed": key in self.allowed or wildcard in self.allowed}
        if self.error:
            status["evaluationError"] = self.error
        return {**obj, "status": status}


def test_service_account_user_is_the_token_identity() -> None:
    user, groups = rbac.service_account_user("reporter", "reports")
    assert user == SA_USER
    assert groups == ["system:serviceaccounts", "system:serviceaccounts:reports", "system:authenticated"]


def test_can_passes_only_when_every_verb_is_allowed_in_the_accounts_namespace() -> None:
    kube = AuthorizerKube({(SA_USER, "get", "configmaps", "reports"), (SA_USER, "list", "configmaps", "reports")})
    result = rbac.can(kube, "reporter", ["get", "list"], "configmaps", namespace="reports")
    assert result.ok, result.message
    assert [r["resourceAttributes"]["namespace"] for r in kube.reviews] == ["reports", "reports"]
    assert kube.reviews[0]["groups"][1] == "system:serviceaccounts:reports"

    kube.allowed.discard((SA_USER, "list", "configmaps", "reports"))
    result = rbac.can(kube, "reporter", ["get", "list"], "configmaps", namespace="reports")
    assert result.status == "fail"
    assert "forbidden to list configmaps in namespace reports" in result.message
    assert "get" not in result.message.split("forbidden to")[1]


def test_can_elsewhere_and_cluster_wide() -> None:
    kube = AuthorizerKube({(SA_USER, "list", "configmaps", "")})
    assert rbac.can(kube, "reporter", ["list"], "configmaps", namespace="reports", target_namespace="").ok
    failed = rbac.can(kube, "reporter", ["list"], "configmaps", namespace="reports", target_namespace="ops")
    assert failed.status == "fail" and "in namespace ops" in failed.message


def test_cannot_fails_on_any_allowed_verb_and_names_it() -> None:
    kube = AuthorizerKube({(SA_USER, "delete", "secrets", "reports")})
    result = rbac.cannot(kube, "reporter", ["get", "delete"], "secrets", namespace="reports")
    assert result.status == "fail"
    assert "may delete secrets in namespace reports: more than it needs" in result.message
    assert rbac.cannot(kube, "reporter", ["get", "list"], "secrets", namespace="reports").ok


def test_cannot_sees_wildcards_through_the_authorizer_and_names_groups_and_subresources() -> None:
    kube = AuthorizerKube({(SA_USER, "*", "*", "reports")})
    result = rbac.cannot(kube, "reporter", ["*"], "*", namespace="reports", group="*")
    assert result.status == "fail"
    assert "may * *.* in namespace reports" in result.message
    rbac.can(kube, "reporter", ["get"], "deployments", namespace="reports", group="apps", subresource="scale", name="x")
    attrs = kube.reviews[-1]["resourceAttributes"]
    assert attrs["group"] == "apps" and attrs["subresource"] == "scale" and attrs["name"] == "x"


def test_errors_are_errors_not_failures() -> None:
    down = AuthorizerKube(set())
    down.down = True
    assert rbac.can(down, "reporter", ["list"], "configmaps").status == "error"
    assert rbac.cannot(AuthorizerKube(set()), "reporter", [], "configmaps").status == "error"
    undecided = AuthorizerKube(set(), error="webhook timed out")
    result = rbac.cannot(undecided, "reporter", ["list"], "configmaps")
    assert result.status == "error" and "webhook timed out" in result.message


def test_an_unreachable_api_server_is_an_error() -> None:
    class Broken(AuthorizerKube):
        def create(self, obj: dict[str, Any]) -> dict[str, Any]:
            raise ClusterError("cannot reach the API server")

    assert rbac.can(Broken(set()), "reporter", ["list"], "configmaps").status == "error"
