"""Breakers for etcd backups: a real snapshot taken, restored as an admin does, and the store put back on reset.

etcdctl and etcdutl run from etcd's own image (`ctr run`, the node's containerd), so nothing needs
installing on the node: the tools are the very version of the etcd that runs.
"""

from __future__ import annotations

import base64
import posixpath
import shlex
import uuid

from breakers._manifests import get_flag, load_pod, main_container, manifest_path
from breakers.manifest import RESTART_TIMEOUT_S, RESTART_WAIT_S, _restart_script
from breakfix.changes import ChangeLog
from breakfix.context import SessionState
from breakfix.errors import ClusterError, StepError
from breakfix.kube import Kube
from breakfix.transport.node import Node

PKI = "/etc/kubernetes/pki/etcd"
ETCD = "/etc/kubernetes/manifests/etcd.yaml"
ASIDE = "/etc/kubernetes/.breakfix-etcd.yaml"  # the manifest written here first, then moved into place whole
OFF = "/etc/kubernetes/.breakfix-etcd-off.yaml"  # etcd's manifest while reset stops etcd
#: Core and apps kinds a lab may ask to come back from a backup, with their API versions.
API_VERSIONS = {"ConfigMap": "v1", "Secret": "v1", "Service": "v1", "Deployment": "apps/v1", "StatefulSet": "apps/v1"}


def _etcd_image(node: Node) -> str:
    image = main_container(load_pod(node.read(ETCD), ETCD)).get("image")
    if not image:
        raise StepError(f"{node.name}: {ETCD} names no image")
    return str(image)


def _tool(node: Node, mounts: list[tuple[str, str, str]], argv: list[str], net_host: bool = False) -> str:
    """Shell that runs ARGV from etcd's image with MOUNTS (host, container, ro|rw), removing the container after."""
    return _tool_with_image(_etcd_image(node), mounts, argv, net_host)


def _tool_with_image(image: str, mounts: list[tuple[str, str, str]], argv: list[str], net_host: bool = False) -> str:
    """Shell that runs ARGV from IMAGE with MOUNTS (host, container, ro|rw), removing the container after."""
    opts = " ".join(
        f"--mount type=bind,src={shlex.quote(src)},dst={shlex.quote(dst)},options=rbind:{mode}"
        for src, dst, mode in mounts
    )
    name = f"breakfix-etcd-tool-{uuid.uuid4().hex[:8]}"
    net = "--net-host " if net_host else ""
    return f"ctr -n k8s.io run --rm {net}{opts} {shlex.quote(image)} {name} {shlex.join(argv)}"


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


def restore(node: Node, changes: ChangeLog, snapshot: str, data_dir: str, bump: bool = True) -> None:
    """Restore SNAPSHOT into the new folder DATA_DIR (etcdutl snapshot restore); undo removes that folder.

    BUMP: the revision is bumped and marked compacted, as Kubernetes asks, so that watchers of the API server
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
            *(["--bump-revision", "1000000000", "--mark-compacted"] if bump else []),
        ],
    )  # fmt: skip
    changes.command(node, run, undo=f"rm -rf -- {shlex.quote(data_dir)}", timeout=300)


def _store_back_script(manifest: bytes, store: str, inode: str, mode: str = "600:0:0") -> str:
    """Shell: etcd on STORE and on its manifest as it was (MANIFEST), moved past every revision given out since.

    While etcd ran on a restored store, every client (kubelets, controllers, kube-proxy) saw revisions that
    the old store never reached: going back to it as it is would leave their watches waiting for revisions
    "from the future". So the old store is copied forward (etcdutl, bumped and marked compacted: every
    watcher lists again), put in place, and kube-apiserver restarted. Exits non-zero, saying so, when
    STORE's database is no longer the file it was (INODE): it was replaced in place, its old data is gone.
    MODE (`octal:uid:gid`) is the manifest's, as it was."""
    pod = load_pod(manifest, ETCD)
    container = main_container(pod)
    flags = {f: get_flag(container, f) for f in ("--name", "--initial-cluster", "--initial-advertise-peer-urls")}
    member = [f"{flag}={value}" for flag, value in flags.items() if value]
    db = posixpath.join(store, "member/snap/db")
    bumped = f"{store}.breakfix-bumped"
    forward = _tool_with_image(
        str(container.get("image") or ""),
        [(posixpath.dirname(store), posixpath.dirname(store), "rw")],
        ["etcdutl", "snapshot", "restore", db, "--skip-hash-check", "--bump-revision", "1000000000000",
         "--mark-compacted", *member, "--data-dir", bumped],
    )  # fmt: skip
    restart_apiserver = _restart_script(manifest_path("kube-apiserver"), "kube-apiserver", "^etcd( |$)")
    q = shlex.quote
    etcd, aside, off = q(ETCD), q(ASIDE), q(OFF)
    encoded = base64.b64encode(manifest).decode()
    perm, _, owner = mode.partition(":")
    perm, owner = q(perm), q(owner)
    return (
        f"printf %s {encoded} | base64 -d > {aside} && chmod {perm} {aside} && chown {owner} {aside} || exit 1; "
        f'replaced=0; [ "$(stat -c %d:%i {q(db)} 2>/dev/null)" = {q(inode)} ] || replaced=1; '
        f"[ -f {etcd} ] && mv -f {etcd} {off}; "
        f'i=0; while pgrep -x etcd >/dev/null; do i=$((i+1)); [ "$i" -gt {RESTART_WAIT_S} ] && '
        '{ echo "etcd does not stop" >&2; exit 1; }; sleep 1; done; '
        f"rm -rf {q(bumped)} && {forward} >/dev/null 2>&1 || "
        f'{{ mv -f {aside} {etcd}; echo "could not copy {store} forward (etcdutl snapshot restore)" >&2; exit 1; }}; '
        # into the old store's own files: its database keeps its identity (inode), as the grade and later resets see it
        f"rm -rf {q(store)}/member/wal && mv {q(bumped)}/member/wal {q(store)}/member/wal && "
        f"rm -f {q(store)}/member/snap/*.snap && "
        f'for f in {q(bumped)}/member/snap/*.snap; do [ -e "$f" ] && mv "$f" {q(store)}/member/snap/; done; '
        f"cat {q(bumped)}/member/snap/db > {q(db)} && rm -rf {q(bumped)} || exit 1; "
        f"mv -f {aside} {etcd}; rm -f {off}; "
        'i=0; until pid=$(pgrep -x etcd | head -n1) && [ -n "$pid" ] '
        f'&& stat -L -c %d:%i /proc/"$pid"/fd/* 2>/dev/null | grep -qx "$(stat -c %d:%i {q(db)} 2>/dev/null)"; do '
        f'i=$((i+1)); [ "$i" -gt {RESTART_WAIT_S} ] && {{ echo "etcd does not run on {store}" >&2; exit 1; }}; '
        "sleep 1; done; "
        f"{restart_apiserver}; "
        f'[ "$replaced" = 0 ] || {{ echo "{store} held other data than before the lab (replaced in place?): '
        'its old data cannot be brought back" >&2; exit 1; }'
    )


def store_back_on_reset(node: Node, changes: ChangeLog, state: SessionState, store: str = "/var/lib/etcd") -> None:
    """Note etcd's manifest and its store now; on reset, etcd runs on both again, past every revision given out.

    A restore points etcd at another folder (its data dir or its volume); kube-apiserver and every watcher
    follow that store's revisions. The undo (see _store_back_script) puts the manifest back (kept in the
    journal, not in a file anyone could tidy away), copies the old store forward past those revisions, and
    restarts kube-apiserver. The database file's identity is noted too (graders.etcd_backup.store_kept): a
    store replaced in place is reported by reset, which cannot bring its old data back."""
    manifest = node.read(ETCD)
    if manifest is None:
        raise StepError(f"{node.name}: {ETCD} does not exist")
    db = posixpath.join(store, "member/snap/db")
    inode = node.check("stat -c %%d:%%i %s", db).strip()
    mode = node.check("stat -c %%a:%%u:%%g %s", ETCD).strip()
    state.set(store_key(store), inode)
    changes.command(node, "true", undo=_store_back_script(manifest, store, inode, mode),
                    timeout=RESTART_TIMEOUT_S + 2 * RESTART_WAIT_S + 300)  # fmt: skip


def store_key(store: str) -> str:
    """Where the identity (`dev:inode`) of STORE's database is noted in the session's state."""
    return f"etcd-store:{store}"


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
