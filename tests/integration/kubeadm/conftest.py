"""Load the kubeadm test bed fixture (found by name)."""

from tests.testbed.kubeadm.fixtures import kubeadm_cluster  # noqa: F401
