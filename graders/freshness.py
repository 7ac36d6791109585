"""Checks that what an app serves is kept up to date while it runs, not written once and left."""

from __future__ import annotations

import time

from breakfix.durations import Seconds
from breakfix.errors import ClusterError
from breakfix.kube import Kube
from breakfix.results import CheckResult, failed, passed


def page_changes(
    kube: Kube,
    service: str,
    contains: str,
    namespace: str = "default",
    port: str = "80",
    path: str = "/",
    watch_for: Seconds = 30.0,
    every: Seconds = 3.0,
) -> CheckResult:
    """The page the Service serves (holding CONTAINS) changes within WATCH_FOR seconds: something keeps it fresh.

    A page written once (a file baked into an image or a ConfigMap) reads the same every time."""
    seen: set[str] = set()
    deadline = time.monotonic() + watch_for
    while True:
        try:
            status, body = kube.service_get(namespace, service, str(port), path)
        except ClusterError as exc:
            return CheckResult("error", f"cannot ask Service {namespace}/{service}: {exc}")
        if 200 <= status < 400 and contains in body:
            seen.add(body)
            if len(seen) > 1:
                return passed(f"Service {namespace}/{service} serves a page that is kept up to date")
        if time.monotonic() >= deadline:
            break
        time.sleep(every)
    if not seen:
        return failed(
            f"Service {namespace}/{service} does not serve its page on port {port}",
            f"kubectl -n {namespace} get pods,endpointslices",
        )
    return failed(
        f"Service {namespace}/{service} served the same page for {watch_for:.0f}s: nothing keeps it up to date",
        "Which container of the app writes the page, and is it doing its job?",
    )
