"""Checks that start a throwaway copy of an app beside a stand-in backend, to see what it really does at start."""

from __future__ import annotations

import copy
import time
import uuid
from typing import Any

from breakfix.durations import Seconds
from breakfix.errors import BreakfixError
from breakfix.inventory import ClusterSpec
from breakfix.kube import Kube
from breakfix.results import CheckResult, failed, passed
from graders.probe import PROBE_LABEL, _pod_spec, _probe_pod


def _names(service: str, namespace: str) -> list[str]:
    """The names a pod of NAMESPACE can call a Service by."""
    return [service, f"{service}.{namespace}", f"{service}.{namespace}.svc", f"{service}.{namespace}.svc.cluster.local"]


def _backend_services(kube: Kube, backend: str, namespace: str) -> list[dict[str, Any]]:
    """Service BACKEND and every other Service of its namespace that selects the same pods (an alias)."""
    main = kube.get("v1", "Service", backend, namespace)
    if main is None:
        raise BreakfixError(f"Service {namespace}/{backend} does not exist")
    selector = (main.get("spec") or {}).get("selector")
    others = [
        s
        for s in kube.list("v1", "Service", namespace)
        if selector and (s.get("spec") or {}).get("selector") == selector and s["metadata"]["name"] != backend
    ]
    return [main, *others]


def _env_name(service: str) -> str:
    return service.upper().replace("-", "_")


def _lead_to(spec: dict[str, Any], backends: list[dict[str, Any]], ip: str) -> None:
    """Make every way a pod spec may name the backend lead to IP: Service names through /etc/hosts, the Services'
    environment variables, and their cluster addresses written out in commands, arguments or values."""
    names = [n for s in backends for n in _names(s["metadata"]["name"], s["metadata"]["namespace"])]
    spec["hostAliases"] = [*(spec.get("hostAliases") or []), {"ip": ip, "hostnames": names}]
    addresses = {a for s in backends for a in [(s.get("spec") or {}).get("clusterIP")] if a and a != "None"}
    env = []
    for s in backends:
        ports = (s.get("spec") or {}).get("ports") or []
        first = int(ports[0]["port"]) if ports else 80
        name = _env_name(s["metadata"]["name"])
        env += [
            {"name": f"{name}_SERVICE_HOST", "value": ip},
            {"name": f"{name}_SERVICE_PORT", "value": str(first)},
            {"name": f"{name}_PORT", "value": f"tcp://{ip}:{first}"},
        ]

    def swap(text: str) -> str:
        for address in addresses:
            text = text.replace(address, ip)
        return text

    for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        for key in ("command", "args"):
            if c.get(key):
                c[key] = [swap(str(word)) for word in c[key]]
        kept = [e for e in c.get("env") or [] if e.get("name") not in {v["name"] for v in env}]
        for e in kept:
            if "value" in e:
                e["value"] = swap(str(e["value"]))
        c["env"] = [*kept, *env]


def _ready(kube: Kube, name: str, namespace: str, wait_for: float) -> dict[str, Any] | None:
    """The pod once all its containers are ready (its init containers done), None when not within WAIT_FOR."""
    deadline = time.monotonic() + wait_for
    while True:
        pod = kube.get("v1", "Pod", name, namespace) or {}
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        if statuses and all(s.get("ready") for s in statuses) and (pod.get("status") or {}).get("podIP"):
            return pod
        if time.monotonic() >= deadline:
            return None
        time.sleep(2)


def loads_from_backend(
    kube: Kube,
    images: dict[str, str],
    cluster: ClusterSpec,
    name: str,
    backend: str,
    service: str,
    namespace: str = "default",
    path: str = "/",
    wait_for: Seconds = 120.0,
) -> CheckResult:
    """A fresh pod of Deployment NAME, started while BACKEND's names lead to a stand-in, serves the stand-in's page.

    The copy is not behind the app's Service. Every way it may name Service BACKEND (or a Service selecting the
    same pods) leads to the stand-in: the names, the Service variables, the cluster address written out.
    Its page is read through a Service like SERVICE."""
    trial = f"breakfix-trial-{uuid.uuid4().hex[:8]}"
    marker = f"trial edition {uuid.uuid4().hex[:12]}"
    made: list[tuple[str, str, str]] = []

    def create(obj: dict[str, Any]) -> None:
        kube.create(obj)
        made.append((obj["apiVersion"], obj["kind"], obj["metadata"]["name"]))

    try:
        try:
            dep = kube.get("apps/v1", "Deployment", name, namespace)
            app_svc = kube.get("v1", "Service", service, namespace)
            if dep is None or app_svc is None:
                missing = f"Deployment {name}" if dep is None else f"Service {service}"
                return failed(f"{missing} does not exist in namespace {namespace}", f"kubectl -n {namespace} get all")
            backends = _backend_services(kube, backend, namespace)
            ports = sorted({int(p["port"]) for s in backends for p in (s.get("spec") or {}).get("ports") or []})
            stand_in = _pod_spec(images["shell"], cluster, "stand-in")
            servers = " ".join(f"httpd -p {port} -h /www;" for port in ports)
            stand_in["containers"][0]["command"] = [
                "sh",
                "-c",
                f"mkdir -p /www && echo '<p>{marker}</p>' > /www/index.html && {servers} exec sleep 3600",
            ]
            create(_probe_pod(f"{trial}-backend", namespace, "trial", stand_in))
            ready = _ready(kube, f"{trial}-backend", namespace, wait_for)
            if ready is None:
                return CheckResult("error", f"the stand-in for {backend} did not start within {wait_for:.0f}s")
            template = copy.deepcopy(dep["spec"]["template"])
            spec = template.get("spec") or {}
            _lead_to(spec, backends, ready["status"]["podIP"])
            spec["terminationGracePeriodSeconds"] = 0
            labels = {PROBE_LABEL: "trial", "breakfix.dev/probe-id": trial}
            create(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": f"{trial}-app", "namespace": namespace, "labels": labels},
                    "spec": spec,
                }
            )
            ports_of_app = copy.deepcopy((app_svc.get("spec") or {}).get("ports") or [])
            for p in ports_of_app:
                p.pop("nodePort", None)
            create(
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": trial, "namespace": namespace, "labels": {PROBE_LABEL: "trial"}},
                    "spec": {"selector": labels, "ports": ports_of_app},
                }
            )
            started = _ready(kube, f"{trial}-app", namespace, wait_for)
            body = ""
            if started is not None and ports_of_app:
                port = str(ports_of_app[0].get("name") or ports_of_app[0]["port"])
                deadline = time.monotonic() + min(30.0, wait_for)  # the page the pod was started with
                while True:  # the Service's endpoints may take a moment to follow the pod
                    _status, body = kube.service_get(namespace, trial, port, path)
                    if marker in body or time.monotonic() >= deadline:
                        break
                    time.sleep(2)
        finally:
            for api_version, kind, obj_name in reversed(made):
                kube.delete(api_version, kind, obj_name, namespace)
    except BreakfixError as exc:
        return CheckResult("error", f"could not run a trial of Deployment {namespace}/{name}: {exc}")
    if started is None:
        return failed(
            f"a fresh pod of {name} did not start within {wait_for:.0f}s while {backend} answered",
            f"kubectl -n {namespace} describe pod -l app={name}",
        )
    if marker in body:
        return passed(f"a fresh pod of {name} serves what {backend} gives it at start")
    return failed(
        f"a fresh pod of {name} does not serve what {backend} gives it at start",
        f"Where does {name} get what it serves from, and when?",
    )
