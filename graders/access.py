"""Checks on what an identity may do, asked of the API server itself (SubjectAccessReview, as `kubectl auth can-i`)."""

from __future__ import annotations

from typing import Any

from breakfix.errors import BreakfixError
from breakfix.kube import Kube
from breakfix.results import CheckResult, failed, passed


def _attributes(action: str) -> dict[str, str]:
    """`VERB RESOURCE[.GROUP] [NAMESPACE]` (kubectl auth can-i's spelling) as a review's resourceAttributes."""
    words = action.split()
    if len(words) not in (2, 3):
        raise ValueError(f"{action!r}: write VERB RESOURCE[.GROUP] [NAMESPACE], e.g. 'list services'")
    resource, _, group = words[1].partition(".")
    attributes = {"verb": words[0], "resource": resource, "group": group}
    if len(words) == 3:
        attributes["namespace"] = words[2]
    return attributes


def _allowed(kube: Kube, user: str, groups: list[str], action: str) -> bool:
    review: dict[str, Any] = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {"user": user, "groups": groups, "resourceAttributes": _attributes(action)},
    }
    answer = kube.create(review)
    return bool((answer.get("status") or {}).get("allowed"))


def service_account_may(
    kube: Kube,
    account: str,
    namespace: str = "default",
    may: list[str] | None = None,
    may_not: list[str] | None = None,
) -> CheckResult:
    """ServiceAccount NAMESPACE/ACCOUNT may do each action of MAY and none of MAY_NOT, as the API server answers.

    An action is `VERB RESOURCE[.GROUP] [NAMESPACE]`; without a namespace it means in every namespace. The API server's
    own authorizer answers, so every way of granting counts: ClusterRoles, Roles, aggregated roles, groups."""
    user = f"system:serviceaccount:{namespace}:{account}"
    groups = ["system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"]
    try:
        missing = [a for a in may or [] if not _allowed(kube, user, groups, a)]
        extra = [a for a in may_not or [] if _allowed(kube, user, groups, a)]
    except ValueError as exc:
        return CheckResult("error", str(exc))
    except BreakfixError as exc:
        return CheckResult("error", f"could not ask the API server what {account} may do: {exc}")
    if missing:
        return failed(
            f"ServiceAccount {namespace}/{account} may not {'; '.join(missing)}",
            f"kubectl auth can-i --list --as={user}; which roles are bound to it?",
        )
    if extra:
        return failed(
            f"ServiceAccount {namespace}/{account} may {'; '.join(extra)}: far more than its job needs",
            "Grant an account what its job needs, not everything.",
        )
    return passed(f"ServiceAccount {namespace}/{account} may do what it needs and no more than was checked")
