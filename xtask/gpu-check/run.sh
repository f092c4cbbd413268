#!/usr/bin/env bash
# The seqrec GPU check: one short run that answers the project's GPU
# questions on a machine lent for minutes (no network, no registry).
#
#   run.sh OUT [--dry-run]
#
# Prepared by `cargo xtask gpu-check --prepare DIR` (this script, the
# xz-compressed `seqrec` with the cuda and vulkan features, the PyTorch
# reference, the presets and committed results it compares with, the small
# MovieLens data, a Vulkan loader). Writes OUT/gpu-report.md,
# OUT/gpu-report.json and OUT/gpu-check.log, rewritten after every step, so
# a run cut off still reports. Work files go to $SEQREC_GPU_CHECK_WORK
# (default: a new folder under /tmp).
#
# Steps, each under its own timeout inside an overall budget
# ($SEQREC_GPU_CHECK_BUDGET seconds, default 420): devices; a smoke stage
# (one tiny training window on cuda and on vulkan); ML-10M-scale and
# LastFM-scale synthetic data; the four GRUs at the paper's setting (hidden
# 1000, 1000 lanes, 20-step windows) for a few windows on cuda and on
# vulkan, evaluated on a sample; the PyTorch reference on the same shapes
# (when torch with CUDA is there), fp32 and tf32; the four GRUs again on
# cuda with `--precision fp32`; LastFM's catalogue on each backend and in
# PyTorch with the same chunked output layer; a small GRU on ml-100k on the GPU against
# the committed CPU cell of results/quick; a repeat of one cuda run to see
# whether GPU runs are bit-reproducible; a profile (cubecl's own kernel
# timings of a few standard-GRU windows); then, as far as the budget goes,
# the standard GRU with `--precision bf16` against PyTorch's bf16 autocast
# and cuDNN's own torch.nn.GRU as context. The smoke stage also runs with
# `--elementwise composed`. A failed step is reported and the rest still
# run.
#
# --dry-run: the same steps at tiny sizes, the quality step on the ci preset
# (small synthetic data), the wgpu backend too — what the test suite runs on
# lavapipe. Set SEQREC_BIN to use a seqrec binary instead of the packed one,
# SEQREC_GPU_CHECK_GPU to the backend of the quality and repeat steps
# (default: cuda; in a dry run, wgpu).
set -uo pipefail

usage() { echo "usage: $0 OUT [--dry-run]" >&2; exit 2; }
[ $# -ge 1 ] || usage
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1" || exit 2
OUT=$(cd "$1" && pwd)
shift
DRY=0
case "${1:-}" in
  --dry-run) DRY=1 ;;
  "") ;;
  *) usage ;;
esac

# A prepared folder holds configs/, results/ and the PyTorch script beside
# this script; in the repository they are at the root.
if [ -d "$HERE/configs" ]; then
  ROOT=$HERE
  TORCH_SCRIPT="$HERE/torch_gru_throughput.py"
else
  ROOT=$(cd "$HERE/../.." && pwd)
  TORCH_SCRIPT="$ROOT/crates/seqrec-models/benches/torch_gru_throughput.py"
fi

WORK=${SEQREC_GPU_CHECK_WORK:-$(mktemp -d /tmp/seqrec-gpu-check.XXXXXX)}
mkdir -p "$WORK/data" "$WORK/cache" "$WORK/steps"
BUDGET=${SEQREC_GPU_CHECK_BUDGET:-420}
START=$(date +%s)
LOG="$OUT/gpu-check.log"
: > "$LOG"
export SEQREC_CACHE_DIR="$WORK/cache"
export RUST_LOG=${RUST_LOG:-warn}
PYTHON=${PYTHON:-python3}
say() { echo "[$(( $(date +%s) - START ))s] $*" | tee -a "$LOG" >&2; }

report() {
  "$PYTHON" "$HERE/report.py" --steps "$WORK/steps" --out "$OUT" --here "$ROOT" \
    --mode "$([ $DRY = 1 ] && echo dry-run || echo full)" >>"$LOG" 2>&1 \
    || say "report.py failed (see above)"
}

# The binary: $SEQREC_BIN, else the packed one.
if [ -n "${SEQREC_BIN:-}" ]; then
  BIN=$SEQREC_BIN
elif [ -f "$HERE/seqrec.xz" ]; then
  BIN="$WORK/seqrec"
  xz -dc "$HERE/seqrec.xz" > "$BIN" && chmod +x "$BIN" || { say "cannot unpack seqrec.xz"; }
else
  BIN="$HERE/seqrec"
fi

# The profile step runs in another directory.
case $BIN in /*) ;; *) BIN="$PWD/$BIN" ;; esac

# A Vulkan loader where the machine has none; NVIDIA's Vulkan driver where
# the loader does not find it by itself (a driver mounted under /usr/local/nvidia).
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1' && [ -f "$HERE/lib/libvulkan.so.1" ]; then
  export LD_LIBRARY_PATH="$HERE/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  say "using the packed Vulkan loader"
fi
NV_ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ] && [ -f "$NV_ICD" ] \
   && ! ls /usr/share/vulkan/icd.d/nvidia* /etc/vulkan/icd.d/nvidia* >/dev/null 2>&1; then
  export VK_DRIVER_FILES=$NV_ICD
  say "using the NVIDIA Vulkan driver at $NV_ICD"
fi
# libdevice: the machine's own toolkit first (cubecl's own search); a
# CUDA_PATH is set only where cubecl would find none.
if [ -z "${CUDA_PATH:-}" ] && ! ls /usr/local/cuda/nvvm/libdevice /opt/cuda/nvvm/libdevice \
     /usr/lib/cuda/nvvm/libdevice /usr/nvvm/libdevice >/dev/null 2>&1; then
  for dir in $("$PYTHON" -c 'import nvidia.cuda_nvcc; print(list(nvidia.cuda_nvcc.__path__)[0])' 2>/dev/null); do
    [ -d "$dir/nvvm/libdevice" ] && export CUDA_PATH=$dir && say "CUDA_PATH=$dir (pip's nvidia-cuda-nvcc)"
  done
fi

# step NAME LIMIT_SECONDS COMMAND...: runs COMMAND with a timeout (cut to
# what the budget has left), samples GPU memory, records the outcome in
# $WORK/steps/NN-NAME.json and rewrites the report.
STEP_NO=0
step() {
  local name=$1 limit=$2
  shift 2
  STEP_NO=$((STEP_NO + 1))
  local base
  base="$WORK/steps/$(printf '%02d' $STEP_NO)-$name"
  local left=$(( BUDGET - ($(date +%s) - START) ))
  if [ "$left" -lt 10 ]; then
    say "$name: skipped (the ${BUDGET} s budget is spent)"
    printf '{"name":"%s","status":"skipped","reason":"budget spent"}\n' "$name" > "$base.json"
    report
    return 0
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  say "$name: $* (limit ${limit} s)"
  local sampler=""
  if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 250 > "$base.mem" 2>/dev/null &
    sampler=$!
  fi
  local t0 t1 rc
  t0=$(date +%s.%N)
  timeout --kill-after=5 "$limit" "$@" > "$base.out" 2> "$base.err"
  rc=$?
  t1=$(date +%s.%N)
  [ -n "$sampler" ] && kill "$sampler" 2>/dev/null && wait "$sampler" 2>/dev/null
  tail -n 20 "$base.err" >> "$LOG"
  "$PYTHON" "$HERE/report.py" --record "$base" --name "$name" --rc "$rc" \
    --started "$t0" --ended "$t1" --limit "$limit" --command "$*" >>"$LOG" 2>&1
  say "$name: exit $rc"
  report
}

if [ $DRY = 1 ]; then
  ML_ARGS=(--users 300 --items 500 --events 30000)
  LF_ARGS=(--users 40 --items 3000 --events 30000)
  GRU_CONFIG="$WORK/gru.toml"
  printf '[gru]\nhidden = 16\nlanes = 32\n' > "$GRU_CONFIG"
  WINDOWS=(--windows 2 --warmup 1 --eval-users 20)
  LF_WINDOWS=(--windows 2 --warmup 1 --eval-users 5)
  QUALITY=(ci synthetic-movielens)
  BACKENDS=(cuda vulkan wgpu)
  FP32_BACKENDS=(cuda wgpu)
  MAIN_GPU=${SEQREC_GPU_CHECK_GPU:-wgpu}
else
  ML_ARGS=()
  LF_ARGS=(--users 992 --items 500000 --events 1900000)
  GRU_CONFIG=""   # Table 1: hidden 1000, 1000 lanes, 20-step windows
  WINDOWS=(--windows 5 --warmup 1 --eval-users 200)
  LF_WINDOWS=(--windows 3 --warmup 1 --eval-users 20)
  QUALITY=(quick ml-100k)
  BACKENDS=(cuda vulkan)
  # Only CUDA has TF32 products; on Vulkan fp32 is what runs anyway.
  FP32_BACKENDS=(cuda)
  MAIN_GPU=${SEQREC_GPU_CHECK_GPU:-cuda}
fi
config_args() { [ -n "$GRU_CONFIG" ] && echo "--config $GRU_CONFIG"; }
SMOKE="$WORK/smoke.toml"
printf '[gru]\nhidden = 16\nlanes = 8\nwindow = 5\n' > "$SMOKE"
LASTFM_OPTIONS="$WORK/lastfm-options.toml"
# The plays are generated at the size the paper's 10% subsample leaves.
printf '[lastfm]\nsubsample = "none"\n' > "$LASTFM_OPTIONS"
ML10M="$WORK/data/ml-10M100K/ratings.dat"
LASTFM="$WORK/data/lastfm-dataset-1K/userid-timestamp-artid-artname-traid-traname.tsv"
DATA_ROOT=${SEQREC_DATA_DIR:-$HERE/data}

say "seqrec GPU check ($([ $DRY = 1 ] && echo dry run || echo full)), binary $BIN, work $WORK"
report

# Stage 1: smoke (at most about 60 s).
step version 10 "$BIN" --version
step devices 25 "$BIN" devices --json
for backend in "${BACKENDS[@]}"; do
  step "smoke-$backend" 25 "$BIN" throughput --dataset synthetic-movielens --methods gru \
    --config "$SMOKE" --windows 1 --warmup 0 --eval-users 5 --backend "$backend"
  # The same with burn's operations instead of seqrec's fused kernels: if
  # only the step above fails, the fused kernels are what this device
  # cannot run (`--elementwise composed` is the way around).
  step "smoke-composed-$backend" 25 "$BIN" throughput --dataset synthetic-movielens --methods gru \
    --config "$SMOKE" --windows 1 --warmup 0 --eval-users 5 --backend "$backend" \
    --elementwise composed
done

# Stage 2: data at the paper's scale.
mkdir -p "$(dirname "$ML10M")" "$(dirname "$LASTFM")"
step generate-ml10m 60 "$BIN" data generate --preset ml10m-scale --format movielens-dat \
  --out "$ML10M" "${ML_ARGS[@]}"
step generate-lastfm 45 "$BIN" data generate --preset synthetic-lastfm --format lastfm-1k \
  --out "$LASTFM" "${LF_ARGS[@]}"

# Stage 3: the four GRUs at the paper's setting, each backend, at the
# default precision (tf32: TF32 tensor cores where the device has them).
for backend in "${BACKENDS[@]}"; do
  # shellcheck disable=SC2046
  step "ml10m-$backend" 80 "$BIN" --data-dir "$WORK/data" throughput --dataset ml-10m \
    $(config_args) "${WINDOWS[@]}" --backend "$backend"
done

# Stage 4: the ml-100k quality check on the GPU against the committed CPU cell.
step "quality-${QUALITY[1]}" 100 "$BIN" --data-dir "$DATA_ROOT" reproduce \
  --config "$ROOT/configs/${QUALITY[0]}.toml" --datasets "${QUALITY[1]}" --methods gru \
  --backend "$MAIN_GPU" --out "$WORK/quality" --quiet

# Stage 5: the PyTorch reference on the ML-10M shape (torch with CUDA only).
TORCH_CUDA=0
if "$PYTHON" -c 'import torch, numpy, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  TORCH_CUDA=1
  # fp32 and tf32, to compare with seqrec's `--precision` of each.
  for variant in gru attentional-user-gru; do
    for tf32 in 0 1; do
      step "torch-ml10m-$variant-$([ "$tf32" = 1 ] && echo tf32 || echo fp32)" 40 "$PYTHON" \
        "$TORCH_SCRIPT" device=cuda variant="$variant" hidden=1000 lanes=1000 users=69878 \
        items=10677 length=143 windows=5 warmup=1 eval_users=200 tf32="$tf32" json=1
    done
  done

else
  say "PyTorch with CUDA is not available here: the reference is not run"
  printf '{"name":"torch","status":"skipped","reason":"torch with CUDA is not available"}\n' \
    > "$WORK/steps/$(printf '%02d' $((STEP_NO + 1)))-torch.json"
  STEP_NO=$((STEP_NO + 1))
  report
fi

# Stage 6: the four GRUs with IEEE fp32 products (`--precision fp32`).
for backend in "${FP32_BACKENDS[@]}"; do
  # shellcheck disable=SC2046
  step "ml10m-$backend-fp32" 80 "$BIN" --data-dir "$WORK/data" throughput --dataset ml-10m \
    $(config_args) "${WINDOWS[@]}" --backend "$backend" --precision fp32
done

# Stage 7: LastFM's catalogue (the output layer dominates), then a repeat.
for backend in "${BACKENDS[@]}"; do
  # shellcheck disable=SC2046
  step "lastfm-$backend" 60 "$BIN" --data-dir "$WORK/data" throughput --dataset lastfm-1k \
    --options "$LASTFM_OPTIONS" --methods gru,attentional-user-gru $(config_args) \
    "${LF_WINDOWS[@]}" --backend "$backend"
done
# PyTorch on the LastFM shape with seqrec's output chunk on this device
# (what lastfm-cuda reported; else the same rule from nvidia-smi's total).
if [ "$TORCH_CUDA" = 1 ]; then
  CHUNK=$(grep -ho '"chunk_rows":[0-9]*' "$WORK"/steps/*-lastfm-cuda.out 2>/dev/null | head -1 | cut -d: -f2)
  if [ -z "$CHUNK" ]; then
    CHUNK=$(nvidia-smi --query-gpu=memory.total --format=csv,noheader,nounits 2>/dev/null | head -1 \
      | awk '{b = $1 * 1048576 / 16; if (b < 67108864) b = 67108864; if (b > 4294967296) b = 4294967296;
              r = int(b / (12 * 500000)); print (r < 16 ? 16 : r)}')
  fi
  for variant in gru attentional-user-gru; do
    step "torch-lastfm-$variant-tf32" 45 "$PYTHON" "$TORCH_SCRIPT" device=cuda variant="$variant" \
      hidden=1000 lanes=1000 users=992 items=500000 length=1915 windows=3 warmup=1 eval_users=20 \
      tf32=1 chunk_rows="${CHUNK:-715}" json=1
  done
fi
# shellcheck disable=SC2046
step "repeat-ml10m-$MAIN_GPU" 40 "$BIN" --data-dir "$WORK/data" throughput --dataset ml-10m \
  --methods gru $(config_args) "${WINDOWS[@]}" --backend "$MAIN_GPU"

# Stage 8: a profile: cubecl's own kernel timings (its `cubecl.toml`,
# read from the working directory) of a few standard-GRU windows.
PROFILE_DIR="$WORK/profile"
mkdir -p "$PROFILE_DIR"
printf '[profiling.logger]\nlevel = "basic"\nfile = "%s"\n' "$PROFILE_DIR/cubecl-profile.log" \
  > "$PROFILE_DIR/cubecl.toml"
# shellcheck disable=SC2046
step "profile-ml10m-$MAIN_GPU" 40 env -C "$PROFILE_DIR" "$BIN" --data-dir "$WORK/data" throughput \
  --dataset ml-10m --methods gru $(config_args) --windows 2 --warmup 1 --eval-users 0 --backend "$MAIN_GPU"

# Stage 9, as far as the budget goes: the standard GRU with bf16 operands
# (`--precision bf16`, cuda only) against PyTorch's bf16 autocast, and
# cuDNN's own GRU (torch.nn.GRU: the reset gate after the product, another
# cell) as context a user would compare with, never as the reference.
# shellcheck disable=SC2046
step "ml10m-cuda-bf16" 40 "$BIN" --data-dir "$WORK/data" throughput --dataset ml-10m \
  --methods gru $(config_args) "${WINDOWS[@]}" --backend cuda --precision bf16
if [ "$TORCH_CUDA" = 1 ]; then
  step "torch-ml10m-gru-bf16" 40 "$PYTHON" "$TORCH_SCRIPT" device=cuda variant=gru hidden=1000 \
    lanes=1000 users=69878 items=10677 length=143 windows=5 warmup=1 eval_users=200 bf16=1 json=1
  step "torch-ml10m-gru-cudnn-tf32" 30 "$PYTHON" "$TORCH_SCRIPT" device=cuda variant=gru \
    hidden=1000 lanes=1000 users=69878 items=10677 length=143 windows=5 warmup=1 eval_users=200 \
    tf32=1 cudnn=1 json=1
fi

say "done in $(( $(date +%s) - START )) s: $OUT/gpu-report.md"
report
exit 0
