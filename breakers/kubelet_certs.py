"""Breakers for a node's kubelet client certificate: re-issued expired (the node was off too long), or renewed by hand.

The certificate file (the one the kubelet's link leads to) is journaled, so reset puts it back as it was.
"""

from __future__ import annotations

import datetime
import shlex

from breakers.cert_faults import _serial, serials_key
from breakers.pki import CA_CERT, CA_KEY, reissued_pem
from breakfix.changes import ChangeLog
from breakfix.context import SessionState
from breakfix.errors import StepError
from breakfix.transport.node import Node

KUBELET_CONF = "/etc/kubernetes/kubelet.conf"
KUBELET_CLIENT_PEM = "/var/lib/kubelet/pki/kubelet-client-current.pem"


def _control_plane(nodes: list[Node]) -> Node:
    found = next((n for n in nodes if n.role == "control-plane"), None)
    if found is None:
        raise StepError("no control-plane node holds the cluster's CA key")
    return found


def _pem_blocks(text: str) -> list[str]:
    """The PEM blocks of a file, in order (a kubelet's client file holds its certificate and its key)."""
    blocks, current = [], []
    for line in text.splitlines():
        current.append(line)
        if line.startswith("-----END "):
            blocks.append("\n".join(current) + "\n")
            current = []
    return blocks


def _reissue_kubelet_client(
    node: Node, changes: ChangeLog, nodes: list[Node], pem: str, kubeconfig: str, ca_cert: str, ca_key: str,
    starts: datetime.timedelta, lasts: datetime.timedelta, state: SessionState | None = None,
) -> None:  # fmt: skip
    """Write the kubelet's client certificate on NODE again (same subject and key), valid from now+STARTS for LASTS.

    The file the link PEM leads to is journaled; STATE notes both serial numbers under
    the kubeconfig's key (graders.client_certs.kubeconfig_cert_valid refuses a certificate the lab started with)."""
    target = node.check("readlink -f -- %s", pem, timeout=30).strip()
    text = node.read_text(target)
    blocks = _pem_blocks(text)
    certs = [b for b in blocks if "CERTIFICATE-----" in b.splitlines()[0]]
    if not certs:
        raise StepError(f"{node.name}: {target} holds no certificate")
    authority = _control_plane(nodes)
    try:
        new = reissued_pem(
            certs[0].encode(), authority.read_text(ca_cert).encode(), authority.read_text(ca_key).encode(),
            starts, lasts,
        ).decode()  # fmt: skip
    except ValueError as exc:
        raise StepError(f"{node.name}: cannot re-issue the kubelet's client certificate: {exc}") from None
    changes.write_file(node, target, "".join(new if b is certs[0] else b for b in blocks))
    if state is not None:
        noted = list(state.get(serials_key(kubeconfig)) or [])
        state.set(serials_key(kubeconfig), [*noted, _serial(certs[0].encode()), _serial(new.encode())])


def expire_kubelet_client_cert(
    node: Node, changes: ChangeLog, state: SessionState, nodes: list[Node], pem: str = KUBELET_CLIENT_PEM,
    kubeconfig: str = KUBELET_CONF, ca_cert: str = CA_CERT, ca_key: str = CA_KEY, expired_days_ago: int = 2,
) -> None:  # fmt: skip
    """Re-issue a node's kubelet client certificate (same node identity and key) from the cluster's CA, expired.

    As when a node was off longer than its certificate lasted: the kubelet can no longer renew it itself."""
    _reissue_kubelet_client(
        node, changes, nodes, pem, kubeconfig, ca_cert, ca_key,
        starts=-datetime.timedelta(days=365 + expired_days_ago), lasts=datetime.timedelta(days=365), state=state,
    )  # fmt: skip


def renew_kubelet_client_cert(
    node: Node, changes: ChangeLog, nodes: list[Node], pem: str = KUBELET_CLIENT_PEM, kubeconfig: str = KUBELET_CONF,
    ca_cert: str = CA_CERT, ca_key: str = CA_KEY, days: int = 365,
) -> None:  # fmt: skip
    """Re-issue a node's kubelet client certificate (same identity and key) from the cluster's CA for DAYS."""
    _reissue_kubelet_client(
        node, changes, nodes, pem, kubeconfig, ca_cert, ca_key,
        starts=-datetime.timedelta(minutes=5), lasts=datetime.timedelta(days=days, minutes=5),
    )  # fmt: skip


def kubeadm_node_kubeconfig(
    node: Node, changes: ChangeLog, nodes: list[Node], path: str = KUBELET_CONF, extra_groups: list[str] | None = None
) -> None:
    """kubeadm's documented fix: `kubeadm kubeconfig user` on the control plane for this node, written to PATH.

    The kubeconfig embeds a fresh certificate (CN system:node:NODE, O system:nodes and EXTRA_GROUPS, kubeadm's
    year) from the cluster's CA; PATH is journaled."""
    authority = _control_plane(nodes)
    orgs = " ".join(f"--org {shlex.quote(g)}" for g in ["system:nodes", *(extra_groups or [])])
    made = authority.run(f"kubeadm kubeconfig user {orgs} --client-name %s", f"system:node:{node.name}", timeout=120)
    if not made.ok or "client-certificate-data" not in made.stdout:
        raise StepError(f"{authority.name}: kubeadm kubeconfig user failed: {made.stderr.strip()[:200]}")
    changes.write_file(node, path, made.stdout)
