"""Which cluster a command acts on, and the lab-cluster marker that allows breaking it."""

from __future__ import annotations

import dataclasses
import os
import time
import uuid
from pathlib import Path

from breakfix.errors import ClusterError, NotALabCluster
from breakfix.inventory import ClusterSpec, load_inventory
from breakfix.kube import Kube, KubeClient
from breakfix.state import State

MARKER_NAMESPACE = "kube-system"
MARKER_NAME = "breakfix-lab-cluster"


def resolve_cluster(store: State, name: str | None = None) -> ClusterSpec:
    """The cluster to use: --cluster, then BREAKFIX_CLUSTER, then the default, then the only one."""
    known = {c["name"]: c for c in store.clusters()}
    tried = []
    chosen = name
    if chosen:
        tried.append(f"--cluster {chosen}")
    elif os.environ.get("BREAKFIX_CLUSTER"):
        chosen = os.environ["BREAKFIX_CLUSTER"]
        tried.append(f"BREAKFIX_CLUSTER={chosen}")
    elif store.get_setting("default_cluster"):
        chosen = store.get_setting("default_cluster")
        tried.append(f"the default cluster {chosen}")
    elif len(known) == 1:
        chosen = next(iter(known))
    if not chosen:
        if not known:
            raise ClusterError(
                "no lab cluster yet: create one with `lab cluster up` or register one with "
                "`lab cluster adopt INVENTORY`"
            )
        raise ClusterError(
            f"several clusters are registered ({', '.join(known)}): pick one with --cluster or `lab cluster use NAME`"
        )
    if chosen not in known:
        raise ClusterError(
            f"no registered cluster {chosen!r} (tried {', '.join(tried)}; registered: {', '.join(known) or 'none'})"
        )
    spec = load_inventory(known[chosen]["inventory"])
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
