"""Breakers around etcd's alarms: clear them now (a fix), or once reset has put everything else back."""

from __future__ import annotations

import shlex

from breakfix.changes import ChangeLog
from breakfix.transport.node import Node
from graders.etcd import CURL, ENDPOINT


def _disarm_script(wait: int) -> str:
    """Shell that waits up to WAIT seconds for etcd to answer on its node, then clears every NOSPACE alarm."""
    alarm = f"{ENDPOINT}/v3/maintenance/alarm"
    return (
        f'i=0; until out=$({CURL} -X POST {alarm} -d \'{{"action":"GET"}}\'); do '
        f'i=$((i + 1)); [ "$i" -ge {wait // 2} ] && exit 1; sleep 2; done; '
        'for m in $(printf \'%s\' "$out" | grep -o \'"memberID":"[0-9]*"\' | cut -d\'"\' -f4); do '
        f"{CURL} -X POST {alarm} "
        '-d "{\\"action\\":\\"DEACTIVATE\\",\\"memberID\\":\\"$m\\",\\"alarm\\":\\"NOSPACE\\"}" || exit 1; done'
    )


def disarm(node: Node, changes: ChangeLog, wait: int = 180) -> None:
    """Clear etcd's NOSPACE alarms on NODE (`etcdctl alarm disarm`), once etcd answers (within WAIT seconds)."""
    changes.command(node, f"sh -c {shlex.quote(_disarm_script(wait))}", undo="true", timeout=wait + 30)


def disarm_on_reset(node: Node, changes: ChangeLog, wait: int = 240) -> None:
    """Journal a clearing of etcd's NOSPACE alarms for reset (it runs after every later change was put back)."""
    changes.command(node, "true", undo=f"sh -c {shlex.quote(_disarm_script(wait))}", timeout=wait + 30)
