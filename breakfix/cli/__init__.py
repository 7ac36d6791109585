"""The `lab` command line."""
