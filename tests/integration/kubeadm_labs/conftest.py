"""Labs proven on the real kubeadm test bed (the `kubeadm_cluster` fixture comes from tests/conftest.py)."""
