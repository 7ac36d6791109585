"""The order `lab verify` reports its phases in, as the integration tests check it."""

from __future__ import annotations

from breakfix.catalog import Lab

#: `lab verify` on a process control plane (kwok's pods start and stop at once): short windows, JSON out
QUICK_VERIFY = ("--json", "--settle", "120", "--cheat-window", "15", "--bypass-window", "10")


def check_phase_order(names: list[str], lab: Lab) -> None:
    """Break, its grade, each cheat, the generic bypasses on the broken cluster, each alternative, the fix,
    the bypasses tried on the fixed cluster (renamed), then the reset: in that order, and nothing else."""
    own = [n for n in names if not n.startswith("bypass:")]
    tried = [f"cheat:{c}" for c in lab.cheats] + [f"alternative:{a}" for a in lab.alternatives]
    assert own == ["break", "grade-after-break", *tried, "solve", "reset"], names
    cheats_end = names.index(tried[len(lab.cheats) - 1]) if lab.cheats else 1
    before_fix = names[cheats_end + 1 : names.index("solve")]
    assert all(not n.startswith("bypass:renamed:") for n in before_fix), names
    after_fix = names[names.index("solve") + 1 : -1]
    assert all(n.startswith("bypass:renamed:") for n in after_fix), names  # tried on the fixed cluster
