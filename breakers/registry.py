"""Setup steps and breakers for pulls from the cluster's private registry (role registry)."""

from __future__ import annotations

import base64
import json
from typing import Any

from breakfix.changes import ChangeLog
from breakfix.errors import StepError
from breakfix.kube import Kube
from breakfix.transport.node import Node

#: The Secret the registry role keeps in kube-system: the registry's address and a user's credentials.
LOGIN_SECRET = "breakfix-registry-login"
DOCKER_CONFIG = ".dockerconfigjson"


def _login(kube: Kube, namespace: str, name: str) -> dict[str, Any]:
    """The parsed .dockerconfigjson of Secret NAMESPACE/NAME."""
    secret = kube.get("v1", "Secret", name, namespace)
    if secret is None:
        raise StepError(f"Secret {namespace}/{name} does not exist (does this cluster have the private registry?)")
    raw = (secret.get("data") or {}).get(DOCKER_CONFIG)
    if not raw:
        raise StepError(f"Secret {namespace}/{name} holds no {DOCKER_CONFIG}")
    config: dict[str, Any] = json.loads(base64.b64decode(raw))
    return config


def _secret(namespace: str, name: str, config: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/dockerconfigjson",
        "metadata": {"name": name, "namespace": namespace},
        "data": {DOCKER_CONFIG: base64.b64encode(json.dumps(config).encode()).decode()},
    }


def copy_login(
    changes: ChangeLog,
    kube: Kube,
    namespace: str,
    name: str,
    source_namespace: str = "kube-system",
    source: str = LOGIN_SECRET,
) -> None:
    """Give pull Secret NAMESPACE/NAME the credentials in Secret SOURCE (the registry's own by default)."""
    data = _secret(namespace, name, _login(kube, source_namespace, source))
    if kube.get("v1", "Secret", name, namespace) is None:
        changes.create_object(data)
    else:
        changes.patch_object("v1", "Secret", name, namespace, {"data": data["data"]})


def spoil_login(changes: ChangeLog, kube: Kube, namespace: str, name: str) -> None:
    """Replace the password in pull Secret NAMESPACE/NAME with an old one (same user, same registry)."""
    config = _login(kube, namespace, name)
    for entry in (config.get("auths") or {}).values():
        user = entry.get("username") or base64.b64decode(entry.get("auth", "")).decode().partition(":")[0]
        entry.update({"username": user, "password": "Winter2025!"})
        entry["auth"] = base64.b64encode(f"{user}:Winter2025!".encode()).decode()
    changes.patch_object("v1", "Secret", name, namespace, {"data": _secret(namespace, name, config)["data"]})


CONTAINERD_CONFIG = "/etc/containerd/config.toml"


def node_credentials(changes: ChangeLog, kube: Kube, node: Node) -> None:
    """Give NODE's containerd the registry's credentials for every pull (a shortcut: anyone's pods pull)."""
    auths = _login(kube, "kube-system", LOGIN_SECRET).get("auths") or {}
    lines = []
    for address, entry in auths.items():
        user, _, password = base64.b64decode(entry.get("auth", "")).decode().partition(":")
        lines += [
            f'\n[plugins."io.containerd.grpc.v1.cri".registry.configs."{address}".auth]',
            f"  username = {json.dumps(user)}",
            f"  password = {json.dumps(password)}",
        ]
    if not lines:
        raise StepError(f"Secret kube-system/{LOGIN_SECRET} names no registry")

    def add(old: bytes | None) -> bytes:
        return (old or b"") + ("\n".join(lines) + "\n").encode()

    changes.edit_file(node, CONTAINERD_CONFIG, add)
    changes.unit(node, "containerd", "restart")
