#!/usr/bin/env bash
# Arsenal vs PyTorch on this machine, in one run: per-call operator overhead
# and one training step of a small CNN. Prints a table (metric, Arsenal,
# PyTorch, ratio). `npm run bench` builds first, then runs this.
#
#   bash bench/run.sh [--threads 2] [--op-rounds 9] [--cnn-rounds 25] [--block 2] [--malloc-tuned] [--only op|cnn]
#
# PyTorch is Debian's python3-torch under /usr/bin/python3 (override with
# PYTHON=/path/to/python3); without it only the Arsenal side runs.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f dist/bench/compare.js ] || [ ! -f native/build/Release/arsenal_native.node ]; then
  node scripts/setup.mjs
fi

PYTHON="${PYTHON:-/usr/bin/python3}"
extra=()
if ! "$PYTHON" -c 'import torch' >/dev/null 2>&1; then
  echo "bench: $PYTHON cannot import torch; running the Arsenal side only." >&2
  echo "       To compare against PyTorch: apt-get install python3-torch (Debian), or PYTHON=/path/to/python-with-torch bash bench/run.sh" >&2
  extra+=(--no-python)
fi

exec node dist/bench/compare.js --python "$PYTHON" "${extra[@]}" "$@"
