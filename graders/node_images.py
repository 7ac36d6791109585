"""Checks on the images nodes hold: what a workload runs is the very image released, not one named like it."""

from __future__ import annotations

from typing import Any

from breakfix.errors import BreakfixError, ClusterError
from breakfix.kube import Kube
from breakfix.results import CheckResult, failed, passed
from breakfix.transport.node import Node
from graders._images import qualified
from graders.workload_specs import _live, _owned_by, _selector


def parse_image_list(text: str) -> dict[str, str]:
    """`ctr images ls` output as REF -> manifest digest (the DIGEST column)."""
    found: dict[str, str] = {}
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 3 and fields[2].startswith("sha256:"):
            found[fields[0]] = fields[2]
    return found


def image_ids(listing: dict[str, str], ref: str) -> tuple[set[str], str]:
    """What a pod's imageID may read for REF: the image's IDs (containerd's `sha256:` refs), and its manifest digest.

    containerd reports an image by ID, or by the first `repository@digest` it knows for that content, which
    may be another name of the same image (a pause image pulled from its registry): the digest decides."""
    manifest = listing.get(ref)
    if manifest is None:
        return set(), ""
    return {r for r, d in listing.items() if d == manifest and r.startswith("sha256:")}, manifest


def _same_image(image_id: str, ids: set[str], manifest: str) -> bool:
    return image_id in ids or (bool(manifest) and image_id.endswith(f"@{manifest}"))


def _started_as(pod: dict[str, Any], container: object) -> str:
    """The image a pod's spec names for CONTAINER, qualified (its status may name the image by another of its tags)."""
    for c in (pod.get("spec") or {}).get("containers") or []:
        if c.get("name") == container:
            return qualified(str(c.get("image") or ""))
    return ""


def runs_image_held_by(
    kube: Kube, node: Node, name: str, image: str, namespace: str = "default", kind: str = "Deployment"
) -> CheckResult:
    """Each running container of workload NAME started as IMAGE runs the very image NODE holds as IMAGE (same content).

    A pod's imageID is what ran, whatever name it was started by: another image tagged under the released
    name on a worker does not pass, while the release exported and imported, or tagged anew, does."""
    try:
        listed = node.run("ctr -n k8s.io images ls", timeout=60)
    except BreakfixError as exc:
        return CheckResult("error", f"cannot list the images on {node.name}: {exc}")
    if not listed.ok:
        return CheckResult("error", f"cannot list the images on {node.name}: {listed.stderr.strip()[:200]}")
    ids, manifest = image_ids(parse_image_list(listed.stdout), image)
    if not ids and not manifest:
        return CheckResult("error", f"{node.name} holds no image {image} to compare with")
    try:
        obj = kube.get("apps/v1", kind, name, namespace)
        pods = _live(kube.list("v1", "Pod", namespace, label_selector=_selector(obj))) if obj else []
    except ClusterError as exc:
        return CheckResult("error", f"cannot read {kind} {namespace}/{name}: {exc}")
    if obj is None:
        return failed(f"{kind} {namespace}/{name} does not exist")
    if kind != "Deployment":
        pods = [p for p in pods if _owned_by(p, obj["metadata"]["uid"])]
    statuses = [
        (p["metadata"]["name"], s)
        for p in pods
        for s in (p.get("status") or {}).get("containerStatuses") or []
        if "running" in (s.get("state") or {}) and _started_as(p, s.get("name")) == qualified(image)
    ]
    if not statuses:
        return failed(f"no container of {kind} {name} runs {image}, so what it runs cannot be judged")
    others = sorted({pod for pod, s in statuses if not _same_image(str(s.get("imageID") or ""), ids, manifest)})
    if others:
        return failed(
            f"{', '.join(others)} of {kind} {name} run an image other than the {image} {node.name} holds",
            "Compare the pods' imageID (kubectl get pod -o jsonpath='{..imageID}') with the image on each node.",
        )
    return passed(f"every running container of {kind} {name} runs the {image} that {node.name} holds")
