"""Which registered cluster a command acts on, read from the store alone (no inventory is loaded)."""

from __future__ import annotations

import os

from breakfix.errors import ClusterError
from breakfix.state import State


def chosen_cluster(store: State, name: str | None = None) -> tuple[str, str]:
    """The cluster to use and its inventory path: --cluster, then BREAKFIX_CLUSTER, then the default, then the
    only one."""
    known = {c["name"]: c for c in store.clusters()}
    tried = []
    chosen = name
    if chosen:
        tried.append(f"--cluster {chosen}")
    elif os.environ.get("BREAKFIX_CLUSTER"):
        chosen = os.environ["BREAKFIX_CLUSTER"]
        tried.append(f"BREAKFIX_CLUSTER={chosen}")
    elif store.get_setting("default_cluster"):
        chosen = store.get_setting("default_cluster")
        tried.append(f"the default cluster {chosen}")
    elif len(known) == 1:
        chosen = next(iter(known))
    if not chosen:
        if not known:
            raise ClusterError(
                "no lab cluster yet: create one with `lab cluster up` or register one with "
                "`lab cluster adopt INVENTORY`"
            )
        raise ClusterError(
            f"several clusters are registered ({', '.join(known)}): pick one with --cluster or `lab cluster use NAME`"
        )
    if chosen not in known:
        raise ClusterError(
            f"no registered cluster {chosen!r} (tried {', '.join(tried)}; registered: {', '.join(known) or 'none'})"
        )
    return chosen, str(known[chosen]["inventory"])
