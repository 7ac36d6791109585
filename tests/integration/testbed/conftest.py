"""Test bed fixtures come from the tests.testbed.fixtures plugin (loaded in tests/conftest.py)."""
