"""Checks: small functions that judge the cluster's state and return a CheckResult."""
