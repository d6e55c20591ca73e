#!/usr/bin/env bash
# The reference model of the quantization accuracy table (README, "INT8 / bf16 on the CPU"):
# a CenterNet DLA-34 trained from scratch on synthetic stick figures on the CPU, evaluated at
# 256x256 on a held-out synthetic set drawn with another seed.
#
# Two phases, because a DLA-34 step at 256 px costs ~45 CPU-seconds (61% of it in torchvision's
# deformable-conv backward), too much for a few hundred steps on a shared 2-core machine:
#   1. from scratch at 128x128 input on 128x128 images whose figures are 70-115 px tall;
#   2. fine-tuned (--init) at 256x256 input on 256x256 images with 1-3 figures of the same
#      pixel size (72-115 px), so the fully convolutional net sees the same figure scale.
# Held-out: 256x256, seed 12 (the training sets use seeds 11 and 13).
#
#   benchmarks/train_quant_reference.sh            # data + both phases
#   PHASE=2 benchmarks/train_quant_reference.sh    # only phase 2 (phase 1's model_best.pth exists)
#   RESUME=1 PHASE=1 benchmarks/train_quant_reference.sh   # continue phase 1 after an interruption
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
ROOT=${ROOT:-runs/quant_ref}
PHASE=${PHASE:-all}
RESUME_FLAG=()
if [ "${RESUME:-0}" = 1 ]; then RESUME_FLAG=(--resume); fi

if [ ! -f "$ROOT/heldout256/annotations.json" ]; then
  "$PY" - "$ROOT" <<'PYEOF'
import sys
from centerpose_core.data.synthetic import SyntheticConfig, write_synthetic_dataset

root = sys.argv[1]
common = dict(background="fixed", allow_outside=False, pose_jitter=0.6)
small = SyntheticConfig(image_size=(128, 128), persons=(1, 2), height_fraction=(0.55, 0.9), **common)
large = SyntheticConfig(image_size=(256, 256), persons=(1, 3), height_fraction=(0.28, 0.45), **common)
print(write_synthetic_dataset(f"{root}/train128", 600, small, seed=11))
print(write_synthetic_dataset(f"{root}/val128", 40, small, seed=14))
print(write_synthetic_dataset(f"{root}/train256", 300, large, seed=13))
print(write_synthetic_dataset(f"{root}/heldout256", 60, large, seed=12))
PYEOF
fi

# Adam at 1e-3 (the learning test's rate), batch 4; no flip (left and right limbs differ by colour
# only), no crop / scale / colour jitter.
COMMON=(--batch-size 4 --workers 0 --device cpu --progress false --augment.flip 0
  --augment.rand-crop false --augment.scale 0 --augment.shift 0 --augment.color false)

if [ "$PHASE" = all ] || [ "$PHASE" = 1 ]; then
  "$PY" training/train.py "${COMMON[@]}" "${RESUME_FLAG[@]}" \
    --train-ann "$ROOT/train128/annotations.json" --train-images "$ROOT/train128/images" \
    --val-ann "$ROOT/val128/annotations.json" --val-images "$ROOT/val128/images" \
    --out "$ROOT/phase1" --input-size 128 --lr 1e-3 --lr-step 8 \
    --epochs 10 --max-steps-per-epoch 40 --val-every 2
fi
if [ "$PHASE" = all ] || [ "$PHASE" = 2 ]; then
  INIT=(--init "$ROOT/phase1/model_best.pth")
  if [ "${RESUME:-0}" = 1 ]; then INIT=(); fi
  "$PY" training/train.py "${COMMON[@]}" "${RESUME_FLAG[@]}" "${INIT[@]}" \
    --train-ann "$ROOT/train256/annotations.json" --train-images "$ROOT/train256/images" \
    --val-ann "$ROOT/heldout256/annotations.json" --val-images "$ROOT/heldout256/images" \
    --out "$ROOT/phase2" --input-size 256 --lr 2.5e-4 --lr-step 100 \
    --epochs 4 --max-steps-per-epoch 20 --val-every 2
fi
