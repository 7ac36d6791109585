#!/usr/bin/env bash
# Set up breakfix in .venv and run its main job (`lab list`).
#   --host   also install what the real-node tests need on a Debian machine (run as root):
#            docker.io, debootstrap, openssh-server; and start dockerd when it is not running;
#            chromium and chromium-driver for the web board's headless-browser test (about 15 s, 370 MB).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

if [ "${1:-}" = "--host" ]; then
  if [ ! -x /usr/sbin/sshd ]; then
    echo "setup: installing openssh-server (the SSH transport tests start their own sshd)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server >/dev/null
  fi
  bash tests/testbed/setup-host.sh
  if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    echo "setup: installing chromium and chromium-driver (tests/integration/test_exam_board_browser.py)"
    started=$SECONDS
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      chromium chromium-driver >/dev/null
    echo "setup: chromium installed in $((SECONDS - started)) s ($(chromium --version 2>/dev/null))"
  fi
  if ! command -v vagrant >/dev/null; then
    echo "setup: installing vagrant (the tests run \`vagrant validate\` on vagrant/Vagrantfile)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq vagrant >/dev/null
  fi
fi

"$PYTHON" - <<'PY'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"breakfix needs Python 3.11+, this is {sys.version.split()[0]}")
PY
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev]'
echo "setup: breakfix installed in .venv; the catalog:"
.venv/bin/lab list
