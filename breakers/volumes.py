"""Setup steps and breakers for hand-made volumes: data folders on a node and the volumes that offer them."""

from __future__ import annotations

import secrets
import shlex
from typing import Literal

from breakfix.changes import ChangeLog
from breakfix.context import SessionState
from breakfix.errors import StepError
from breakfix.transport.base import FileStat
from breakfix.transport.node import Node


def data_key(name: str) -> str:
    """Where write_data keeps what it wrote in the session's state."""
    return f"data:{name}"


def write_data(
    node: Node, changes: ChangeLog, state: SessionState, name: str, folder: str, file: str = "index.html"
) -> None:
    """Create FOLDER on the node with a page holding a token of this session: the data a volume must keep.

    Graders find it by NAME (graders.volumes.serves_data, data_intact); a fresh folder or an emptyDir
    does not hold the token. The folder must not exist yet; undo removes it with everything in it."""
    if "/" in file or not file:
        raise StepError(f"file {file!r} must be a plain file name")
    if not folder.startswith("/") or folder.rstrip("/") in ("", "/var", "/var/lib", "/etc", "/tmp"):
        raise StepError(f"folder {folder!r} must be an absolute path of its own")
    if node.exists(folder):
        raise StepError(f"{node.name}: {folder} already exists; breakfix only removes folders it created")
    q = shlex.quote(folder)
    changes.command(node, f"install -d -m 755 {q}", undo=f"rm -rf -- {q}")
    token = f"{name}-{secrets.token_hex(8)}"
    path = f"{folder.rstrip('/')}/{file}"
    page = f"<html><body><h1>{name}</h1><p>{token}</p></body></html>\n"
    changes.write_file(node, path, page, FileStat(0o644, 0, 0))
    state.set(data_key(name), {"node": node.name, "folder": folder.rstrip("/"), "path": path, "token": token})


def create_volume(
    node: Node,
    changes: ChangeLog,
    name: str,
    path: str,
    storage_class: str,
    capacity: str = "1Gi",
    access_modes: list[str] | None = None,
    source: Literal["local", "hostPath"] = "local",
) -> None:
    """Create a PersistentVolume of the folder PATH on NODE, pinned to that node by its node affinity.

    A hand-made volume, as with the `kubernetes.io/no-provisioner` class; undo deletes it."""
    hostpath = {"hostPath": {"path": path, "type": "Directory"}}
    volume_source = {"local": {"path": path}} if source == "local" else hostpath
    changes.create_object(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": name},
            "spec": {
                "storageClassName": storage_class,
                "capacity": {"storage": capacity},
                "accessModes": list(access_modes or ["ReadWriteOnce"]),
                "persistentVolumeReclaimPolicy": "Retain",
                **volume_source,
                "nodeAffinity": {
                    "required": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {"key": "kubernetes.io/hostname", "operator": "In", "values": [node.name]}
                                ]
                            }
                        ]
                    }
                },
            },
        }
    )
