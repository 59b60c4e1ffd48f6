#!/usr/bin/env bash
# Proves the GPU path in one call of the `device` tool, in about 8 minutes, and writes a log and a few small
# JSON files to $OUT (the device tool brings back at most 8 files; checkpoints stay in runs/, outside $OUT):
#   1. the environment (GPU, compute capability, torch, CUDA), the precision the kit picks on this card and
#      why, and a clear failure when there is no CUDA torch: it installs nothing;
#   2. the CUDA-only tests: no host sync in a step at the card's precision AND at fp16 with a gradient scaler
#      (Colab's T4 path, forced), fused Adam, bf16 loss = float32 loss within 2 %, kNN;
#   3. a short training forced to --precision fp16 (the T4's code path on this card): the loss stays finite;
#   4. the training benchmark at the paper's configuration (ResNet-18, batch 256, projector 3 x 1024), every
#      method, kit path vs plain DataLoader path: images/s, data vs compute, 200-epoch time, measured MFU;
#   5. a short real pretraining of TriMix on CIFAR-10 (JPEGs carried in) with its kNN evaluation, epoch time;
#   6. --deterministic: two identical short runs must end with bit-identical weights;
#   7. kNN of 10,000 x 50,000 features, an Adam step fused vs foreach, and, in the time left, TriMix and
#      Barlow Twins compiled with torch.compile.
# Sections run in order of importance; the later ones are skipped (and say so) when time runs short.
#
# Before the call, on the development machine (the copy is git-ignored, 20 MB of the 64 MiB carry limit):
#   cp ../shared/data/cifar10-jpeg.tar.gz data/
# The call:
#   run(command="bash bench/gpu_check.sh", carry=["data/cifar10-jpeg.tar.gz"], timeout_s=570)
#
# Knobs (environment): GPU_CHECK_EPOCHS (CIFAR-10 epochs, default 5), GPU_CHECK_TINY=1 (tiny sizes on the
# CPU with the CUDA parts skipped: what tests/test_speed.py runs so that this script does not rot).
set -u -o pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/gpu_check}
mkdir -p "$OUT"
LOG="$OUT/gpu_check.log"
: > "$LOG"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
# the first of python3, python that has torch (on the device image python3 is the one with PyTorch)
PY=""
for candidate in python3 python; do
  if command -v "$candidate" >/dev/null && "$candidate" -c "import torch" 2>/dev/null; then PY=$candidate; break; fi
done
[ -n "$PY" ] || PY=$(command -v python3 || command -v python)
TINY=${GPU_CHECK_TINY:-0}
EPOCHS=${GPU_CHECK_EPOCHS:-5}
RUNS=${GPU_CHECK_RUNS:-runs/gpu_check-runs}  # checkpoints: large, so not under $OUT
BUDGET=480  # seconds for the whole script; optional sections start only when they fit
START=$(date +%s)
FAILURES=()

left() { echo $(( BUDGET - ($(date +%s) - START) )); }
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
    from trimix.device import choose_precision
    props, device = torch.cuda.get_device_properties(0), torch.device("cuda", 0)
    print(f"GPU: {props.name}, compute capability {props.major}.{props.minor}, "
          f"{props.total_memory / 2**30:.0f} GiB; torch.cuda.is_bf16_supported() = {torch.cuda.is_bf16_supported()}"
          " (True by emulation on 7.x: the kit does not use it)")
    print(f"precision the kit picks: {choose_precision(device).describe()}")
    print(f"forced fp16 (the T4's path): {choose_precision(device, 'fp16').describe()}")
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
  run "CUDA-only tests" 180 "$PY" -m pytest -o addopts="" -p no:cacheprovider -q -rs -s tests/test_cuda.py tests/test_augment.py -k cuda
else
  note "pytest is not installed: CUDA-only tests not run"; FAILURES+=("CUDA-only tests (no pytest)")
fi

# pretrain NAME LIMIT OUT_NAME ARGS...: a CLI run into $RUNS/OUT_NAME; its results.json is copied to $OUT
pretrain() {
  local name=$1 limit=$2 out=$3; shift 3
  run "$name" "$limit" "$PY" -m trimix pretrain --device $DEVICE --no-progress --no-resume --yes \
    --out-dir "$RUNS/$out" "$@"
  if [ -f "$RUNS/$out/results.json" ]; then cp "$RUNS/$out/results.json" "$OUT/$out.json"; fi
}
if [ "$TINY" = 1 ]; then
  SMALL_RUN=(--quick --width 2 --proj-hidden 16 --proj-dim 16 --batch-size 8)
else
  SMALL_RUN=(--dataset shapes --batch-size 256)  # the paper's network on the built-in data: nothing to carry
fi

section "training forced to fp16 with a gradient scaler (the T4's code path)"
pretrain "fp16 training" 120 fp16 "${SMALL_RUN[@]}" --precision fp16 --max-steps 60 --no-eval
if [ -f "$OUT/fp16.json" ]; then
  run "fp16 losses finite" 30 "$PY" - "$OUT/fp16.json" <<'EOF'
import json, math, sys
r = json.load(open(sys.argv[1]))
losses = r["final_loss"]
print(f"fp16: {r['steps']} steps in {r['seconds']} s, final loss parts {losses}")
sys.exit(0 if all(math.isfinite(v) for v in losses.values()) else "a loss part is not finite under fp16")
EOF
fi

section "training benchmark (no compile)"
run "benchmark, eager" 150 "$PY" -m trimix bench train --device $DEVICE "${SIZES[@]}" "${TIMING[@]}" \
  --json "$OUT/bench_eager.json"

section "pretraining on CIFAR-10 with kNN"
if [ "$TINY" != 1 ] && [ -f data/cifar10-jpeg.tar.gz ] && [ ! -d data/cifar10-jpeg ]; then
  run "unpack CIFAR-10" 60 tar -xzf data/cifar10-jpeg.tar.gz -C data/
fi
if [ "$TINY" = 1 ]; then
  note "SKIPPED (no CUDA): CIFAR-10; a quick run on the built-in data instead"
  pretrain "pretraining" 120 cifar10-trimix "${SMALL_RUN[@]}" --max-steps 2 --knn-k 10
elif [ -d data/cifar10-jpeg ]; then
  pretrain "pretraining" 240 cifar10-trimix --dataset folder:data/cifar10-jpeg --epochs "$EPOCHS" \
    --checkpoint-every 1000
else
  note "FAILED: no data/cifar10-jpeg.tar.gz: carry it (see the header)"; FAILURES+=("pretraining (no data)")
fi
if [ -f "$OUT/cifar10-trimix.json" ]; then
  "$PY" - "$OUT/cifar10-trimix.json" "$EPOCHS" >> "$LOG" 2>&1 <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
steps_per_epoch = max(1, r["steps"] // max(1, int(sys.argv[2])))
print(f"{r['steps']} steps in {r['seconds']} s: {r['seconds'] / r['steps'] * steps_per_epoch:.1f} s per epoch "
      f"of {steps_per_epoch} steps; kNN trained {r.get('knn_trained', float('nan')):.2f} %, "
      f"random {r.get('knn_random', float('nan')):.2f} %")
EOF
fi

section "--deterministic: two runs, bit-identical weights"
if [ "$TINY" = 1 ] || [ "$(left)" -gt 90 ]; then
  for copy in a b; do
    pretrain "deterministic run $copy" 60 "deterministic-$copy" "${SMALL_RUN[@]}" --deterministic --max-steps 20 --no-eval
  done
  run "deterministic runs agree" 60 "$PY" - "$RUNS/deterministic-a" "$RUNS/deterministic-b" <<'EOF'
import sys, torch
a, b = (torch.load(f"{d}/checkpoint.pt", map_location="cpu", weights_only=True)["model"] for d in sys.argv[1:])
differ = [k for k in a if not torch.equal(a[k], b[k])]
print(f"--deterministic: {len(a) - len(differ)} of {len(a)} tensors bit-identical after 20 steps")
sys.exit(f"not bit-identical: {differ[:5]}" if differ else 0)
EOF
else
  note "FAILED: no time left for the deterministic runs ($(left) s)"; FAILURES+=("deterministic (no time)")
fi

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
from trimix.train import build_method
device = "cuda" if torch.cuda.is_available() else "cpu"
for fused in ((False, True) if device == "cuda" else (False,)):
    width, proj = map(int, sys.argv[1:])
    config = paper_config(method="barlow_twins", width=width, proj_hidden=proj, proj_dim=proj)
    params = list(build_method(config, 32).to(device).parameters())
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

section "training benchmark (torch.compile)"
if [ "$TINY" = 1 ]; then
  note "SKIPPED (no CUDA): torch.compile benchmark"
elif [ "$(left)" -gt 60 ]; then
  run "benchmark, compiled" "$(left)" "$PY" -m trimix bench train --device cuda "${SIZES[@]}" "${TIMING[@]}" \
    --methods trimix barlow_twins --compile --no-plain --json "$OUT/bench_compiled.json"
else
  note "SKIPPED: no time left for the compiled benchmark ($(left) s); it is optional"
fi

section "summary"
note "took $(( $(date +%s) - START )) s; files in $OUT: $(ls "$OUT" | tr '\n' ' ')"
if [ ${#FAILURES[@]} -eq 0 ]; then
  note "all checks passed"
else
  note "FAILED: ${FAILURES[*]}"
  exit 1
fi
