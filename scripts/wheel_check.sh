#!/usr/bin/env bash
# Build the wheel, install it into fresh venvs outside the checkout (lowest and highest supported Python)
# and use it there: lab list, lab show, lab doctor and tests/wheel_smoke.py.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$repo/.venv/bin/python" -m hatchling build -t wheel -d "$work/dist" >/dev/null 2>&1
wheel="$(ls "$work"/dist/*.whl)"
for version in 3.11 3.13; do
  python=""
  for candidate in "python$version" "$(pyenv root 2>/dev/null)"/versions/"$version".*/bin/"python$version"; do
    if "$candidate" --version >/dev/null 2>&1; then python="$candidate"; break; fi
  done
  if [ -z "$python" ]; then
    echo "wheel check: python$version is missing (needed to check the lowest and highest supported Python)" >&2
    exit 1
  fi
  "$python" -m venv "$work/venv-$version"
  "$work/venv-$version/bin/python" -m pip install -q "$wheel"
  cd "$work"
  export BREAKFIX_STATE_DIR="$work/state-$version"
  "$work/venv-$version/bin/lab" list >/dev/null
  "$work/venv-$version/bin/lab" show svc-wrong-selector >/dev/null
  set +e
  "$work/venv-$version/bin/lab" doctor >/dev/null
  rc=$?
  set -e
  if [ "$rc" -gt 1 ]; then  # 1: something on this machine is missing; anything else is the package's fault
    echo "wheel check: lab doctor exited $rc with python$version" >&2
    exit 1
  fi
  "$work/venv-$version/bin/python" "$repo/tests/wheel_smoke.py"
  echo "wheel check: python$version ok"
done
