#!/usr/bin/env bash
# Arsenal vs PyTorch on this machine, in one run: per-call operator overhead,
# one training step of a small CNN, and ResNet-18 training throughput (fp32 and
# bf16 autocast) with the data-wait share of the trainer's loop. Prints a table
# (metric, Arsenal, PyTorch, ratio) and the ResNet-18 summary. `npm run bench`
# builds first, then runs this.
#
#   bash bench/run.sh [--threads 2] [--op-rounds 9] [--cnn-rounds 25] [--block 2] [--malloc-tuned]
#                     [--resnet-rounds 10] [--resnet-block 1] [--resnet-batch 128] [--data-steps 30] [--no-data-wait]
#                     [--only op,cnn,resnet,augment,seg,det]   (one name or a comma-separated list; default all but seg, det)
#   bash bench/run.sh --only seg [--models deeplabv3_resnet50,fcn_resnet50,lraspp_mobilenet_v3_large] [--seg-rounds 5]
#                     [--seg-batch 4] [--seg-size 256] [--seg-aux] [--seg-channels-last]   segmentation train step and
#                     inference by model name (bench/seg-step.ts vs seg_step.py, torchvision's models), fp32 and bf16
#   bash bench/run.sh --only det [--det-models fcos_resnet50_fpn,fcos_resnet18_fpn] [--det-rounds 5] [--det-batch 4]
#                     [--det-size S] [--nms-boxes 10000] [--nms-classes 80] [--nms-rounds 10]   FCOS train step and
#                     inference (bench/det-step.ts vs det_step.py, torchvision's FCOS), fp32 and bf16, and NMS
#   bash bench/run.sh --only memory [--n 1000000] [--epochs 10] ...   the memory section (Arsenal only,
#                     bench/memory.ts): dropped/disposed/scoped loops, trims, RSS over 10 epochs
#
# PyTorch is Debian's python3-torch under /usr/bin/python3 (override with
# PYTHON=/path/to/python3); without it only the Arsenal side runs.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f dist/bench/compare.js ] || [ ! -f native/build/Release/arsenal_native.node ]; then
  node scripts/setup.mjs
fi

# The memory section has no PyTorch side: --only memory runs it alone (its own options follow).
if [ "${1:-}" = "--only" ] && [ "${2:-}" = "memory" ]; then
  shift 2
  exec node dist/bench/memory.js "$@"
fi

PYTHON="${PYTHON:-/usr/bin/python3}"
extra=()
if ! "$PYTHON" -c 'import torch' >/dev/null 2>&1; then
  echo "bench: $PYTHON cannot import torch; running the Arsenal side only." >&2
  echo "       To compare against PyTorch: apt-get install python3-torch (Debian), or PYTHON=/path/to/python-with-torch bash bench/run.sh" >&2
  extra+=(--no-python)
elif ! "$PYTHON" -c 'import torchvision' >/dev/null 2>&1; then
  echo "bench: $PYTHON has torch but not torchvision; the ResNet-18 and segmentation pairs run the Arsenal side only (apt-get install python3-torchvision)." >&2
  extra+=(--no-python-resnet)
fi

exec node dist/bench/compare.js --python "$PYTHON" "${extra[@]}" "$@"
