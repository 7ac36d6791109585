"""``python -m tests.testbed.artifacts [component ...]``: build and cache the test bed binaries."""

import sys

from tests.testbed.artifacts.build import main

sys.exit(main())
