"""What the engine gives a step by parameter name: one registry for binding, `lab steps` and the docs.

A breaker or grader asks for a value by naming a parameter after it (`def ready(node: Node, kube: Kube)`).
breakfix.steps refuses these names as lab arguments (only `node` is chosen in the lab, by role or name),
breakfix.context provides each of them (and checks at import that it provides exactly these), and
`lab steps` leaves them out of the signatures it shows.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Injected:
    """A value the engine provides to a step that names a parameter NAME."""

    name: str
    type: str
    about: str
    #: the lab chooses it (`node: worker`): the only injected value a lab may set.
    settable: bool = False


REGISTRY: tuple[Injected, ...] = (
    Injected(
        "node",
        "Node",
        "one node, chosen in the lab by role (`control-plane`, `worker`) or name; control-plane if not set",
        settable=True,
    ),
    Injected("nodes", "list[Node]", "every node of the cluster"),
    Injected("kube", "Kube", "the Kubernetes API client"),
    Injected("cluster", "ClusterSpec", "the cluster's description: name, nodes, provider, capabilities"),
    Injected("state", "SessionState", "values kept between the steps of one session (e.g. sentinel UIDs)"),
    Injected("changes", "ChangeLog", "the journal every change goes through, its undo written first"),
    Injected("lab_dir", "Path", "the lab's folder (for manifests/)"),
    Injected("images", "dict[str, str]", "the cluster's image for each role (web, shell, pause, ...)"),
    Injected("log", "Callable[[str], None]", "print a progress line for the user"),
)

#: Every injected value by name.
BY_NAME: dict[str, Injected] = {entry.name: entry for entry in REGISTRY}
#: The names a lab cannot set (every injected name but `node`).
NOT_SETTABLE = frozenset(entry.name for entry in REGISTRY if not entry.settable)
