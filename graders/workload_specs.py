"""Checks on what a workload's pods really are: the identity they run as, their stable names, where they run.

Each judges the live pods (not only the template that should produce them), so that any fix that gets
the pods right passes, and a template that looks right while the pods are elsewhere does not.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from breakfix.context import SessionState
from breakfix.durations import Seconds
from breakfix.errors import BreakfixError, ClusterError
from breakfix.inventory import ClusterSpec
from breakfix.kube import Kube
from breakfix.results import CheckResult, failed, passed
from graders._steady import Sample, holds
from graders.probe import _pod_spec, _probe_pod, _wait
from graders.rbac import review, service_account_user

REVISION_LABEL = "controller-revision-hash"


def _selector(obj: dict[str, Any]) -> str:
    labels = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _owned_by(obj: dict[str, Any], owner_uid: str) -> bool:
    return any(ref.get("uid") == owner_uid for ref in obj["metadata"].get("ownerReferences") or [])


def _live(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pods that are neither being deleted nor finished."""
    return [
        p
        for p in pods
        if not p["metadata"].get("deletionTimestamp")
        and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
    ]


def _ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _action(action: str) -> tuple[str, str, str, str | None]:
    """`VERB RESOURCE[.GROUP] [NAMESPACE]` as (verb, resource, group, namespace or None for every namespace)."""
    words = action.split()
    if len(words) not in (2, 3):
        raise ValueError(f"{action!r}: write VERB RESOURCE[.GROUP] [NAMESPACE], e.g. 'get configmaps shop'")
    resource, _, group = words[1].partition(".")
    return words[0], resource, group, words[2] if len(words) == 3 else None


def pods_identity_may(
    kube: Kube,
    name: str,
    namespace: str = "default",
    kind: str = "Deployment",
    may: list[str] | None = None,
    may_not: list[str] | None = None,
    dedicated: bool = True,
) -> CheckResult:
    """The workload's running pods use a ServiceAccount that may do each action of MAY and none of MAY_NOT.

    The account is the one the pods really run as (their spec.serviceAccountName), whatever it is called;
    the API server's own authorizer answers (SubjectAccessReview), so every way of granting counts. An
    action is `VERB RESOURCE[.GROUP] [NAMESPACE]` (without a namespace: in every namespace). DEDICATED: the
    namespace's `default` account, which every pod gets unless told otherwise, does not count."""
    try:
        obj = kube.get("apps/v1", kind, name, namespace)
        pods = _live(kube.list("v1", "Pod", namespace, label_selector=_selector(obj))) if obj else []
    except ClusterError as exc:
        return CheckResult("error", f"cannot read {kind} {namespace}/{name}: {exc}")
    if obj is None:
        return failed(f"{kind} {namespace}/{name} does not exist")
    pods = [p for p in pods if _owned_by(p, obj["metadata"]["uid"]) or kind == "Deployment"]
    if not pods:
        return failed(f"{kind} {namespace}/{name} has no running pod whose identity could be judged")
    accounts = sorted({(p.get("spec") or {}).get("serviceAccountName") or "default" for p in pods})
    if dedicated and "default" in accounts:
        return failed(
            f"pods of {kind} {name} run as the namespace's default ServiceAccount, which every pod there gets",
            "An app that talks to the API runs with an identity of its own.",
        )
    problems: list[str] = []
    try:
        for account in accounts:
            user, groups = service_account_user(account, namespace)

            def allowed(action: str, user: str = user, groups: list[str] = groups) -> bool:
                verb, resource, group, where = _action(action)
                return bool(review(kube, user, groups, verb, resource, where or "", group).get("allowed"))

            missing = [a for a in may or [] if not allowed(a)]
            extra = [a for a in may_not or [] if allowed(a)]
            if missing:
                problems.append(f"its pods' ServiceAccount {account} may not {'; '.join(missing)}")
            if extra:
                problems.append(f"its pods' ServiceAccount {account} may {'; '.join(extra)}: more than the app needs")
    except ValueError as exc:
        return CheckResult("error", str(exc))
    except BreakfixError as exc:
        return CheckResult("error", f"could not ask the API server what the pods of {kind} {name} may do: {exc}")
    if problems:
        return failed(
            f"{kind} {name}: {'; '.join(problems)}",
            f"kubectl -n {namespace} get pods -o custom-columns=NAME:.metadata.name,SA:.spec.serviceAccountName; "
            "kubectl auth can-i --list --as=system:serviceaccount:<namespace>:<account>",
        )
    return passed(f"{kind} {name}'s pods run as {', '.join(accounts)}, which may do what the app needs and no more")


def same_object(
    kube: Kube, state: SessionState, name: str, namespace: str = "default", kind: str = "Deployment"
) -> CheckResult:
    """The workload is the object recorded at setup (same UID), however its spec was edited since."""
    seen = state.get(f"remember:{kind}:{namespace}/{name}")
    if seen is None or not seen.get("uid"):
        return CheckResult("error", f"{kind} {namespace}/{name} was not recorded at setup")
    try:
        obj = kube.get("apps/v1", kind, name, namespace)
    except ClusterError as exc:
        return CheckResult("error", f"cannot read {kind} {namespace}/{name}: {exc}")
    if obj is None:
        return failed(f"{kind} {namespace}/{name} is gone")
    if obj["metadata"]["uid"] != seen["uid"]:
        return failed(
            f"{kind} {namespace}/{name} is not the one that was deployed: it was deleted and created again",
            "Mend the object in place: whatever it owns and whoever watches it keep following it.",
        )
    return passed(f"{kind} {namespace}/{name} is the object that was deployed")


# Stable network names (StatefulSets) -------------------------------------------------------

_MARK = "### "
_ADDRESS = re.compile(r"^Address(?:\s+\d+)?:\s*(\S+)")


def parse_lookups(text: str) -> dict[str, set[str]]:
    """What a probe's nslookup runs printed (a `### NAME` line before each), as NAME -> the addresses found.

    The server's own address comes before the first `Name:` line of each lookup and is left out."""
    found: dict[str, set[str]] = {}
    current: str | None = None
    answering = False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith(_MARK):
            current, answering = line[len(_MARK) :].strip(), False
            found[current] = set()
        elif current is None:
            continue
        elif line.startswith("Name:"):
            answering = True
        elif answering and (m := _ADDRESS.match(line)):
            found[current].add(m.group(1))
    return found


def _lookup_script(names: list[str]) -> str:
    """Shell that looks up each name and writes the answers to the termination log (read through the API)."""
    lines = ["exec >/dev/termination-log 2>&1"]
    for n in names:
        lines.append(f"echo '{_MARK}{n}'; nslookup '{n}' 2>/dev/null")
    lines.append("exit 0")
    return "\n".join(lines)


def stable_names_resolve(
    kube: Kube,
    images: dict[str, str],
    cluster: ClusterSpec,
    name: str,
    namespace: str = "default",
    wait_for: Seconds = 60.0,
    domain: str = "cluster.local",
) -> CheckResult:
    """From a new pod, each replica of StatefulSet NAME resolves by its stable name, and the set by its governing name.

    Each `NAME-N.SERVICE.NAMESPACE.svc.DOMAIN` (SERVICE: the StatefulSet's serviceName) must resolve to
    pod NAME-N's current address and nothing else, and `SERVICE.NAMESPACE.svc.DOMAIN` to exactly the
    replicas' addresses (what clients discover the members by), not to one virtual address."""
    try:
        sts = kube.get("apps/v1", "StatefulSet", name, namespace)
    except ClusterError as exc:
        return CheckResult("error", f"cannot read StatefulSet {namespace}/{name}: {exc}")
    if sts is None:
        return failed(f"StatefulSet {namespace}/{name} does not exist")
    service = (sts.get("spec") or {}).get("serviceName") or ""
    replicas = int((sts.get("spec") or {}).get("replicas", 1) or 0)
    if not service or replicas == 0:
        return failed(f"StatefulSet {namespace}/{name} has no governing Service name or no replicas")
    expected: dict[str, set[str]] = {}
    try:
        for i in range(replicas):
            pod = kube.get("v1", "Pod", f"{name}-{i}", namespace)
            ip = ((pod or {}).get("status") or {}).get("podIP")
            if pod is None or not ip or not _ready(pod) or pod["metadata"].get("deletionTimestamp"):
                return failed(
                    f"pod {namespace}/{name}-{i} is not running and ready, so its name cannot be judged",
                    f"kubectl -n {namespace} describe pod {name}-{i}",
                )
            expected[f"{name}-{i}.{service}.{namespace}.svc.{domain}"] = {ip}
    except ClusterError as exc:
        return CheckResult("error", f"cannot read the pods of StatefulSet {namespace}/{name}: {exc}")
    governing = f"{service}.{namespace}.svc.{domain}"
    expected[governing] = set().union(*expected.values())
    answers = _run_lookups(kube, images, cluster, namespace, list(expected), wait_for)
    if isinstance(answers, CheckResult):
        return answers
    problems = []
    for fqdn, want in expected.items():
        got = answers.get(fqdn, set())
        if got != want:
            said = ", ".join(sorted(got)) if got else "no address"
            problems.append(f"{fqdn} gives {said} (the replicas: {', '.join(sorted(want))})")
    if problems:
        return failed(
            f"StatefulSet {name}'s members cannot be found by their names: {'; '.join(problems[:3])}",
            f"kubectl -n {namespace} get svc,endpointslices -o wide; compare with the StatefulSet's serviceName "
            "and its pods' labels.",
        )
    return _members_to_come(kube, sts, service, namespace) or passed(
        f"each replica of {name} resolves by its stable name, and {governing} lists them all"
    )


def _members_to_come(kube: Kube, sts: dict[str, Any], service: str, namespace: str) -> CheckResult | None:
    """A failure when the governing Service would not find a member the StatefulSet creates anew; else None.

    Names that resolve today because the running pods were labelled by hand, or listed in hand-made
    endpoints, are gone with the next restart: the Service must select what the pod template gives."""
    try:
        svc = kube.get("v1", "Service", service, namespace)
    except ClusterError as exc:
        return CheckResult("error", f"cannot read Service {namespace}/{service}: {exc}")
    selector = ((svc or {}).get("spec") or {}).get("selector") or {}
    template = ((((sts.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels")) or {}
    if selector and all(template.get(k) == v for k, v in selector.items()):
        return None
    return failed(
        f"the names resolve now, but a member the StatefulSet starts again would not be found through Service "
        f"{service}: its selector does not match the labels of the StatefulSet's pod template",
        f"kubectl -n {namespace} delete pod {sts['metadata']['name']}-0, then look the name up again.",
    )


def _run_lookups(
    kube: Kube, images: dict[str, str], cluster: ClusterSpec, namespace: str, names: list[str], wait_for: float
) -> dict[str, set[str]] | CheckResult:
    """Run a throwaway pod that looks up NAMES; their answers, or the result to return when it did not run."""
    pod_name = f"breakfix-probe-{uuid.uuid4().hex[:8]}"
    spec = _pod_spec(images["shell"], cluster, "lookup")
    spec["containers"][0]["command"] = ["sh", "-c", _lookup_script(names)]
    spec["restartPolicy"] = "Never"
    pod = _probe_pod(pod_name, namespace, "dns", spec)

    def finished() -> dict[str, Any] | None:
        live = kube.get("v1", "Pod", pod_name, namespace) or {}
        return live if (live.get("status") or {}).get("phase") in ("Succeeded", "Failed") else None

    try:
        kube.create(pod)
        try:
            done = _wait(wait_for, finished, poll=2.0)
        finally:
            kube.delete("v1", "Pod", pod_name, namespace)
    except BreakfixError as exc:
        return CheckResult("error", f"could not run the DNS probe: {exc}")
    if done is None:
        return failed(f"the DNS probe pod did not finish within {wait_for:.0f}s", "Do new pods start at all?")
    message = ""
    for status in (done.get("status") or {}).get("containerStatuses") or []:
        message += ((status.get("state") or {}).get("terminated") or {}).get("message") or ""
    return parse_lookups(message)


# DaemonSets ----------------------------------------------------------------------------------


def _current_revision(kube: Kube, ds: dict[str, Any], namespace: str) -> str | None:
    """The revision hash of the DaemonSet's current template (its newest ControllerRevision)."""
    uid = ds["metadata"]["uid"]
    revisions = [
        r
        for r in kube.list("apps/v1", "ControllerRevision", namespace, label_selector=_selector(ds))
        if _owned_by(r, uid)
    ]
    if not revisions:
        return None
    newest = max(revisions, key=lambda r: int(r.get("revision") or 0))
    value = (newest["metadata"].get("labels") or {}).get(REVISION_LABEL)
    return str(value) if value else None


def _restarts(pod: dict[str, Any]) -> int:
    return sum(int(c.get("restartCount") or 0) for c in (pod.get("status") or {}).get("containerStatuses") or [])


def on_every_node(
    kube: Kube, name: str, namespace: str = "default", stable_for: Seconds = 0.0, poll: float = 3.0
) -> CheckResult:
    """DaemonSet NAME runs one ready pod of its current template on every node, the control plane included.

    Only pods the DaemonSet itself owns count (a copy run beside it by other means does not), and none may
    be replaced or restart for STABLE_FOR seconds."""

    def sample() -> CheckResult | Sample[dict[str, tuple[str, int]]]:
        try:
            ds = kube.get("apps/v1", "DaemonSet", name, namespace)
            if ds is None:
                return failed(f"DaemonSet {namespace}/{name} does not exist")
            nodes = sorted(n["metadata"]["name"] for n in kube.list("v1", "Node"))
            current = _current_revision(kube, ds, namespace)
            pods = [
                p
                for p in _live(kube.list("v1", "Pod", namespace, label_selector=_selector(ds)))
                if _owned_by(p, ds["metadata"]["uid"])
            ]
        except ClusterError as exc:
            return CheckResult("error", f"cannot read DaemonSet {namespace}/{name}: {exc}")
        on: dict[str, list[dict[str, Any]]] = {}
        for pod in pods:
            on.setdefault((pod.get("spec") or {}).get("nodeName") or "", []).append(pod)
        missing, unready, stale = [], [], []
        state: dict[str, tuple[str, int]] = {}
        for node in nodes:
            here = on.get(node, [])
            if not here:
                missing.append(node)
                continue
            fresh = [p for p in here if (p["metadata"].get("labels") or {}).get(REVISION_LABEL) == current]
            good = [p for p in fresh if _ready(p)]
            if len(here) != 1 or not fresh:
                stale.append(node)
            elif not good:
                unready.append(f"{node} ({here[0]['metadata']['name']})")
            else:
                state[node] = (good[0]["metadata"]["name"], _restarts(good[0]))
        problems = []
        if missing:
            problems.append(f"no pod on {', '.join(missing)}")
        if unready:
            problems.append(f"a pod that is not ready on {', '.join(unready)}")
        if stale:
            problems.append(f"no single pod of the current template on {', '.join(stale)}")
        if problems:
            return failed(
                f"DaemonSet {namespace}/{name} does not run on every node: {'; '.join(problems)}",
                f"kubectl -n {namespace} get ds {name}: DESIRED counts the nodes it may run on. "
                "Which nodes are missing, and what do they have that the others do not?",
            )
        steady = f", none replaced or restarting for {stable_for:.0f}s" if stable_for else ""
        return Sample(state, f"DaemonSet {namespace}/{name} runs a ready pod on each of {len(nodes)} nodes{steady}")

    def changed(first: dict[str, tuple[str, int]], now: dict[str, tuple[str, int]]) -> CheckResult | None:
        moved = sorted(n for n in first if now.get(n) != first[n])
        if not moved:
            return None
        return failed(
            f"DaemonSet {namespace}/{name}: its pod on {', '.join(moved)} restarted or was replaced "
            f"within {stable_for:.0f}s",
            "kubectl describe pod and kubectl logs --previous say why.",
        )

    return holds(sample, stable_for, poll, changed)
