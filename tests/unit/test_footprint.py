"""Which labs may run together on one cluster: footprints drawn from the shipped labs' own steps."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from breakfix.api import Breakfix, shown_lab, shown_lab_id
from breakfix.catalog import Catalog, Lab, load_catalog
from breakfix.errors import BreakfixError, UsageError
from breakfix.footprint import WHOLE, first_clash, footprint, refuse_clashes
from breakfix.inventory import ClusterSpec
from breakfix.state import DRAWN, Session, SessionStatus
from tests.unit.contexts import lab_from


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def test_labs_in_their_own_namespaces_run_together(catalog: Catalog) -> None:
    labs = [catalog.get(i) for i in ("secret-key-missing", "liveness-probe-port", "sa-forbidden-api-group")]
    assert first_clash(labs) is None
    assert footprint(labs[0]).claims == frozenset({"namespace payments"})


@pytest.mark.parametrize(
    "lab_id",
    ["kubelet-stopped", "etcd-datadir", "coredns-scaled-down", "webhook-blocks-pods", "pending-taint", "node-cordoned"],
)
def test_labs_on_nodes_the_control_plane_or_shared_settings_run_alone(catalog: Catalog, lab_id: str) -> None:
    """A node's services, the control plane, kube-system, an admission webhook, the workers' taints: all shared."""
    alone = footprint(catalog.get(lab_id))
    assert alone.claims == frozenset({WHOLE}) and alone.why
    why = first_clash([catalog.get("secret-key-missing"), catalog.get(lab_id)])
    assert why == f"{lab_id} needs the cluster to itself"


def test_two_labs_in_one_namespace_clash(catalog: Catalog) -> None:
    why = first_clash([catalog.get("configmap-missing"), catalog.get("private-image-backoff")])
    assert why == "configmap-missing and private-image-backoff both use namespace billing"


def test_a_node_port_is_claimed(catalog: Catalog) -> None:
    assert "node port 30090" in footprint(catalog.get("nodeport-wrong-target")).claims


def test_a_storage_lab_claims_its_own_class_and_volume_by_name(catalog: Catalog) -> None:
    claims = footprint(catalog.get("pvc-access-mode")).claims
    assert {"StorageClass breakfix-archive", "PersistentVolume archive-pv", "namespace archive"} <= claims


def test_a_variant_is_judged_with_its_own_values(catalog: Catalog) -> None:
    lab = catalog.get("svc-target-port")
    namespaces = {ns for seed in range(12) for ns in footprint(lab.variant(seed)).claims}
    assert len(namespaces) > 1 and not any("{{" in ns for ns in namespaces)


def test_a_step_it_does_not_know_makes_the_lab_run_alone(tmp_path: Path) -> None:
    """Authors' own steps (BREAKFIX_STEP_MODULES) may do anything: such a lab never shares its cluster."""
    os.environ["BREAKFIX_STEP_MODULES"] = "tests.steps"
    try:
        lab = lab_from(tmp_path)
    finally:
        del os.environ["BREAKFIX_STEP_MODULES"]
    assert footprint(lab).alone and "tests.steps.write" in footprint(lab).why


def test_the_same_lab_twice_and_clashes_are_refused_in_one_line(catalog: Catalog) -> None:
    lab = catalog.get("secret-key-missing")
    assert first_clash([lab, lab]) == "secret-key-missing is named twice"
    with pytest.raises(BreakfixError, match=r"^these labs cannot run together on c1: .*separate clusters$"):
        refuse_clashes([lab, catalog.get("kubelet-stopped")], "c1")


def test_every_shipped_lab_has_a_footprint(catalog: Catalog) -> None:
    """No lab's footprint fails to draw; a third or more of the catalog can share a cluster."""
    prints = [footprint(lab.variant(0) if lab.has_variables else lab) for lab in catalog.labs.values()]
    sharing = [p for p in prints if not p.alone]
    assert len(sharing) >= len(prints) // 3
    assert all(p.claims for p in sharing)


def _on_a_cluster(catalog: Catalog, capabilities: frozenset[str]) -> Breakfix:
    """The API on a cluster that offers CAPABILITIES (nothing is reached: drawing reads the catalog only)."""
    spec = ClusterSpec("c1", "inventory", Path("/dev/null"), (), None, None, capabilities)
    bf = Breakfix(cluster="c1", catalog=catalog)
    bf._cluster = spec
    return bf


def test_count_draws_labs_that_fit_together_the_same_for_the_same_seed(catalog: Catalog) -> None:
    bf = _on_a_cluster(catalog, frozenset({"multi-node"}))
    drawn = bf.draw_together(4, [], seed=7)
    assert len(drawn) == 4 and drawn == bf.draw_together(4, [], seed=7)
    assert first_clash([bf.variant(lab_id, 7) for lab_id in drawn]) is None
    assert any(bf.draw_together(4, [], seed=s) != drawn for s in range(8, 12))
    assert {catalog.get(i).spec.domain for i in bf.draw_together(2, ["storage"], seed=1)} == {"storage"}


def test_count_asks_for_fewer_when_too_few_labs_fit(catalog: Catalog) -> None:
    bf = _on_a_cluster(catalog, frozenset())
    with pytest.raises(BreakfixError, match=r"^only \d+ of the labs c1 can run in storage fit on it together, not 9"):
        bf.draw_together(9, ["storage"], seed=1)
    with pytest.raises(UsageError, match="--domain networking: no such domain"):
        bf.draw_together(2, ["networking"], seed=1)
    with pytest.raises(UsageError, match="--count 0"):
        bf.draw_together(0, [], seed=1)


def test_a_drawn_lab_is_named_by_its_title_only() -> None:
    """The student did not choose it: its id (which names the fault) stays hidden, as in an exam."""
    session = Session(1, "c1", "kubelet-stopped", SessionStatus.active, 0, 0, 1, None, 0, None, None, None, {})
    assert shown_lab(session, "A node went quiet") == "kubelet-stopped (A node went quiet)"
    session.data[DRAWN] = True
    assert shown_lab_id(session) is None and shown_lab(session, "A node went quiet") == "A node went quiet"


def _lab_with(tmp_path: Path, manifest: str, **change: object) -> Lab:
    """A lab that applies MANIFEST and scales a Deployment in namespace team (checks from tests.steps)."""
    os.environ["BREAKFIX_STEP_MODULES"] = "tests.steps"
    try:
        folder = tmp_path / "demo"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "objects.yaml").write_text(manifest)
        scale = {"kind": "Deployment", "name": "app", "namespace": "team"}
        spec = {
            "setup": [{"apply": {"file": "objects.yaml"}}],
            "break": [{"breakers.kube.scale": {**scale, "replicas": 0}}],
            "grade": [{"tests.steps.ok": {}}],
            "solve": [{"breakers.kube.scale": {**scale, "replicas": 1}}],
            **change,
        }
        return lab_from(tmp_path, **spec)
    finally:
        del os.environ["BREAKFIX_STEP_MODULES"]


APP = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app, namespace: team}\n"


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        (  # a role aggregated into the built-in view role reaches every namespace's users
            "kind: ClusterRole\nmetadata:\n  name: reads\n"
            "  labels: {rbac.authorization.k8s.io/aggregate-to-view: 'true'}",
            "makes a ClusterRole",
        ),
        (  # a binding to a group reaches every service account of the cluster
            "kind: ClusterRoleBinding\nmetadata: {name: all}\nsubjects: [{kind: Group, name: system:serviceaccounts}]",
            "makes a ClusterRoleBinding",
        ),
        ("kind: FlowSchema\nmetadata: {name: slow}", "makes a FlowSchema"),  # a kind it does not know
        ("kind: MutatingAdmissionPolicy\nmetadata: {name: m}", "makes a MutatingAdmissionPolicy"),
        ("kind: ConfigMap\nmetadata: {name: c, namespace: kube-system}", "puts a ConfigMap into kube-system"),
        ("kind: [not, a, kind\n", "cannot be read (ParserError)"),  # a broken file: alone, never a traceback
        ("metadata: a", "holds something that is not an object"),
    ],
)
def test_objects_that_reach_beyond_the_labs_namespaces_make_it_run_alone(tmp_path: Path, extra: str, why: str) -> None:
    lab = _lab_with(tmp_path, f"{APP}---\n{extra}\n")
    found = footprint(lab)
    assert found.alone and why in found.why
    refuse_clashes([lab], "c1")  # one lab alone is never refused


def test_a_binding_to_a_service_account_claims_its_namespace(tmp_path: Path) -> None:
    binding = (
        "kind: ClusterRoleBinding\nmetadata: {name: reads}\nsubjects: [{kind: ServiceAccount, name: a, namespace: ops}]"
    )
    claims = footprint(_lab_with(tmp_path, f"{APP}---\n{binding}\n")).claims
    assert claims == {"namespace team", "namespace ops", "ClusterRoleBinding reads"}


def test_a_step_on_a_namespace_claims_that_namespace(tmp_path: Path, catalog: Catalog) -> None:
    """Labelling namespace shop (pod security, say) changes what svc-wrong-selector's pods may do there."""
    label = {
        "breakers.kube.patch": {"kind": "Namespace", "name": "shop", "patch": {"metadata": {"labels": {"a": "b"}}}}
    }
    lab = _lab_with(tmp_path, APP, solve=[label])
    assert "namespace shop" in footprint(lab).claims
    assert (
        first_clash([lab, catalog.get("svc-wrong-selector")]) == "demo and svc-wrong-selector both use namespace shop"
    )


def test_checks_claim_the_namespace_they_default_to(catalog: Catalog) -> None:
    """registry.anonymous_pull_refused makes its trial pod in `default` unless told otherwise."""
    assert "namespace default" in footprint(catalog.get("image-pull-unauthorized")).claims
