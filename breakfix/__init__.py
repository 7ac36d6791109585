"""breakfix: break a Kubernetes cluster on purpose, fix it, get graded."""

import sys
from pathlib import Path

__version__ = "0.1.0"

# Installed from a wheel, the step libraries live inside the package (no generic top-level names in
# site-packages); lab files and their code name them `breakers.*` and `graders.*`: found here, in this
# process only. In a checkout they are the repository's own folders.
_STEPS = Path(__file__).resolve().parent / "_steps"
if _STEPS.is_dir() and str(_STEPS) not in sys.path:
    sys.path.insert(0, str(_STEPS))
