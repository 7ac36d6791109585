"""`python -m breakfix` runs the `lab` command."""

from breakfix.cli.entry import run

run()
