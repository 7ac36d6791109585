"""breakfix: break a Kubernetes cluster on purpose, fix it, get graded."""

__version__ = "0.1.0"
