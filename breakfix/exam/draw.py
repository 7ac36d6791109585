"""Labs drawn for each student from a seed, by the CKA's domain weights, among those their clusters can run."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from breakfix.errors import BreakfixError
from breakfix.variants import student_seed


@dataclass(frozen=True)
class Candidate:
    """A lab that may be drawn: its id, CKA domain and what it needs of a cluster."""

    id: str
    domain: str
    requires: frozenset[str]


def quotas(weights: Mapping[str, int], count: int, rng: random.Random) -> list[str]:
    """COUNT domains in proportion to WEIGHTS (largest remainders; ties drawn), shuffled into task order."""
    total = sum(w for w in weights.values() if w > 0)
    if total == 0 or count == 0:
        return []
    exact = {d: count * w / total for d, w in weights.items() if w > 0}
    slots = {d: int(share) for d, share in exact.items()}
    ties = {d: rng.random() for d in exact}
    by_remainder = sorted(exact, key=lambda d: (-(exact[d] - slots[d]), -weights[d], ties[d]))
    for d in by_remainder[: count - sum(slots.values())]:
        slots[d] += 1
    order = [d for d in sorted(slots) for _ in range(slots[d])]
    rng.shuffle(order)
    return order


#: Whether a lab may join the labs already drawn for the same cluster: (cluster, drawn there, candidate) -> bool.
Fits = Callable[[str, list[str], str], bool]


def draw_tasks(
    student: str,
    clusters: Sequence[tuple[str, frozenset[str]]],
    pool: Sequence[Candidate],
    weights: Mapping[str, int],
    seed: int,
    fits_beside: Fits | None = None,
) -> list[str]:
    """A lab per task for STUDENT (never one twice), each task on its cluster of CLUSTERS (a cluster may come
    again: its labs then run together, as FITS_BESIDE allows), the domains in proportion to WEIGHTS, from SEED.

    A domain with no lab left that the task's cluster can run gives its slot to the heaviest domain that has one."""
    rng = random.Random(student_seed(seed, student))
    wanted = quotas(weights, len(clusters), rng)
    chosen: list[str] = []
    on: dict[str, list[str]] = {}
    for (cluster, capabilities), domain in zip(clusters, wanted, strict=True):
        beside = on.setdefault(cluster, [])
        fits = sorted(
            (
                c
                for c in pool
                if c.requires <= capabilities
                and c.id not in chosen
                and weights.get(c.domain, 0) > 0
                and (fits_beside is None or fits_beside(cluster, beside, c.id))
            ),
            key=lambda c: c.id,
        )
        if not fits:
            raise BreakfixError(
                f"no lab left to draw for {student} on cluster {cluster} "
                f"(it offers {', '.join(sorted(capabilities)) or 'no capabilities'}): "
                "give the student's `labs`, widen `draw.labs`, or give fewer clusters"
            )
        domains = {c.domain for c in fits}
        if domain not in domains:
            domain = max(domains, key=lambda d: (weights.get(d, 0), d))
        chosen.append(rng.choice([c for c in fits if c.domain == domain]).id)
        beside.append(chosen[-1])
    return chosen
