"""The `kubeadm_cluster` fixture comes from the tests.testbed.kubeadm.fixtures plugin (tests/conftest.py),
so every test package shares one cluster per session."""
