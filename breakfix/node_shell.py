"""The command that opens a shell on a node, or runs one command there: ssh, docker exec or a local shell."""

from __future__ import annotations

import shlex
import shutil

from breakfix.errors import ClusterError
from breakfix.inventory import ClusterSpec, NodeSpec

ROLE_ALIASES = {"control-plane": "control-plane", "controlplane": "control-plane", "worker": "worker"}
# a login shell where there is bash, else sh (busybox nodes)
_INTERACTIVE = "command -v bash >/dev/null 2>&1 && exec bash -l || exec sh -l"


def pick_node(cluster: ClusterSpec, selector: str) -> NodeSpec:
    """A node by name, or the first with a role (control-plane, worker)."""
    spec = next((n for n in cluster.nodes if n.name == selector), None)
    if spec is not None:
        return spec
    role = ROLE_ALIASES.get(selector)
    matches = [n for n in cluster.nodes if n.role == role] if role else []
    if not matches:
        names = ", ".join(n.name for n in cluster.nodes) or "none"
        raise ClusterError(f"cluster {cluster.name} has no node {selector!r} (nodes: {names})")
    return matches[0]


def shell_argv(node: NodeSpec, command: list[str], tty: bool) -> tuple[list[str], list[str]]:
    """The argv that reaches NODE (a shell, or COMMAND), and warnings to show first.

    TTY asks for a terminal (an interactive shell on a terminal); a command's words are quoted once,
    so they reach the node as typed."""
    spec = node.transport
    warnings: list[str] = []
    line = shlex.join(command) if command else _INTERACTIVE
    if spec.scheme == "ssh":
        argv = [_tool("ssh", node), "-p", str(spec.port)]
        if spec.key_file:
            argv += ["-i", spec.key_file, "-o", "IdentitiesOnly=yes"]
        if spec.check_host_key:
            argv += ["-o", "StrictHostKeyChecking=yes"]
            if spec.known_hosts:
                argv += ["-o", f"UserKnownHostsFile={spec.known_hosts}"]
        else:
            warnings.append(
                f"warning: {node.name}'s host key is not checked (the inventory turns it off): "
                "anyone between you and the node could answer in its place"
            )
            argv += ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]
        argv += ["-t"] if tty else ["-T"]
        return [*argv, f"{spec.user}@{spec.host}", line], warnings
    if spec.scheme == "docker":
        return [_tool("docker", node), "exec", "-it" if tty else "-i", spec.host, "/bin/sh", "-c", line], warnings
    return ["/bin/sh", "-c", line], warnings


def _tool(name: str, node: NodeSpec) -> str:
    found = shutil.which(name)
    if found is None:
        raise ClusterError(f"cannot reach {node.name} ({node.transport}): the {name} command is not installed")
    return found
