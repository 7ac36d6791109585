"""Checks on pulls from a private registry: what the app's own pods can pull, and what nobody may."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from breakfix.clock import CLOCK
from breakfix.durations import Seconds
from breakfix.errors import BreakfixError
from breakfix.kube import Kube
from breakfix.results import CheckResult, failed, passed
from graders.probe import PROBE_LABEL

PULL_FAILURES = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull")


def _trial(kube: Kube, pod: dict[str, Any], wait_for: float) -> tuple[bool, str]:
    """Create POD and wait until its containers started (True) or an image pull failed (False, why)."""
    name, namespace = pod["metadata"]["name"], pod["metadata"]["namespace"]
    kube.create(pod)
    try:
        deadline = CLOCK.monotonic() + wait_for
        why = "its containers did not start in time"
        while CLOCK.monotonic() < deadline:
            live = kube.get("v1", "Pod", name, namespace) or {}
            statuses = (live.get("status") or {}).get("containerStatuses") or []
            waiting = [(s.get("state") or {}).get("waiting") or {} for s in statuses]
            failures = [w for w in waiting if w.get("reason") in PULL_FAILURES]
            if failures:
                return False, f"{failures[0]['reason']}: {str(failures[0].get('message') or '')[:300]}"
            if statuses and all(s.get("imageID") for s in statuses):
                return True, ""
            CLOCK.sleep(2)
        return False, why
    finally:
        kube.delete("v1", "Pod", name, namespace)


def _pulling_afresh(spec: dict[str, Any]) -> dict[str, Any]:
    """SPEC with every container pulling its image from the registry (no copy a node already holds)."""
    out = copy.deepcopy(spec)
    for key in ("initContainers", "containers"):
        for container in out.get(key) or []:
            container["imagePullPolicy"] = "Always"
    out["terminationGracePeriodSeconds"] = 0
    return out


def app_pulls_afresh(
    kube: Kube, name: str, namespace: str = "default", kind: str = "Deployment", wait_for: Seconds = 120.0
) -> CheckResult:
    """A new pod made from the app's own template (service account, pull secrets, images) pulls its images afresh."""
    obj = kube.get("apps/v1", kind, name, namespace)
    if obj is None:
        return failed(f"{kind} {namespace}/{name} does not exist")
    spec = _pulling_afresh((obj["spec"].get("template") or {}).get("spec") or {})
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {  # none of the app's labels: no ReplicaSet adopts it, no Service sends it traffic
            "name": f"{name}-pull-check-{uuid.uuid4().hex[:6]}",
            "namespace": namespace,
            "labels": {PROBE_LABEL: "pull"},
        },
        "spec": spec,
    }
    try:
        ok, why = _trial(kube, pod, wait_for)
    except BreakfixError as exc:
        return CheckResult("error", f"could not run the pull trial: {exc}")
    if ok:
        return passed(f"a new pod of {name} pulls its images from the registry")
    return failed(
        f"a new pod of {name} cannot pull its images from the registry ({why})",
        f"kubectl -n {namespace} describe pod: read the pull error in the Events.",
    )


def anonymous_pull_refused(
    kube: Kube, images: dict[str, str], role: str = "private-web", namespace: str = "default", wait_for: Seconds = 120.0
) -> CheckResult:
    """A pod with no pull credentials cannot pull the registry's image ROLE (no node pulls in everybody's name).

    The pod runs as a ServiceAccount of its own, made for the trial: pull secrets a student gave NAMESPACE's
    `default` account (a valid way to give its pods credentials) must not make the trial a pull with them."""
    name = f"anonymous-pull-check-{uuid.uuid4().hex[:6]}"
    account = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": name, "namespace": namespace, "labels": {PROBE_LABEL: "pull"}},
        "automountServiceAccountToken": False,
    }
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {PROBE_LABEL: "pull"}},
        "spec": _pulling_afresh({"containers": [{"name": "app", "image": images[role]}],
                                 "serviceAccountName": name,
                                 "automountServiceAccountToken": False}),
    }  # fmt: skip
    try:
        kube.create(account)
    except BreakfixError as exc:
        return CheckResult("error", f"could not run the pull trial: {exc}")
    try:
        ok, why = _trial(kube, pod, wait_for)
    except BreakfixError as exc:
        return CheckResult("error", f"could not run the pull trial: {exc}")
    finally:
        kube.delete("v1", "ServiceAccount", name, namespace)
    if not ok and ("401" in why or "nauthorized" in why or "credentials" in why or "denied" in why):
        return passed("the registry still refuses pulls without credentials")
    if ok:
        return failed(
            "a pod with no pull credentials pulled the registry's image: some node pulls in everybody's name",
            "Credentials belong to the teams that need them, not to every pod on a node.",
        )
    return failed(f"a pull without credentials failed, but not for lack of them ({why})")
