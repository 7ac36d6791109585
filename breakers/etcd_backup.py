"""Breakers for etcd backups: a real snapshot taken, restored as an admin does, and the store put back on reset.

etcdctl and etcdutl run from etcd's own image (`ctr run`, the node's containerd), so nothing needs
installing on the node: the tools are the very version of the etcd that runs.
"""

from __future__ import annotations

import posixpath
import shlex
import uuid

from breakers._manifests import load_pod, main_container, manifest_path
from breakers.manifest import RESTART_TIMEOUT_S, RESTART_WAIT_S, _restart_script
from breakfix.changes import ChangeLog
from breakfix.context import SessionState
from breakfix.errors import ClusterError, StepError
from breakfix.kube import Kube
from breakfix.transport.node import Node

PKI = "/etc/kubernetes/pki/etcd"
ETCD = "/etc/kubernetes/manifests/etcd.yaml"
SAVED = "/etc/kubernetes/etcd.yaml.breakfix-saved"
#: Core and apps kinds a lab may ask to come back from a backup, with their API versions.
API_VERSIONS = {"ConfigMap": "v1", "Secret": "v1", "Service": "v1", "Deployment": "apps/v1", "StatefulSet": "apps/v1"}


def _etcd_image(node: Node) -> str:
    image = main_container(load_pod(node.read(ETCD), ETCD)).get("image")
    if not image:
        raise StepError(f"{node.name}: {ETCD} names no image")
    return str(image)


def _tool(node: Node, mounts: list[tuple[str, str, str]], argv: list[str], net_host: bool = False) -> str:
    """Shell that runs ARGV from etcd's image with MOUNTS (host, container, ro|rw), removing the container after."""
    opts = " ".join(
        f"--mount type=bind,src={shlex.quote(src)},dst={shlex.quote(dst)},options=rbind:{mode}"
        for src, dst, mode in mounts
    )
    name = f"breakfix-etcd-tool-{uuid.uuid4().hex[:8]}"
    net = "--net-host " if net_host else ""
    return f"ctr -n k8s.io run --rm {net}{opts} {shlex.quote(_etcd_image(node))} {name} {shlex.join(argv)}"


def snapshot(node: Node, changes: ChangeLog, path: str = "/var/lib/etcd-backup/snapshot.db") -> None:
    """Take a real snapshot of the running etcd into PATH (etcdctl snapshot save); undo removes its folder.

    The folder must not exist yet: it is the lab's, and reset removes it whole."""
    folder = posixpath.dirname(path)
    if node.exists(folder):
        raise StepError(f"{node.name}: {folder} exists already; the backup folder must be the lab's own")
    save = _tool(
        node,
        [(PKI, PKI, "ro"), (folder, "/backup", "rw")],
        [
            "etcdctl", "--endpoints=https://127.0.0.1:2379", f"--cacert={PKI}/ca.crt",
            f"--cert={PKI}/healthcheck-client.crt", f"--key={PKI}/healthcheck-client.key",
            "snapshot", "save", f"/backup/{posixpath.basename(path)}",
        ],
        net_host=True,
    )  # fmt: skip
    changes.command(node, f"mkdir -p {shlex.quote(folder)} && {save}", undo=f"rm -rf -- {shlex.quote(folder)}")


def restore(node: Node, changes: ChangeLog, snapshot: str, data_dir: str) -> None:
    """Restore SNAPSHOT into the new folder DATA_DIR (etcdutl snapshot restore); undo removes that folder.

    The revision is bumped and marked compacted, as Kubernetes asks, so that watchers of the API server
    relist instead of waiting for revisions the restored store has already given out."""
    if node.exists(data_dir):
        raise StepError(f"{node.name}: {data_dir} exists already")
    parent, backup = posixpath.dirname(data_dir), posixpath.dirname(snapshot)
    run = _tool(
        node,
        [(backup, "/backup", "ro"), (parent, "/restore", "rw")],
        [
            "etcdutl", "snapshot", "restore", f"/backup/{posixpath.basename(snapshot)}",
            "--data-dir", f"/restore/{posixpath.basename(data_dir)}",
            "--bump-revision", "1000000000", "--mark-compacted",
        ],
    )  # fmt: skip
    changes.command(node, run, undo=f"rm -rf -- {shlex.quote(data_dir)}", timeout=300)


def _store_back_script(store: str) -> str:
    """Shell: etcd's manifest as saved, then (once etcd has STORE's database open) kube-apiserver restarted."""
    restart_apiserver = _restart_script(manifest_path("kube-apiserver"), "kube-apiserver", "^etcd( |$)")
    etcd, saved = shlex.quote(ETCD), shlex.quote(SAVED)
    db = shlex.quote(posixpath.join(store, "member/snap/db"))
    return (
        f"if [ -f {saved} ] && ! cmp -s {saved} {etcd}; then cp -p {saved} {etcd}; fi; "
        f"want=$(stat -c %d:%i {db}) || exit 1; i=0; "
        'until pid=$(pgrep -x etcd | head -n1) && [ -n "$pid" ] '
        '&& stat -L -c %d:%i /proc/"$pid"/fd/* 2>/dev/null | grep -qx "$want"; do '
        f'i=$((i+1)); [ "$i" -gt {RESTART_WAIT_S} ] && {{ echo "etcd does not run on {store}" >&2; exit 1; }}; '
        "sleep 1; done; "
        f"{restart_apiserver}; rm -f {saved}"
    )


def store_back_on_reset(node: Node, changes: ChangeLog, store: str = "/var/lib/etcd") -> None:
    """Save etcd's manifest now; on reset, etcd runs on it and on STORE again, then kube-apiserver is restarted.

    A restore points etcd at another folder (its data dir or its volume), and kube-apiserver caches what that
    store holds: the undo waits until etcd has STORE's own database open (the same file, by inode), whatever
    the student changed, and restarts kube-apiserver so that its caches follow."""
    changes.command(node, f"cp -p {shlex.quote(ETCD)} {shlex.quote(SAVED)}", undo=_store_back_script(store),
                    timeout=RESTART_TIMEOUT_S + RESTART_WAIT_S)  # fmt: skip


def remember_uids(kube: Kube, state: SessionState, objects: list[str]) -> None:
    """Note the UIDs of OBJECTS (`Kind namespace/name`), to tell later whether they came back or were made anew."""
    for ref in objects:
        kind, namespace, name = parse_ref(ref)
        try:
            obj = kube.get(API_VERSIONS[kind], kind, name, namespace)
        except ClusterError as exc:
            raise StepError(f"cannot read {ref}: {exc}") from None
        if obj is None:
            raise StepError(f"{ref} does not exist")
        state.set(f"uid:{ref}", obj["metadata"]["uid"])


def parse_ref(ref: str) -> tuple[str, str, str]:
    """`Kind namespace/name` as (kind, namespace, name); StepError for another form or an unknown kind."""
    kind, _, rest = ref.strip().partition(" ")
    namespace, _, name = rest.strip().partition("/")
    if kind not in API_VERSIONS or not namespace or not name:
        raise StepError(f"{ref!r}: write `Kind namespace/name` with a kind of {', '.join(sorted(API_VERSIONS))}")
    return kind, namespace, name
