"""Checks on etcd itself, asked on its node through its HTTP gateway: alarms, quota, and whether writes get through."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from breakfix.durations import Seconds
from breakfix.errors import BreakfixError
from breakfix.kube import Kube
from breakfix.quantities import parse_bytes
from breakfix.results import CheckResult, failed, passed
from breakfix.transport.node import Node

PKI = "/etc/kubernetes/pki/etcd"
DEFAULT_QUOTA = 2 * 2**30  # etcd's backend quota when --quota-backend-bytes is 0 or not given
ENDPOINT = "https://127.0.0.1:2379"
#: curl with the client certificate kubeadm makes for etcd's health checks
CURL = (
    f"curl -sS --max-time 10 --cacert {PKI}/ca.crt "
    f"--cert {PKI}/healthcheck-client.crt --key {PKI}/healthcheck-client.key"
)


def gateway(node: Node, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST BODY to etcd's gateway PATH (e.g. /v3/maintenance/status) on NODE; its JSON answer."""
    result = node.run(f"{CURL} -X POST %s -d %s", f"{ENDPOINT}{path}", json.dumps(body), timeout=30)
    if not result.ok:
        raise BreakfixError(f"etcd on {node.name} does not answer: {result.stderr.strip()[:200]}")
    try:
        answer = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise BreakfixError(f"etcd on {node.name} answered something else than JSON: {result.stdout[:120]!r}") from None
    if not isinstance(answer, dict):
        raise BreakfixError(f"etcd on {node.name} answered {result.stdout[:120]!r}")
    return answer


def no_alarms(node: Node) -> CheckResult:
    """etcd on NODE has no alarm raised (`etcdctl alarm list` would print nothing)."""
    try:
        alarms = gateway(node, "/v3/maintenance/alarm", {"action": "GET"}).get("alarms") or []
    except BreakfixError as exc:
        return CheckResult("error", str(exc))
    if not alarms:
        return passed(f"etcd on {node.name} has no alarm raised")
    return failed(
        f"etcd on {node.name} has an alarm raised",
        "What does etcd report about itself? `etcdctl endpoint status` and `etcdctl alarm list`.",
    )


def quota_at_least(node: Node, at_least: str = "2Gi") -> CheckResult:
    """The running etcd on NODE lets its database grow to at least AT_LEAST."""
    try:
        quota = int(gateway(node, "/v3/maintenance/status", {}).get("dbSizeQuota") or 0)
    except (BreakfixError, ValueError) as exc:
        return CheckResult("error", f"cannot read etcd's status on {node.name}: {exc}")
    want = parse_bytes(at_least)
    if quota < 0:  # etcd takes a negative quota as no quota at all
        return passed(f"etcd on {node.name} may grow without a limit")
    quota = quota or DEFAULT_QUOTA  # 0, or no flag on an etcd that reports the flag as it was given
    if quota >= want:
        return passed(f"etcd on {node.name} may grow to {quota // 2**20} MiB")
    return failed(
        f"etcd on {node.name} would stop taking writes before its database holds {at_least}",
        "How large may etcd's database grow, as it runs now?",
    )


def writes_work(kube: Kube, steady_for: Seconds = 20.0, namespace: str = "default") -> CheckResult:
    """The API server stores new objects, again and again for STEADY_FOR seconds (a ConfigMap made and deleted)."""
    deadline = time.monotonic() + steady_for
    tries = 0
    while True:
        name = f"breakfix-probe-write-{uuid.uuid4().hex[:8]}"
        try:
            kube.create(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": name, "namespace": namespace, "labels": {"breakfix.dev/probe": "write"}},
                    "data": {"try": str(tries)},
                }
            )
            kube.delete("v1", "ConfigMap", name, namespace)
        except BreakfixError as exc:
            when = "" if tries == 0 else f" (after {tries} that worked)"
            return failed(f"the API server refused to store a new object{when}: {str(exc)[:300]}")
        tries += 1
        if time.monotonic() >= deadline:
            return passed(f"the API server stored {tries} new objects in {steady_for:.0f}s")
        time.sleep(3)
