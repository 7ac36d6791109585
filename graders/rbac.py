"""What a ServiceAccount may do, as the API server's own authorizer answers it (SubjectAccessReview).

These checks judge the outcome of any RBAC fix: whichever Role, ClusterRole or binding grants (or
widens) a permission, the API server's answer is the same for the account's requests.
"""

from __future__ import annotations

from typing import Any

from breakfix.errors import BreakfixError
from breakfix.kube import Kube
from breakfix.results import CheckResult, failed, passed


def service_account_user(service_account: str, namespace: str) -> tuple[str, list[str]]:
    """The user name and groups a ServiceAccount's token authenticates as."""
    return (
        f"system:serviceaccount:{namespace}:{service_account}",
        ["system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"],
    )


def review(
    kube: Kube,
    user: str,
    groups: list[str],
    verb: str,
    resource: str,
    namespace: str,
    group: str = "",
    subresource: str = "",
    name: str = "",
) -> dict[str, Any]:
    """The API server's answer (SubjectAccessReview status) to: may USER do VERB on RESOURCE in NAMESPACE?

    NAMESPACE "" asks about every namespace at once (a cluster-wide request)."""
    attributes = {"verb": verb, "resource": resource, "group": group, "namespace": namespace}
    if subresource:
        attributes["subresource"] = subresource
    if name:
        attributes["name"] = name
    answer = kube.create(
        {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {"user": user, "groups": groups, "resourceAttributes": attributes},
        }
    )
    status: dict[str, Any] = answer.get("status") or {}
    return status


def _request(verb: str, resource: str, group: str, subresource: str, name: str, where: str) -> str:
    what = f"{resource}/{subresource}" if subresource else resource
    if group:
        what = f"{what}.{group}"
    if name:
        what = f"{what} {name}"
    place = f"in namespace {where}" if where else "in every namespace"
    return f"{verb} {what} {place}"


def _answers(
    kube: Kube,
    service_account: str,
    verbs: list[str],
    resource: str,
    namespace: str,
    group: str,
    target_namespace: str | None,
    subresource: str,
    name: str,
) -> list[tuple[str, bool]] | CheckResult:
    """(request, allowed) for each verb, or an error result when the API server cannot say."""
    if not verbs:
        return CheckResult("error", "no verbs to ask about")
    user, groups = service_account_user(service_account, namespace)
    where = namespace if target_namespace is None else target_namespace
    out = []
    for verb in verbs:
        try:
            status = review(kube, user, groups, verb, resource, where, group, subresource, name)
        except BreakfixError as exc:
            return CheckResult("error", f"cannot ask the API server what {user} may do: {exc}")
        if status.get("evaluationError") and not status.get("allowed"):
            return CheckResult("error", f"the API server could not decide: {status['evaluationError']}")
        out.append((_request(verb, resource, group, subresource, name, where), bool(status.get("allowed"))))
    return out


def can(
    kube: Kube,
    service_account: str,
    verbs: list[str],
    resource: str,
    namespace: str = "default",
    group: str = "",
    target_namespace: str | None = None,
    subresource: str = "",
    name: str = "",
) -> CheckResult:
    """The ServiceAccount (in NAMESPACE) may do every one of VERBS on RESOURCE (of API GROUP, "" for core).

    TARGET_NAMESPACE: where the requests are made (default: the account's own namespace; "" for every
    namespace at once). NAME and SUBRESOURCE narrow the request to one object or a subresource."""
    answers = _answers(kube, service_account, verbs, resource, namespace, group, target_namespace, subresource, name)
    if isinstance(answers, CheckResult):
        return answers
    denied = [request for request, allowed in answers if not allowed]
    who = f"ServiceAccount {namespace}/{service_account}"
    if denied:
        return failed(
            f"{who} is forbidden to {'; '.join(denied)}",
            f"kubectl auth can-i --as=system:serviceaccount:{namespace}:{service_account} ... shows what it may do.",
        )
    return passed(f"{who} may {'; '.join(request for request, _ in answers)}")


def cannot(
    kube: Kube,
    service_account: str,
    verbs: list[str],
    resource: str,
    namespace: str = "default",
    group: str = "",
    target_namespace: str | None = None,
    subresource: str = "",
    name: str = "",
) -> CheckResult:
    """The ServiceAccount (in NAMESPACE) may do none of VERBS on RESOURCE: it holds no more than it needs.

    Arguments as for `can`; RESOURCE "*" with GROUP "*" asks about everything."""
    answers = _answers(kube, service_account, verbs, resource, namespace, group, target_namespace, subresource, name)
    if isinstance(answers, CheckResult):
        return answers
    allowed = [request for request, ok in answers if ok]
    who = f"ServiceAccount {namespace}/{service_account}"
    if allowed:
        return failed(
            f"{who} may {'; '.join(allowed)}: more than it needs",
            "Grant an account what its task needs, in the namespace it works in, and nothing more.",
        )
    return passed(f"{who} may not {'; '.join(request for request, _ in answers)}")
