"""Memory sizes written as Kubernetes quantities: 64Mi, 1Gi, 500M, 1e9, 268435456."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator

_QUANTITY = re.compile(r"(\d+(?:\.\d+)?(?:[eE]\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?")
_FACTOR = {
    None: 1,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
}


def parse_bytes(value: object) -> int:
    """Bytes in a quantity such as 64Mi, 1Gi, 500M or a plain number."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("a size must be a number or a quantity like 64Mi, 1Gi")
    match = _QUANTITY.fullmatch(str(value).strip())
    if match is None:
        raise ValueError(f"{value!r} is not a size (write it like 64Mi, 1Gi or 500M)")
    return int(float(match.group(1)) * _FACTOR[match.group(2)])


Bytes = Annotated[int, BeforeValidator(parse_bytes)]
