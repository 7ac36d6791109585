"""Checks on admission: what the API server lets in, who refuses the rest, and how a webhook fails."""

from __future__ import annotations

from typing import Any

from breakfix.kube import Kube
from breakfix.results import CheckResult, failed, passed

WEBHOOK_CONFIGS = ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration")


def _trial_pod(images: dict[str, str], namespace: str, labels: dict[str, str]) -> dict[str, Any]:
    """A pod to ask admission about (created as a dry run only: it never exists)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"generateName": "breakfix-admission-", "namespace": namespace, "labels": dict(labels)},
        "spec": {"containers": [{"name": "app", "image": images["web"]}]},
    }


def _described(labels: dict[str, str]) -> str:
    if not labels:
        return "a pod without labels"
    return "a pod labelled " + ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def admitted(kube: Kube, images: dict[str, str], namespace: str, labels: dict[str, str] | None = None) -> CheckResult:
    """A pod with LABELS can be created in NAMESPACE: every admission step lets it in (a server-side dry run)."""
    pod = _described(labels or {})
    status, message = kube.dry_run_create(_trial_pod(images, namespace, labels or {}))
    if status < 300:
        return passed(f"{pod} is admitted in {namespace}")
    return failed(
        f"{pod} cannot be created in {namespace} (HTTP {status}): {message}",
        "Read the refusal: which admission step refused it, and why?",
    )


def refused_by(
    kube: Kube, images: dict[str, str], namespace: str, webhook: str, labels: dict[str, str] | None = None
) -> CheckResult:
    """A pod with LABELS (none by default) is refused in NAMESPACE, by webhook WEBHOOK's own decision."""
    pod = _described(labels or {})
    status, message = kube.dry_run_create(_trial_pod(images, namespace, labels or {}))
    if status < 300:
        return failed(f"{pod} is admitted in {namespace}: the policy no longer refuses it")
    if f'admission webhook "{webhook}" denied the request' in message:
        return passed(f"{pod} is refused in {namespace} by the policy: {message}")
    return failed(
        f"{pod} is refused in {namespace}, but not by the policy's decision (HTTP {status}): {message}",
        "A policy that refuses because it cannot be asked refuses everything.",
    )


def fails_closed(kube: Kube, webhook: str) -> CheckResult:
    """Webhook WEBHOOK still refuses requests when it cannot be called (its failurePolicy is Fail)."""
    found = [
        (obj["metadata"]["name"], hook)
        for kind in WEBHOOK_CONFIGS
        for obj in kube.list("admissionregistration.k8s.io/v1", kind)
        for hook in obj.get("webhooks") or []
        if hook.get("name") == webhook
    ]
    if not found:
        return failed(f"no webhook configuration has a webhook named {webhook}")
    open_ = [name for name, hook in found if hook.get("failurePolicy", "Fail") != "Fail"]
    if open_:
        return failed(
            f"webhook {webhook} (in {', '.join(open_)}) lets requests through when it cannot be called",
            "A policy that is skipped whenever its server is down is not enforced.",
        )
    return passed(f"webhook {webhook} refuses requests when it cannot be called")
