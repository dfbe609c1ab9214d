#!/bin/sh
# The scale-out path, end to end (by hand, where torch is installed; not part of `make test`/CI):
# Scripts/train_reference.py trains caption-small under torchrun with 2 processes
# (DistributedDataParallel, gloo on the CPU) on a small generated dataset, rank 0 writes a
# Glassbox checkpoint, and `glassbox caption` must load it and caption an image (exit 0).
#
#   PYTHON=/path/to/venv/bin/python sh Scripts/test_ddp.sh [GLASSBOX_BINARY]
#
# PYTHON needs torch, numpy, safetensors and pillow (Scripts/compare_pytorch.py's venv,
# .venv-compare, has them). Takes about a minute on 2 cores.
set -eu
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv-compare/bin/python}
GLASSBOX=${1:-.build/release/glassbox}
WORK=$(mktemp -d /tmp/glassbox-ddp.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

"$GLASSBOX" data --dataset shapes --out "$WORK/data" --count 300 --seed 0 >/dev/null
"$PYTHON" -m torch.distributed.run --standalone --nproc_per_node 2 Scripts/train_reference.py \
    --data "$WORK/data" --steps 40 --batch 16 --captions-per-image 3 --eval-every 10 --threads 1 \
    --whiten-images 200 --no-eval --out "$WORK/ddp.safetensors" 2>&1 | tee "$WORK/train.log"
grep -q "wrote $WORK/ddp.safetensors (step 40, 2 processes)" "$WORK/train.log" || { echo "FAIL: no checkpoint from rank 0"; exit 1; }
# The loss must fall: the first logged mean (steps 1-10) above the last (steps 31-40).
"$PYTHON" - "$WORK/train.log" <<'PY'
import re, sys
losses = [float(m.group(1)) for m in re.finditer(r"step +\d+  train ([0-9.]+)", open(sys.argv[1]).read())]
assert len(losses) == 4 and losses[-1] < losses[0], f"FAIL: losses {losses}"
print(f"losses per 10 steps: {losses}")
PY
IMAGE=$(ls "$WORK"/data/images/*.png | head -n 1)
"$GLASSBOX" caption --model "$WORK/ddp.safetensors" --image "$IMAGE" --json
echo "1 passed, 0 failed (torchrun, 2 processes: checkpoint loaded by glassbox caption)"
