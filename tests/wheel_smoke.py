"""Run by scripts/wheel_check.sh with an installed wheel's Python, outside the checkout: the package is whole.

Every lab loads with its steps bound, the step libraries come from inside the package, and the Vagrant
files and the examples ship with it."""

from __future__ import annotations

import sys
from pathlib import Path


def main() -> int:
    """Check the installed package; print one line per fact, exit 1 on the first that is wrong."""
    import breakfix
    from breakfix.catalog import load_catalog
    from breakfix.providers.vagrant import vagrant_dir

    package = Path(breakfix.__file__).resolve().parent
    facts: list[tuple[str, bool]] = [("breakfix is the installed package", "site-packages" in package.parts)]
    catalog = load_catalog()
    facts.append((f"{len(catalog.labs)} labs load, none broken", len(catalog.labs) >= 60 and not catalog.errors))
    import graders.systemd

    steps = Path(graders.systemd.__file__).resolve()
    facts.append(("the step libraries live inside the package", steps.is_relative_to(package / "_steps")))
    site = package.parent
    facts.append(("no generic top-level breakers/graders installed", not (site / "graders").exists()))
    facts.append(("the Vagrantfile ships", (vagrant_dir() / "Vagrantfile").is_file()))
    examples = package / "_examples"
    facts.append(("the example inventory and exam ship", (examples / "exam.example.yaml").is_file()))
    facts.append(("the board page ships", (package / "exam" / "board.html").is_file()))
    for what, ok in facts:
        print(f"{'ok' if ok else 'WRONG'}: {what}")
    for error in catalog.errors:
        print(f"  {error}")
    return 0 if all(ok for _, ok in facts) else 1


if __name__ == "__main__":
    sys.exit(main())
