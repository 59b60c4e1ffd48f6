#!/usr/bin/env bash
# Proves the GPU path in one call of the `device` tool, in under 8 minutes, and writes everything to one
# log, $OUT/gpu_check.log (JSON files beside it):
#   1. the environment (GPU, torch, CUDA), and a clear failure when there is no CUDA torch: it installs nothing;
#   2. the CUDA-only tests (no host sync in the step, fused Adam, bf16 loss = float32 loss within 2 %, kNN);
#   3. the training benchmark at the paper's configuration (ResNet-18, batch 256, projector 3 x 1024):
#      every method without torch.compile (kit path vs plain DataLoader path), and, last, with the time
#      left under 8 minutes, TriMix and Barlow Twins compiled; images/s, data vs compute, 200-epoch time, MFU;
#   4. kNN of 10,000 x 50,000 features on the GPU, timed; an Adam step fused vs foreach;
#   5. a short real pretraining of TriMix on CIFAR-10 (JPEGs carried in) with its kNN evaluation, epoch time.
#
# Before the call, on the development machine (the copy is git-ignored, 20 MB of the 64 MiB carry limit):
#   cp ../shared/data/cifar10-jpeg.tar.gz data/
# The call:
#   run(command="bash bench/gpu_check.sh", carry=["data/cifar10-jpeg.tar.gz"], timeout_s=540)
#
# Knobs (environment): GPU_CHECK_EPOCHS (CIFAR-10 epochs, default 10), GPU_CHECK_TINY=1 (tiny sizes on the
# CPU with the CUDA parts skipped: what tests/test_speed.py runs so that this script does not rot).
set -u -o pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/gpu_check}
mkdir -p "$OUT"
LOG="$OUT/gpu_check.log"
: > "$LOG"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
PY=$(command -v python || command -v python3)
TINY=${GPU_CHECK_TINY:-0}
EPOCHS=${GPU_CHECK_EPOCHS:-10}
START=$(date +%s)
FAILURES=()

section() { echo -e "\n=== $1 ($(( $(date +%s) - START )) s)" | tee -a "$LOG"; }
note() { echo "$*" | tee -a "$LOG"; }
# run NAME SECONDS COMMAND...: output to the log; a failure or a timeout is noted and the script goes on
run() {
  local name=$1 limit=$2; shift 2
  note "\$ $*"
  timeout "$limit" "$@" >> "$LOG" 2>&1
  local rc=$?
  if [ $rc -ne 0 ]; then
    FAILURES+=("$name (exit $rc$([ $rc -eq 124 ] && echo ", timed out after $limit s"))")
    note "FAILED: $name (exit $rc)"
  fi
}

section "environment"
nvidia-smi >> "$LOG" 2>&1 || note "nvidia-smi: not found"
"$PY" - >> "$LOG" 2>&1 <<'EOF'
import importlib, os, sys
missing = [m for m in ("torch", "torchvision", "numpy", "PIL", "tqdm") if importlib.util.find_spec(m) is None]
if missing:
    sys.exit(f"missing packages: {missing}; this script installs nothing (no internet on the device): "
             "install requirements.txt there first")
import torch
print(f"python {sys.version.split()[0]}, torch {torch.__version__}, CUDA {torch.version.cuda}, "
      f"cuDNN {torch.backends.cudnn.version()}, {os.cpu_count()} CPU cores")
if torch.cuda.is_available():
    print(f"GPU: {torch.cuda.get_device_name(0)}, bf16 {torch.cuda.is_bf16_supported()}, "
          f"{torch.cuda.get_device_properties(0).total_memory / 2**30:.0f} GiB")
elif os.environ.get("GPU_CHECK_TINY") != "1":
    sys.exit("torch.cuda.is_available() is False: not a CUDA machine, or a CPU-only torch; nothing to check")
EOF
if [ $? -ne 0 ]; then note "FAILED: environment (see above)"; exit 2; fi
if [ "$TINY" = 1 ]; then
  DEVICE=cpu
  SIZES=(--width 2 --batch-size 8 --proj-hidden 16 --proj-dim 16 --images 32 --workers 0)
  TIMING=(--steps 1 --warmup 0 --rounds 1)
  KNN=(500 2000 64)
  NET=(2 16)
else
  DEVICE=cuda
  SIZES=(--paper --images 4096)
  TIMING=(--steps 20 --warmup 3 --rounds 3)
  KNN=(10000 50000 512)
  NET=(64 1024)
fi

section "CUDA-only tests"
if "$PY" -c "import pytest" 2>/dev/null; then
  run "CUDA-only tests" 150 "$PY" -m pytest -o addopts="" -p no:cacheprovider -q -rs -s tests/test_cuda.py tests/test_augment.py -k cuda
else
  note "pytest is not installed: CUDA-only tests not run"; FAILURES+=("CUDA-only tests (no pytest)")
fi

section "training benchmark (no compile)"
run "benchmark, eager" 150 "$PY" -m trimix bench train --device $DEVICE "${SIZES[@]}" "${TIMING[@]}" \
  --json "$OUT/bench_eager.json"

section "kNN of ${KNN[0]} x ${KNN[1]} features"
run "kNN timing" 60 "$PY" - "${KNN[@]}" <<'EOF'
import sys, time, torch
from trimix.evaluate import knn_predict
n_test, n_train, dim = map(int, sys.argv[1:])
device = "cuda" if torch.cuda.is_available() else "cpu"
g = torch.Generator(device=device).manual_seed(0)
train = torch.randn(n_train, dim, device=device, generator=g)
test = torch.randn(n_test, dim, device=device, generator=g)
labels = torch.randint(0, 10, (n_train,), device=device, generator=g)
knn_predict(train[:1000], labels[:1000], test[:100], 10)  # warm-up
for _ in range(2):
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    knn_predict(train, labels, test, 10, k=200)
    if device == "cuda":
        torch.cuda.synchronize()
    print(f"kNN (k=200) of {n_test} x {n_train} features of dim {dim} on {device}: {time.perf_counter() - start:.3f} s")
EOF

section "Adam: fused vs foreach (the weights of ResNet-18 and the projector)"
run "Adam timing" 60 "$PY" - "${NET[@]}" <<'EOF'
import sys, time, torch
from trimix.config import paper_config
from trimix.train import build_model
device = "cuda" if torch.cuda.is_available() else "cpu"
for fused in ((False, True) if device == "cuda" else (False,)):
    width, proj = map(int, sys.argv[1:])
    config = paper_config(method="barlow_twins", width=width, proj_hidden=proj, proj_dim=proj)
    params = list(build_model(config, 32).to(device).parameters())
    for p in params:
        p.grad = torch.randn_like(p)
    opt = torch.optim.Adam(params, lr=1e-3, weight_decay=1e-6, fused=fused, foreach=not fused)
    for i in range(60):
        if i == 10:
            if device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        opt.step()
    if device == "cuda":
        torch.cuda.synchronize()
    print(f"Adam step, fused={fused}: {(time.perf_counter() - start) / 50 * 1e3:.2f} ms ({device})")
EOF

section "pretraining on CIFAR-10 with kNN"
PRETRAIN_OUT="$OUT/cifar10-trimix"
if [ "$TINY" != 1 ] && [ -f data/cifar10-jpeg.tar.gz ] && [ ! -d data/cifar10-jpeg ]; then
  run "unpack CIFAR-10" 60 tar -xzf data/cifar10-jpeg.tar.gz -C data/
fi
if [ "$TINY" = 1 ]; then
  note "SKIPPED (no CUDA): CIFAR-10; a quick run on the built-in data instead"
  run "pretraining" 120 "$PY" -m trimix pretrain --quick --device cpu --width 2 --proj-hidden 16 --proj-dim 16 \
    --max-steps 2 --knn-k 10 --no-progress --no-resume --out-dir "$PRETRAIN_OUT"
elif [ -d data/cifar10-jpeg ]; then
  run "pretraining" 240 "$PY" -m trimix pretrain --dataset folder:data/cifar10-jpeg --epochs "$EPOCHS" \
    --checkpoint-every 1000 --no-progress --no-resume --out-dir "$PRETRAIN_OUT"
else
  note "FAILED: no data/cifar10-jpeg.tar.gz: carry it (see the header)"; FAILURES+=("pretraining (no data)")
fi
[ -f "$PRETRAIN_OUT/results.json" ] && "$PY" - "$PRETRAIN_OUT/results.json" "$EPOCHS" >> "$LOG" 2>&1 <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
steps_per_epoch = max(1, r["steps"] // max(1, int(sys.argv[2])))
print(f"{r['steps']} steps in {r['seconds']} s: {r['seconds'] / r['steps'] * steps_per_epoch:.1f} s per epoch "
      f"of {steps_per_epoch} steps; kNN trained {r.get('knn_trained', float('nan')):.2f} %, "
      f"random {r.get('knn_random', float('nan')):.2f} %")
EOF

section "training benchmark (torch.compile)"
if [ "$TINY" = 1 ]; then
  note "SKIPPED (no CUDA): torch.compile benchmark"
else
  LEFT=$(( 470 - ($(date +%s) - START) ))
  if [ $LEFT -gt 60 ]; then
    run "benchmark, compiled" $LEFT "$PY" -m trimix bench train --device cuda "${SIZES[@]}" "${TIMING[@]}" \
      --methods trimix barlow_twins --compile --no-plain --json "$OUT/bench_compiled.json"
  else
    note "FAILED: no time left for the compiled benchmark ($LEFT s)"; FAILURES+=("benchmark, compiled (no time)")
  fi
fi

section "summary"
note "took $(( $(date +%s) - START )) s"
if [ ${#FAILURES[@]} -eq 0 ]; then
  note "all checks passed"
else
  note "FAILED: ${FAILURES[*]}"
  exit 1
fi
