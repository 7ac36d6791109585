"""Breakers that leave a process of their own on a node: a systemd unit installed, started and removed again."""

from __future__ import annotations

import shlex

from breakfix.changes import ChangeLog
from breakfix.errors import StepError
from breakfix.transport.base import FileStat
from breakfix.transport.node import Node

_SQUATTER = """#!/usr/bin/python3
# {description}
import socket
import time

PORT = {port}


def bind():
    try:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        address = ("::", PORT)
    except OSError:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        address = ("0.0.0.0", PORT)
    try:
        sock.bind(address)
    except OSError:
        sock.close()
        return None
    sock.listen(16)
    return sock


while True:
    listener = bind()
    if listener is None:
        time.sleep(0.5)
        continue
    while True:
        conn, _ = listener.accept()
        conn.close()
"""

_UNIT = """[Unit]
Description={description}
After=network-online.target

[Service]
ExecStart=/usr/bin/python3 {script}
Restart=always
RestartSec=2

[Install]
WantedBy=multi-user.target
"""


def squat_port(node: Node, changes: ChangeLog, unit: str, port: int, description: str = "Node metrics relay") -> None:
    """Install, enable and start a systemd unit (UNIT.service) whose process takes TCP PORT whenever it is free.

    It waits for the port and holds it, accepting and dropping connections: a component that restarts
    (kube-apiserver on 6443) finds its port taken. Undo stops and disables it, removes its files and
    reloads systemd, whatever the student did to it first (stopped, disabled, masked or deleted).
    """
    if not unit.replace("-", "").isalnum():
        raise StepError(f"unit name {unit!r}: letters, digits and dashes only")
    service = f"/etc/systemd/system/{unit}.service"
    script = f"/usr/local/bin/{unit}"
    for path in (service, script):
        if node.exists(path):
            raise StepError(f"{node.name}: {path} already exists; breakfix only removes what it installed")
    q = shlex.quote(f"{unit}.service")
    changes.command(node, "true", undo="systemctl daemon-reload")  # undone last, once the files are gone
    changes.write_file(node, script, _SQUATTER.format(port=port, description=description), FileStat(0o755, 0, 0))
    changes.write_file(node, service, _UNIT.format(description=description, script=script), FileStat(0o644, 0, 0))
    changes.command(
        node,
        f"systemctl daemon-reload && systemctl enable --now {q}",
        undo=f"systemctl unmask {q} >/dev/null 2>&1; systemctl disable --now {q} >/dev/null 2>&1; "
        f"systemctl reset-failed {q} >/dev/null 2>&1; true",
    )
