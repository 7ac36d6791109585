"""Checks after a restore from an etcd backup: the objects lost came back as they were, not made anew."""

from __future__ import annotations

import posixpath

from breakers.etcd_backup import API_VERSIONS, parse_ref, store_key
from breakfix.context import SessionState
from breakfix.errors import ClusterError, StepError
from breakfix.kube import Kube
from breakfix.results import CheckResult, failed, passed
from breakfix.transport.node import Node


def objects_back(kube: Kube, state: SessionState, objects: list[str]) -> CheckResult:
    """Each of OBJECTS (`Kind namespace/name`) exists with the UID breakers.etcd_backup.remember_uids noted.

    An object created again by hand (from a manifest, or `kubectl create`) gets a new UID: only the data
    brought back from the backup has the old one."""
    missing, remade = [], []
    for ref in objects:
        try:
            kind, namespace, name = parse_ref(ref)
        except StepError as exc:
            return CheckResult("error", str(exc))
        noted = state.get(f"uid:{ref}")
        if noted is None:
            return CheckResult("error", f"the UID of {ref} was not noted when the lab started")
        try:
            obj = kube.get(API_VERSIONS[kind], kind, name, namespace)
        except ClusterError as exc:
            return CheckResult("error", f"cannot read {ref}: {exc}")
        if obj is None:
            missing.append(ref)
        elif obj["metadata"]["uid"] != noted:
            remade.append(ref)
    if missing or remade:
        parts = [f"missing: {', '.join(missing)}"] if missing else []
        parts += [f"made anew (another UID): {', '.join(remade)}"] if remade else []
        return failed(
            "not every object is back as it was; " + "; ".join(parts),
            "Objects made again by hand are new objects; what was lost is in the backup.",
        )
    return passed(f"{len(objects)} objects are back with the UIDs they had")


def store_kept(node: Node, state: SessionState, store: str = "/var/lib/etcd") -> CheckResult:
    """etcd's old store STORE is still the one it was before the break (its database is the same file, by inode).

    A restore belongs in a new folder: restored over the old store, the data that was there is gone for good."""
    noted = state.get(store_key(store))
    if noted is None:
        return CheckResult("error", f"the identity of {store} was not noted when the lab started")
    found = node.run("stat -c %%d:%%i %s", posixpath.join(store, "member/snap/db"), timeout=30)
    if not found.ok or found.stdout.strip() != noted:
        return failed(
            f"{store} on {node.name} no longer holds the store it held before the break",
            "The task asked to keep the old store as it was and to restore into a new folder.",
        )
    return passed(f"{store} on {node.name} still holds the store it held before the break")
