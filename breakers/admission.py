"""Setup steps and breakers for admission webhooks: their serving certificate and their settings."""

from __future__ import annotations

import base64
import datetime
from typing import Any

from breakers.kube import _deep_merge
from breakfix.changes import ChangeLog
from breakfix.errors import StepError
from breakfix.kube import Kube

WEBHOOK_CONFIGS = ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration")
ADMISSION_API = "admissionregistration.k8s.io/v1"


def _service_names(service: str, namespace: str) -> list[str]:
    """The DNS names the API server may use for a Service (it dials SERVICE.NAMESPACE.svc)."""
    return [service, f"{service}.{namespace}", f"{service}.{namespace}.svc", f"{service}.{namespace}.svc.cluster.local"]


def _serving_pair(service: str, namespace: str, days: int) -> tuple[bytes, bytes, bytes]:
    """A new CA and a serving certificate it signs for SERVICE's names: (CA PEM, certificate PEM, key PEM)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{service} webhook CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )  # keyCertSign, cRLSign
        .sign(ca_key, hashes.SHA256())
    )
    names = _service_names(service, namespace)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[2])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return ca.public_bytes(pem), cert.public_bytes(pem), key_pem


def _config(kube: Kube, config: str) -> dict[str, Any]:
    """The webhook configuration named CONFIG (validating or mutating)."""
    for kind in WEBHOOK_CONFIGS:
        obj = kube.get(ADMISSION_API, kind, config)
        if obj is not None:
            return obj
    raise StepError(f"no webhook configuration named {config}")


def serving_certificate(
    changes: ChangeLog, kube: Kube, config: str, service: str, namespace: str, secret: str, days: int = 365
) -> None:
    """Give a webhook Service a TLS Secret from a new CA, and have webhook configuration CONFIG trust that CA."""
    obj = _config(kube, config)
    ca, cert, key = _serving_pair(service, namespace, days)
    changes.create_object(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/tls",
            "metadata": {"name": secret, "namespace": namespace},
            "data": {"tls.crt": base64.b64encode(cert).decode(), "tls.key": base64.b64encode(key).decode()},
        }
    )
    bundle = base64.b64encode(ca).decode()
    webhooks = []
    for hook in obj.get("webhooks") or []:
        target = (hook.get("clientConfig") or {}).get("service") or {}
        if target.get("name") == service and target.get("namespace") == namespace:
            hook = {**hook, "clientConfig": {**hook["clientConfig"], "caBundle": bundle}}
        webhooks.append(hook)
    if webhooks == (obj.get("webhooks") or []):
        raise StepError(f"no webhook of {config} calls Service {namespace}/{service}")
    changes.patch_object(ADMISSION_API, obj["kind"], config, None, {"webhooks": webhooks})


def edit_webhook(changes: ChangeLog, kube: Kube, config: str, webhook: str, patch: dict[str, Any]) -> None:
    """Change the settings of one webhook of configuration CONFIG (a merge of PATCH into its entry)."""
    obj = _config(kube, config)
    hooks = obj.get("webhooks") or []
    if not any(h.get("name") == webhook for h in hooks):
        raise StepError(f"{config} has no webhook named {webhook}")
    merged = [_deep_merge(h, patch) if h.get("name") == webhook else h for h in hooks]
    changes.patch_object(ADMISSION_API, obj["kind"], config, None, {"webhooks": merged})
