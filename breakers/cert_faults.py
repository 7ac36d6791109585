"""Breakers that re-issue a certificate wrong in one way (not yet valid, a name missing), and kubeadm's way to redo it.

No clock is ever changed: the certificate is. Each journals the certificate and its key, so reset puts back
the pair as it was, whoever wrote them in between.
"""

from __future__ import annotations

import base64
import binascii
import datetime

import yaml

from breakers.kubeconfig_file import _current_entry, _load
from breakers.pki import APISERVER_CERT, CA_CERT, CA_KEY, KUBEADM_RENEW_TIMEOUT_S, _key_of, _reissue, reissued_pem
from breakfix.certs import cert_names
from breakfix.changes import ChangeLog
from breakfix.context import SessionState
from breakfix.errors import ClusterError, StepError
from breakfix.kube import Kube
from breakfix.transport.node import Node

ADMIN_CONF = "/etc/kubernetes/admin.conf"
#: Where kubeadm_phase_cert writes the cluster's kubeadm configuration for kubeadm to read (removed at reset).
CONFIG_COPY = "/root/breakfix-kubeadm-config.yaml"


def _names(node: Node, cert: str) -> list[str]:
    from cryptography import x509

    try:
        return cert_names(x509.load_pem_x509_certificate(node.read_text(cert).encode()))
    except ValueError as exc:
        raise StepError(f"{node.name}: cannot read {cert}: {exc}") from None


def not_yet_valid(
    node: Node,
    changes: ChangeLog,
    cert: str = APISERVER_CERT,
    ca_cert: str = CA_CERT,
    ca_key: str = CA_KEY,
    starts_in_days: int = 30,
) -> None:
    """Re-issue a certificate as it is (subject, key, names), signed by its CA, valid only from STARTS_IN_DAYS on.

    What a renewal made while the node's clock ran ahead leaves behind once the clock is right again."""
    if starts_in_days < 1:
        raise StepError(f"starts_in_days must be 1 or more, not {starts_in_days}")
    _reissue(
        node, changes, cert, ca_cert, ca_key,
        starts=datetime.timedelta(days=starts_in_days), lasts=datetime.timedelta(days=365),
    )  # fmt: skip


def drop_name(
    node: Node, changes: ChangeLog, name: str, cert: str = APISERVER_CERT, ca_cert: str = CA_CERT, ca_key: str = CA_KEY
) -> None:
    """Re-issue a certificate for a year, signed by its CA, with every name it carries but NAME (IP:x or DNS:y)."""
    names = _names(node, cert)
    if name not in names:
        raise StepError(f"{node.name}: {cert} does not carry the name {name} (it has {', '.join(names)})")
    _reissue(
        node, changes, cert, ca_cert, ca_key, starts=-datetime.timedelta(minutes=5),
        lasts=datetime.timedelta(days=365, minutes=5), names=[n for n in names if n != name],
    )  # fmt: skip


def add_name(
    node: Node, changes: ChangeLog, name: str, cert: str = APISERVER_CERT, ca_cert: str = CA_CERT, ca_key: str = CA_KEY
) -> None:
    """Re-issue a certificate for a year, signed by its CA, with the name NAME added (as an admin does with openssl)."""
    names = _names(node, cert)
    _reissue(
        node, changes, cert, ca_cert, ca_key, starts=-datetime.timedelta(minutes=5),
        lasts=datetime.timedelta(days=365, minutes=5), names=names + ([name] if name not in names else []),
    )  # fmt: skip


def kubeadm_phase_cert(
    node: Node, changes: ChangeLog, kube: Kube, name: str = "apiserver", cert: str = APISERVER_CERT
) -> None:
    """Make a certificate anew from the cluster's kubeadm configuration, as an admin does when its names are wrong.

    The pair is moved aside and `kubeadm init phase certs NAME --config` reads the ClusterConfiguration kept in
    the kubeadm-config ConfigMap (certSANs included); `kubeadm certs renew` would copy the wrong names instead."""
    try:
        found = kube.get("v1", "ConfigMap", "kubeadm-config", "kube-system")
    except ClusterError as exc:
        raise StepError(f"cannot read the kubeadm-config ConfigMap: {exc}") from None
    config = ((found or {}).get("data") or {}).get("ClusterConfiguration")
    if not config or not isinstance(yaml.safe_load(config), dict):
        raise StepError("the kubeadm-config ConfigMap holds no ClusterConfiguration")
    for path in (cert, _key_of(cert)):
        changes.keep_file(node, path)
    changes.write_file(node, CONFIG_COPY, config)
    node.check("rm -f -- %s %s", cert, _key_of(cert))
    node.check("kubeadm init phase certs %s --config %s", name, CONFIG_COPY, timeout=KUBEADM_RENEW_TIMEOUT_S)


def serials_key(path: str) -> str:
    """Where the serial numbers of the client certificates a kubeconfig held during the break are noted."""
    return f"kubeconfig-serials:{path}"


def _serial(pem: bytes) -> str:
    from cryptography import x509

    return format(x509.load_pem_x509_certificate(pem).serial_number, "x")


def _reissue_kubeconfig_cert(
    node: Node, changes: ChangeLog, path: str, ca_cert: str, ca_key: str,
    starts: datetime.timedelta, lasts: datetime.timedelta, state: SessionState | None = None,
) -> None:  # fmt: skip
    """Write the client certificate a kubeconfig embeds for its current user again, valid from now+STARTS for LASTS.

    STATE: the serial numbers of the old and the new certificate are noted (graders.client_certs: a copy of
    the kubeconfig kept from before the break brings back a certificate the lab started with)."""
    try:
        ca_pem, ca_key_pem = node.read_text(ca_cert).encode(), node.read_text(ca_key).encode()
    except ValueError as exc:
        raise StepError(f"{node.name}: cannot read the CA: {exc}") from None

    def change(data: bytes | None) -> bytes:
        config = _load(data, node, path)
        user = _current_entry(config, "user")
        embedded = user.get("client-certificate-data")
        if not embedded:
            raise StepError(f"{node.name}: {path} embeds no client certificate for its current user")
        try:
            new = reissued_pem(base64.b64decode(embedded), ca_pem, ca_key_pem, starts, lasts)
        except (ValueError, binascii.Error) as exc:
            raise StepError(f"{node.name}: cannot re-issue the client certificate of {path}: {exc}") from None
        except StepError as exc:
            raise StepError(f"{node.name}: {ca_key}: {exc}") from None
        user["client-certificate-data"] = base64.b64encode(new).decode()
        if state is not None:
            noted = list(state.get(serials_key(path)) or [])
            state.set(serials_key(path), [*noted, _serial(base64.b64decode(embedded)), _serial(new)])
        return yaml.safe_dump(config, sort_keys=False).encode()

    changes.edit_file(node, path, change)


def expire_kubeconfig_cert(
    node: Node, changes: ChangeLog, state: SessionState, path: str = ADMIN_CONF, ca_cert: str = CA_CERT,
    ca_key: str = CA_KEY, expired_days_ago: int = 2,
) -> None:  # fmt: skip
    """Re-issue the client certificate a kubeconfig embeds (same user, key, CA), expired EXPIRED_DAYS_AGO days ago.

    Both serial numbers, the old and the expired one, are noted: graders.client_certs.kubeconfig_cert_valid
    can refuse a certificate the lab started with (a copy of the kubeconfig kept from before)."""
    _reissue_kubeconfig_cert(
        node, changes, path, ca_cert, ca_key,
        starts=-datetime.timedelta(days=365 + expired_days_ago), lasts=datetime.timedelta(days=365), state=state,
    )  # fmt: skip


def renew_kubeconfig_cert(
    node: Node, changes: ChangeLog, path: str = ADMIN_CONF, ca_cert: str = CA_CERT, ca_key: str = CA_KEY,
    days: int = 365,
) -> None:  # fmt: skip
    """Re-issue the client certificate a kubeconfig embeds (same user, key, CA) for DAYS from now."""
    _reissue_kubeconfig_cert(
        node, changes, path, ca_cert, ca_key,
        starts=-datetime.timedelta(minutes=5), lasts=datetime.timedelta(days=days, minutes=5),
    )  # fmt: skip
