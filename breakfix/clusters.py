"""Which cluster a command acts on, and the lab-cluster marker that allows breaking it."""

from __future__ import annotations

import dataclasses
import json
import socket
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from breakfix.cluster_choice import chosen_cluster
from breakfix.errors import ApiRefused, ClusterError, NotALabCluster
from breakfix.inventory import ClusterSpec, load_inventory
from breakfix.kube import Kube, KubeClient
from breakfix.state import State

MARKER_NAMESPACE = "kube-system"
JOURNAL_COPY = "breakfix-journal"  # ConfigMap beside the marker: the running lab's journal (breakfix.journal_copy)
MARKER_NAME = "breakfix-lab-cluster"


def resolve_cluster(store: State, name: str | None = None) -> ClusterSpec:
    """The cluster to use: --cluster, then BREAKFIX_CLUSTER, then the default, then the only one."""
    chosen, inventory = chosen_cluster(store, name)
    spec = load_inventory(inventory)
    if spec.name != chosen:
        spec = dataclasses.replace(spec, name=chosen)
    return spec


def read_marker(kube: Kube) -> dict[str, str] | None:
    """The marker's data, or None when the cluster is not marked."""
    cm = kube.get("v1", "ConfigMap", MARKER_NAME, MARKER_NAMESPACE)
    return dict((cm or {}).get("data") or {}) if cm else None


def check_marker(kube: Kube, store: State, cluster: str) -> None:
    """Refuse to go on unless the cluster carries the marker breakfix registered for it."""
    row = next((c for c in store.clusters() if c["name"] == cluster), None)
    marker = read_marker(kube)
    if marker is None:
        raise NotALabCluster(
            f"cluster {cluster} has no breakfix marker (ConfigMap {MARKER_NAMESPACE}/"
            f"{MARKER_NAME}); breakfix breaks only lab clusters: see `lab cluster adopt`"
        )
    if row is not None and marker.get("id") != row["marker"]:
        raise NotALabCluster(
            f"cluster {cluster}: its marker id {marker.get('id')} is not the one registered "
            f"here ({row['marker']}); re-adopt it if it really is the same lab cluster"
        )


def adopt(store: State, inventory: Path, name: str | None = None, kube: Kube | None = None) -> ClusterSpec:
    """Mark the cluster an inventory describes as a lab cluster and register it."""
    spec = load_inventory(inventory)
    cluster = name or spec.name
    api = kube or KubeClient(spec.kubeconfig, spec.context)
    api.version()
    marker = read_marker(api)
    if marker is None:
        marker = {
            "id": uuid.uuid4().hex,
            "cluster": cluster,
            "adopted": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        api.create(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": MARKER_NAME,
                    "namespace": MARKER_NAMESPACE,
                    "labels": {"app.kubernetes.io/managed-by": "breakfix"},
                },
                "data": marker,
            }
        )
    store.add_cluster(cluster, str(spec.inventory), spec.provider, marker["id"])
    if store.get_setting("default_cluster") is None:
        store.set_setting("default_cluster", cluster)
    return spec


# the lease: which machine's breakfix runs a lab on the cluster ------------------------------------
LEASE = "breakfix.dev/lease"  # an annotation on the marker: JSON {holder, host, cluster, session, lab, since, expires}
#: an annotation on the marker: which machine's lab another one took over (`lab reset --take-over`), and when
TAKEN_OVER = "breakfix.dev/taken-over"
LEASE_GRACE = 3600.0  # a lease lasts an hour past the lab's deadline or its last grade/status


class LeaseHeld(ClusterError):
    """The cluster runs a lab for another machine, state folder or registered name."""


def _machine_id() -> str:
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text:
            return text
    return socket.gethostname()


def lease_holder(store: State, cluster: str) -> str:
    """Who this command is, for the lease: machine id, this state folder's id, the cluster's registered name."""
    state_id = store.setting_once("state_id", uuid.uuid4().hex)  # parallel exam starts must agree on it
    return f"{_machine_id()}/{state_id}/{cluster}"


def _when(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


def read_lease(kube: Kube) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The marker ConfigMap and its lease (None when there is none or it cannot be read)."""
    cm = kube.get("v1", "ConfigMap", MARKER_NAME, MARKER_NAMESPACE)
    if cm is None:
        return None, None
    raw = ((cm.get("metadata") or {}).get("annotations") or {}).get(LEASE)
    try:
        lease = json.loads(raw) if raw else None
    except ValueError:
        lease = None
    return cm, lease if isinstance(lease, dict) else None


def describe_lease(lease: dict[str, Any]) -> str:
    """Who holds a lease and since when, in one phrase."""
    return (
        f"lab {lease.get('lab', '?')} (session {lease.get('session', '?')}) for {lease.get('host', '?')}, "
        f"where the cluster is registered as {lease.get('cluster', '?')}, since {_when(float(lease.get('since', 0)))}"
    )


def _write_lease(
    kube: Kube, cm: dict[str, Any], lease: dict[str, Any] | None, noted: dict[str, str] | None = None
) -> None:
    """Replace the marker with LEASE (and NOTED annotations), at the resourceVersion read: a concurrent taker
    makes this fail (409)."""
    meta = cm["metadata"]
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != LEASE}
    annotations.update(noted or {})
    if lease is not None:
        annotations[LEASE] = json.dumps(lease, sort_keys=True)
    kept = {k: v for k, v in meta.items() if k != "managedFields"}  # the server keeps its own
    body = {**cm, "metadata": {**kept, "annotations": annotations}}
    kube.replace(body)


def hold_lease(
    kube: Kube,
    store: State,
    cluster: str,
    session: int,
    lab: str,
    until: float,
    log: Callable[[str], None] = lambda _m: None,
) -> None:
    """Take or renew the cluster's lease for SESSION until UNTIL; refuse while another holder's lease runs."""
    me = lease_holder(store, cluster)
    cm, lease = read_lease(kube)
    if cm is None:
        raise NotALabCluster(f"cluster {cluster} has no breakfix marker: see `lab cluster adopt`")
    now = time.time()
    if lease is not None and lease.get("holder") != me:
        if float(lease.get("expires", 0)) > now:
            raise LeaseHeld(
                f"cluster {cluster} is in use: {describe_lease(lease)}, until {_when(float(lease['expires']))} "
                "(its `lab reset` frees it)"
            )
        log(f"taking over an expired lease on {cluster}: {describe_lease(lease)}")
    ours = lease is not None and lease.get("holder") == me and lease.get("session") == session
    new = {
        "holder": me,
        "host": socket.gethostname(),
        "cluster": cluster,
        "session": session,
        "lab": lab,
        "since": float(lease["since"]) if ours and lease else now,
        "expires": until,
    }
    try:
        _write_lease(kube, cm, new)
    except ApiRefused as exc:
        if exc.status != 409:
            raise
        _, winner = read_lease(kube)
        who = describe_lease(winner) if winner else "someone else"
        raise LeaseHeld(f"cluster {cluster} was taken at the same moment: {who} (its `lab reset` frees it)") from None


def release_lease(kube: Kube, store: State, cluster: str) -> bool:
    """Give up this command's lease on the cluster, if it holds one; True when one was released."""
    me = lease_holder(store, cluster)
    for _attempt in range(3):
        cm, lease = read_lease(kube)
        if cm is None or lease is None or lease.get("holder") != me:
            return False
        try:
            _write_lease(kube, cm, None)
            return True
        except ApiRefused as exc:  # changed meanwhile (a renewal, a label): read again
            if exc.status != 409:
                raise
    return False


def take_over_lease(kube: Kube, store: State, cluster: str, session: int, lab: str, holder: str) -> None:
    """Take the lease HOLDER has (a lab started from another machine, whose journal this machine takes over)."""
    cm, lease = read_lease(kube)
    if cm is None or lease is None or lease.get("holder") != holder:
        return
    mine = {**lease, "holder": lease_holder(store, cluster), "host": socket.gethostname(), "cluster": cluster}
    handed = {"holder": holder, "session": lease.get("session"), "by": socket.gethostname(), "at": time.time()}
    lease_now = {**mine, "session": session, "lab": lab, "expires": time.time() + LEASE_GRACE}  # held while it resets
    _write_lease(kube, cm, lease_now, {TAKEN_OVER: json.dumps(handed, sort_keys=True)})


def taken_over(kube: Kube, store: State, cluster: str, session: int) -> str | None:
    """Who took this machine's lab SESSION over (and reset it) from another machine, or None."""
    cm, _lease = read_lease(kube)
    raw = ((cm or {}).get("metadata", {}).get("annotations") or {}).get(TAKEN_OVER)
    try:
        handed = json.loads(raw) if raw else None
    except ValueError:
        return None
    if not isinstance(handed, dict) or (handed.get("holder"), handed.get("session")) != (
        lease_holder(store, cluster),
        session,
    ):
        return None
    return f"{handed.get('by', '?')} at {_when(float(handed.get('at', 0)))}"
