"""Admission webhooks: the serving certificate setup gives them, their settings, and the graders that judge them."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography import x509

from breakers import admission
from breakfix.changes import ChangeLog
from breakfix.errors import StepError
from breakfix.undo import replay
from graders.admission import admitted, fails_closed, refused_by
from tests.fakes import FakeKube, FakeTransport
from tests.unit.contexts import make_ctx

API = "admissionregistration.k8s.io/v1"
HOOK = "team-label.policy.example"
IMAGES = {"web": "example.local/web:1"}
DENIED = f'admission webhook "{HOOK}" denied the request: every pod needs a team label'
UNCALLABLE = f'Internal error occurred: failed calling webhook "{HOOK}": no endpoints available for service "p"'


def config(**hook: Any) -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "policy"},
        "webhooks": [
            {"name": "other.example", "clientConfig": {"service": {"name": "other", "namespace": "sys"}}},
            {"name": HOOK, "clientConfig": {"service": {"name": "p", "namespace": "sys"}}, **hook},
        ],
    }


@pytest.fixture
def kube() -> FakeKube:
    k = FakeKube({"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "Secret", "Pod"})
    k.create(config(failurePolicy="Fail"))
    return k


def test_the_serving_certificate_is_trusted_by_the_webhook_and_undone_at_reset(kube: FakeKube) -> None:
    ctx = make_ctx(FakeTransport(), kube)
    admission.serving_certificate(ChangeLog(ctx, "setup"), kube, "policy", "p", "sys", "p-tls")
    secret = kube.get("v1", "Secret", "p-tls", "sys")
    assert secret is not None and secret["type"] == "kubernetes.io/tls"
    cert = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
    live = kube.get(API, "ValidatingWebhookConfiguration", "policy")
    assert live is not None
    other, hook = live["webhooks"]
    assert "caBundle" not in other["clientConfig"]  # only the webhook that calls this Service
    ca = x509.load_pem_x509_certificate(base64.b64decode(hook["clientConfig"]["caBundle"]))
    cert.verify_directly_issued_by(ca)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert "p.sys.svc" in names and "p.sys.svc.cluster.local" in names
    replay(ctx)
    assert kube.get("v1", "Secret", "p-tls", "sys") is None
    back = kube.get(API, "ValidatingWebhookConfiguration", "policy")
    assert back is not None and "caBundle" not in back["webhooks"][1]["clientConfig"]


def test_a_service_no_webhook_calls_gets_no_certificate(kube: FakeKube) -> None:
    ctx = make_ctx(FakeTransport(), kube)
    with pytest.raises(StepError, match="no webhook of policy calls Service sys/q"):
        admission.serving_certificate(ChangeLog(ctx, "setup"), kube, "policy", "q", "sys", "q-tls")
    with pytest.raises(StepError, match="no webhook configuration named nope"):
        admission.serving_certificate(ChangeLog(ctx, "setup"), kube, "nope", "p", "sys", "p-tls")


def test_editing_one_webhook_leaves_the_others_and_is_undone(kube: FakeKube) -> None:
    ctx = make_ctx(FakeTransport(), kube)
    admission.edit_webhook(ChangeLog(ctx, "cheat"), kube, "policy", HOOK, {"failurePolicy": "Ignore"})
    assert fails_closed(kube, HOOK).ok is False
    live = kube.get(API, "ValidatingWebhookConfiguration", "policy")
    assert live is not None and live["webhooks"][0] == config()["webhooks"][0]
    with pytest.raises(StepError, match="has no webhook named nope"):
        admission.edit_webhook(ChangeLog(ctx, "cheat"), kube, "policy", "nope", {})
    replay(ctx)
    assert fails_closed(kube, HOOK).ok


def test_a_webhook_without_a_failure_policy_fails_closed_and_a_missing_one_fails(kube: FakeKube) -> None:
    kube.delete(API, "ValidatingWebhookConfiguration", "policy")
    assert "no webhook configuration has a webhook named" in fails_closed(kube, HOOK).message
    kube.create(config())  # v1's default is Fail
    assert fails_closed(kube, HOOK).ok


def test_admission_graders_read_the_answer_of_a_dry_run(kube: FakeKube) -> None:
    asked: list[dict[str, Any]] = []

    def answer(status: int, message: str = "") -> None:
        def admission(pod: dict[str, Any]) -> tuple[int, str]:
            asked.append(pod)
            return status, message

        kube.admission = admission

    answer(500, UNCALLABLE)
    result = admitted(kube, IMAGES, "orders", {"team": "orders"})
    assert not result.ok and "cannot be created in orders (HTTP 500)" in result.message
    assert asked[-1]["metadata"]["labels"] == {"team": "orders"}
    assert asked[-1]["spec"]["containers"][0]["image"] == "example.local/web:1"
    blind = refused_by(kube, IMAGES, "orders", HOOK)
    assert not blind.ok and "not by the policy's decision" in blind.message  # refused only because nobody answers
    assert asked[-1]["metadata"]["labels"] == {}
    answer(201)
    assert admitted(kube, IMAGES, "orders", {"team": "orders"}).ok
    open_door = refused_by(kube, IMAGES, "orders", HOOK)
    assert not open_door.ok and "a pod without labels is admitted" in open_door.message
    answer(403, DENIED)
    assert refused_by(kube, IMAGES, "orders", HOOK).ok
    assert not admitted(kube, IMAGES, "orders").ok
