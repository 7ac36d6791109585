"""breakfix: break a Kubernetes cluster on purpose, fix it, get graded."""

import logging

__version__ = "0.1.0"

logging.getLogger("breakfix").addHandler(logging.NullHandler())
