"""Graders for CronJobs: the controller starts a Job by the schedule, by itself, and the Job succeeds."""

from __future__ import annotations

import time
from typing import Any

from breakfix.durations import Seconds
from breakfix.errors import ClusterError
from breakfix.kube import Kube
from breakfix.results import CheckResult, failed, passed

MANUAL = "cronjob.kubernetes.io/instantiate"  # `kubectl create job --from=cronjob/...` marks its Job so


def _scheduled_jobs(kube: Kube, uid: str, namespace: str) -> dict[str, dict[str, Any]]:
    """The Jobs the CronJob controller made for the CronJob with UID (not those made by hand from it)."""
    out = {}
    for job in kube.list("batch/v1", "Job", namespace):
        meta = job.get("metadata") or {}
        owners = meta.get("ownerReferences") or []
        if any(o.get("uid") == uid and o.get("controller") for o in owners) and MANUAL not in (
            meta.get("annotations") or {}
        ):
            out[meta["name"]] = job
    return out


def schedules(
    kube: Kube, name: str, namespace: str = "default", wait_for: Seconds = 150.0, poll: float = 3.0
) -> CheckResult:
    """The CronJob starts a new Job by its schedule within WAIT_FOR seconds, by itself, and that Job succeeds."""
    try:
        cron = kube.get("batch/v1", "CronJob", name, namespace)
        if cron is None:
            return failed(f"CronJob {namespace}/{name} does not exist", f"kubectl -n {namespace} get cronjobs")
        if (cron.get("spec") or {}).get("suspend"):
            return failed(
                f"CronJob {namespace}/{name} starts no Job: it is suspended",
                f"kubectl -n {namespace} describe cronjob {name}",
            )
        uid = cron["metadata"]["uid"]
        before = set(_scheduled_jobs(kube, uid, namespace))
        deadline = time.monotonic() + wait_for
        while True:
            new = {n: j for n, j in _scheduled_jobs(kube, uid, namespace).items() if n not in before}
            done = [n for n, j in new.items() if int((j.get("status") or {}).get("succeeded") or 0) >= 1]
            if done:
                return passed(f"CronJob {namespace}/{name} started Job {done[0]} by its schedule, and it succeeded")
            if time.monotonic() >= deadline:
                break
            time.sleep(poll)
    except ClusterError as exc:
        return CheckResult("error", f"cannot read CronJob {namespace}/{name} and its Jobs: {exc}")
    if new:
        return failed(
            f"CronJob {namespace}/{name} started {', '.join(sorted(new))}, which did not succeed in {wait_for:.0f}s",
            f"kubectl -n {namespace} describe job {sorted(new)[-1]}",
        )
    return failed(
        f"CronJob {namespace}/{name} started no Job by its schedule within {wait_for:.0f}s",
        f"kubectl -n {namespace} describe cronjob {name}; kubectl -n kube-system logs of the controller-manager",
    )
