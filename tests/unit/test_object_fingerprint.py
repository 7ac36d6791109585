"""The cluster's own objects: what a student changed beside the journal is named, and reset puts it back."""

from __future__ import annotations

from typing import Any

from breakfix import object_fingerprint as objects
from breakfix.clusters import MARKER_NAME, MARKER_NAMESPACE
from tests.fakes import FakeKube
from tests.unit.contexts import CLUSTER_KINDS as KINDS


def namespace(name: str, phase: str = "Active") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}, "status": {"phase": phase}}


def configmap(name: str, ns: str = "kube-system", **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}, "data": data}


def cluster() -> FakeKube:
    kube = FakeKube(KINDS)
    for ns in ("default", "kube-system", "team"):
        kube.create(namespace(ns))
    kube.create(configmap("coredns", Corefile=".:53 { kubernetes cluster.local }"))
    kube.create(configmap(MARKER_NAME, MARKER_NAMESPACE, id="m1"))
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}},
            "spec": {"clusterIP": "10.96.0.10", "ports": [{"port": 53, "targetPort": 53}]},
            "status": {"loadBalancer": {}},
        }
    )
    kube.create(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "coredns", "namespace": "kube-system", "annotations": {"a": "1"}},
            "spec": {"replicas": 2},
        }
    )
    return kube


def test_nothing_differs_when_only_status_and_controller_bookkeeping_moved() -> None:
    kube = cluster()
    before = objects.take(kube)
    key = ("apps/v1", "Deployment", "kube-system", "coredns")
    kube.objects[key]["status"] = {"readyReplicas": 2}
    kube.objects[key]["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = "7"
    kube.patch("v1", "ConfigMap", MARKER_NAME, MARKER_NAMESPACE, {"metadata": {"annotations": {"lease": "x"}}})
    kube.create(
        {**configmap("owned"), "metadata": {**configmap("owned")["metadata"], "ownerReferences": [{"uid": "u"}]}}
    )
    kube.create(namespace("leaving"))  # a lab's namespace, still being deleted after its journal was replayed
    kube.objects[("v1", "Namespace", None, "leaving")]["status"]["phase"] = "Terminating"
    kube.create(configmap("inside", "leaving"))
    assert objects.differences(before, kube) == []
    assert objects.restore(before, kube, print) == []


def test_every_change_beside_the_journal_is_named_then_put_back() -> None:
    kube = cluster()
    before = objects.take(kube)
    kube.patch("v1", "ConfigMap", "coredns", "kube-system", {"data": {"Corefile": "broken"}})
    kube.delete("v1", "Service", "kube-dns", "kube-system")
    kube.create({**before["objects"]["v1|Service|kube-system|kube-dns"], "spec": {"clusterIP": "10.96.0.99"}})
    kube.patch("apps/v1", "Deployment", "coredns", "kube-system", {"spec": {"replicas": 5}})
    kube.create(
        {
            "apiVersion": objects.RBAC,
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "app-edit"},
            "roleRef": {"kind": "ClusterRole", "name": "edit"},
        }
    )
    kube.create(namespace("scratch"))
    kube.create(configmap("new", "default"))
    kube.delete("v1", "Namespace", "team")
    assert objects.differences(before, kube) == [
        "namespace team was deleted",
        "namespace scratch was created",
        "Deployment kube-system/coredns was changed",
        "Service kube-system/kube-dns was changed",
        "ConfigMap kube-system/coredns was changed",
        "ClusterRoleBinding app-edit was created",
        "ConfigMap default/new was created",
    ]
    said: list[str] = []
    assert objects.restore(before, kube, said.append) == []
    assert objects.differences(before, kube) == []
    assert kube.objects[("v1", "Service", "kube-system", "kube-dns")]["spec"]["clusterIP"] == "10.96.0.10"
    assert "  put back Service kube-system/kube-dns (changed during the lab)" in said
    assert "  removed namespace scratch (created during the lab)" in said


def test_what_cannot_be_put_back_is_one_line_each() -> None:
    kube = cluster()
    before = objects.take(kube)
    kube.delete("v1", "ConfigMap", "coredns", "kube-system")
    left = objects.restore(before, _RefusesReplace(kube), lambda _m: None)  # type: ignore[arg-type]
    assert left == ["could not put back ConfigMap kube-system/coredns (deleted during the lab): refused"]


class _RefusesReplace:
    """A FakeKube whose replaces the API server refuses."""

    def __init__(self, kube: FakeKube) -> None:
        self.kube = kube

    def __getattr__(self, name: str) -> Any:
        return getattr(self.kube, name)

    def replace(self, obj: dict[str, Any]) -> dict[str, Any]:
        from breakfix.errors import StepError

        raise StepError("refused")


def test_aggregated_roles_and_big_clusters_are_not_compared() -> None:
    kube = cluster()
    role = {
        "apiVersion": objects.RBAC,
        "kind": "ClusterRole",
        "metadata": {"name": "admin"},
        "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"agg": "true"}}]},
        "rules": [{"verbs": ["get"]}],
    }
    kube.create(role)
    before = objects.take(kube)
    kube.patch(objects.RBAC, "ClusterRole", "admin", None, {"rules": [{"verbs": ["get", "list"]}]})
    assert objects.differences(before, kube) == []
    big = dict(before, objects={}, skipped="9000 objects (more than 5000)")
    kube.delete("v1", "ConfigMap", "coredns", "kube-system")
    assert objects.differences(big, kube) == [] and objects.restore(big, kube, print) == []
    assert objects.differences(None, kube) == []


def test_objects_their_component_rewrites_are_left_to_it() -> None:
    kube = cluster()
    kube.create(namespace("kube-public"))
    kube.create(configmap("cluster-info", "kube-public", kubeconfig="k"))
    before = objects.take(kube)
    patch = {"data": {"jws-kubeconfig-abcdef": "signature"}}
    kube.patch("v1", "ConfigMap", "cluster-info", "kube-public", patch)  # the bootstrap signer at work
    assert objects.differences(before, kube) == []


def test_the_cluster_ca_the_controller_manager_publishes_is_left_to_it() -> None:
    """kube-root-ca.crt appears in every namespace whenever the controller-manager gets to it: not a lab's change."""
    kube = cluster()
    kube.create(namespace("kube-public"))
    before = objects.take(kube)
    kube.create(configmap(objects.ROOT_CA, "kube-public", **{"ca.crt": "PEM"}))
    kube.create(configmap("app-settings", "kube-public", mode="x"))
    assert objects.differences(before, kube) == ["ConfigMap kube-public/app-settings was created"]


def volume(name: str, provisioned: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if provisioned:
        meta["annotations"] = {objects.PROVISIONED_BY: "rancher.io/local-path"}
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": meta, "spec": {"hostPath": {"path": "/d"}}}


def test_reset_removes_a_volume_made_by_hand_during_the_lab_and_keeps_the_others() -> None:
    kube = cluster()
    kube.create(volume("shared-pv"))  # there before the lab: a claim's binding may change it, it stays
    before = objects.take(kube)
    kube.create(volume("ledger-pv-2"))  # a student's second volume for a lab's folder
    kube.create(volume("pvc-1234", provisioned=True))  # a provisioner's: it deletes it with its claim
    kube.patch("v1", "PersistentVolume", "shared-pv", None, {"spec": {"claimRef": {"name": "x", "namespace": "team"}}})
    assert objects.differences(before, kube) == ["PersistentVolume ledger-pv-2 was created"]
    said: list[str] = []
    assert objects.restore(before, kube, said.append) == []
    assert kube.get("v1", "PersistentVolume", "ledger-pv-2") is None
    assert kube.get("v1", "PersistentVolume", "shared-pv") is not None
    assert kube.get("v1", "PersistentVolume", "pvc-1234") is not None
    assert said == [
        "  removed PersistentVolume ledger-pv-2 (created by hand during the lab; its folder or disk is left alone)"
    ]


def test_a_snapshot_that_did_not_count_volumes_removes_none() -> None:
    kube = cluster()
    before = objects.take(kube)
    del before["volumes"]  # taken by an older breakfix, before a session that is still running
    kube.create(volume("ledger-pv-2"))
    assert objects.differences(before, kube) == [] and objects.restore(before, kube, print) == []


def test_a_cronjob_made_during_the_lab_is_removed_by_reset() -> None:
    """A student's own CronJob would go on starting Jobs in the next lab."""
    kube = cluster()
    before = objects.take(kube)
    kube.create(
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": "report-fixed", "namespace": "default"},
            "spec": {"schedule": "* * * * *"},
        }
    )
    assert objects.differences(before, kube) == ["CronJob default/report-fixed was created"]
    assert objects.restore(before, kube, lambda _m: None) == []
    assert kube.get("batch/v1", "CronJob", "report-fixed", "default") is None
