"""The run-time context: cluster, nodes (one connection each), API, state; injected by parameter name."""

from __future__ import annotations

import inspect
import sys
import threading
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from breakfix.changes import ChangeLog
from breakfix.errors import ClusterError
from breakfix.images import image_map
from breakfix.injected import NOT_SETTABLE
from breakfix.inventory import ClusterSpec
from breakfix.kube import Kube, KubeClient
from breakfix.node_shell import pick_node
from breakfix.state import State
from breakfix.steps import Step, render, template_vars
from breakfix.transport.node import Node
from breakfix.transport.spec import open_transport


class SessionState:
    """Values a lab keeps between steps (e.g. sentinel UIDs), saved with the session."""

    def __init__(self, store: State, session_id: int | None) -> None:
        self.store = store
        self.session_id = session_id
        self._data: dict[str, Any] = store.session(session_id).data if session_id else {}

    def get(self, key: str, default: Any = None) -> Any:
        """A saved value."""
        return self._data.get(key, default)

    def set(self, key: str, value: Any) -> None:
        """Save a value."""
        self._data[key] = value
        if self.session_id:
            self.store.update_session(self.session_id, data=self._data)


class Context:
    """Everything a step can ask for, created once per command."""

    def __init__(
        self,
        cluster: ClusterSpec,
        store: State,
        session_id: int | None = None,
        lab_dir: Path | None = None,
        kube: Kube | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.cluster = cluster
        self.store = store
        self.session_id = session_id
        self.lab_dir = lab_dir
        self._kube = kube
        self._nodes: dict[str, Node] = {}
        self._lock = threading.Lock()
        self.log: Callable[[str], None] = log or (lambda msg: print(msg, file=sys.stderr))
        self.state = SessionState(store, session_id)
        self.phase = "setup"
        self.spoilers = False  # name each step and its arguments in the progress lines (authors, `--spoilers`)

    @property
    def kube(self) -> Kube:
        """The API client (created on first use)."""
        if self._kube is None:
            self._kube = KubeClient(self.cluster.kubeconfig, self.cluster.context)
        return self._kube

    def node(self, selector: str) -> Node:
        """A node by name or by role (control-plane, worker); its connection is reused."""
        spec = pick_node(self.cluster, selector)
        with self._lock:
            if spec.name not in self._nodes:
                self._nodes[spec.name] = Node(spec.name, spec.role, open_transport(spec.transport), spec.ip)
            return self._nodes[spec.name]

    def nodes(self) -> list[Node]:
        """Every node of the cluster."""
        return [self.node(n.name) for n in self.cluster.nodes]

    def variables(self) -> dict[str, str]:
        """Values for {{ variables }} in task texts and step arguments."""
        cps, workers = self.cluster.control_planes, self.cluster.workers
        return {
            "cluster": self.cluster.name,
            "control_plane": cps[0].name if cps else "",
            "control_plane_ip": (cps[0].ip or "") if cps else "",
            "worker": workers[0].name if workers else "",
            "worker_ip": (workers[0].ip or "") if workers else "",
            "workers": ", ".join(w.name for w in workers),
        }

    def close(self) -> None:
        """Close every node connection."""
        for node in self._nodes.values():
            node.close()
        self._nodes.clear()

    def call(self, step: Step, phase: str | None = None) -> Any:
        """Run a step, giving it the values it asks for by parameter name."""
        variables = self.variables()
        kwargs: dict[str, Any] = {}
        for name, param in step.params.items():
            if name in step.kwargs:
                value = step.kwargs[name]
                used = template_vars(value)
                if used:
                    empty = sorted(v for v in used if not variables.get(v))
                    if empty:
                        raise ClusterError(
                            f"{step.ref} needs {', '.join(empty)}, which cluster {self.cluster.name} does not "
                            "describe (set breakfix_node_ip on its nodes in the inventory)"
                        )
                    value = render(value, variables)
                    hint = typing.get_type_hints(step.fn, include_extras=True).get(name)
                    if hint is not None:
                        value = TypeAdapter(hint).validate_python(value)
                kwargs[name] = self.node(value) if name == "node" else value
            elif name in PROVIDERS:
                kwargs[name] = PROVIDERS[name](self, phase or self.phase)
            elif param.default is inspect.Parameter.empty and param.kind is not param.VAR_KEYWORD:
                raise ClusterError(f"{step.ref}: no value for {name!r}")
        return step.fn(**kwargs)


#: How each injected value (breakfix.injected) is made for a step run in PHASE; `node`, chosen in the lab,
#: is opened from its role or name above.
PROVIDERS: dict[str, Callable[[Context, str], Any]] = {
    "nodes": lambda ctx, _phase: ctx.nodes(),
    "kube": lambda ctx, _phase: ctx.kube,
    "cluster": lambda ctx, _phase: ctx.cluster,
    "state": lambda ctx, _phase: ctx.state,
    "changes": lambda ctx, phase: ChangeLog(ctx, phase),
    "lab_dir": lambda ctx, _phase: ctx.lab_dir,
    "images": lambda ctx, _phase: image_map(ctx.cluster),
    "log": lambda ctx, _phase: ctx.log,
}
if set(PROVIDERS) != NOT_SETTABLE:  # the registry and the providers must never drift apart
    raise RuntimeError(f"breakfix.context provides {sorted(PROVIDERS)}, the registry names {sorted(NOT_SETTABLE)}")
