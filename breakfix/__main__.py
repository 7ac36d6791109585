"""`python -m breakfix` runs the `lab` command."""

from breakfix.cli.main import run

run()
