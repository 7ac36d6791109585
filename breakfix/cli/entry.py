"""The `lab` console script: serve `lab list` from the catalog cache before importing the full CLI."""

from __future__ import annotations

import sys


def run() -> None:
    """Console-script entry point."""
    from breakfix.cli.listing import fast_list

    if fast_list(sys.argv[1:]):
        sys.exit(0)
    from breakfix.cli.main import main

    sys.exit(main())
