#!/usr/bin/env bash
# The GPU checks the issues name, as one script for a lent CUDA machine (docs/benchmarks.md,
# section GPU). Results go to $OUT (default ./gpu-out): a log, the benches' JSON and the
# docs/benchmarks.md they rewrote (their *_cuda sections), the runs' stores.
#
#   bash bench/gpu_checks.sh checks   # every family trains on CUDA (short runs, in parallel),
#                                     # then the monitor-overhead and metric-speed benches
#   bash bench/gpu_checks.sh overhead # the monitor-overhead benches alone (steady state:
#                                     # the warm-up holds each periodic family's first run)
#   bash bench/gpu_checks.sh runs     # benchmark runs (translation, video) in parallel, one CPU
#                                     # thread each, stopped at RUNS_SECONDS; what finished is
#                                     # scored there; the run stores come back (no checkpoints)
#
# Wheels of packages the machine lacks may sit in .whl/ (installed to /tmp/site first).
set -u
mode=${1:-checks}
DEVICE=${DEVICE:-cuda}  # cpu: try the script on a machine without a GPU
SMOKE_STEPS=${SMOKE_STEPS:-120}
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site:$PWD
else
    export PYTHONPATH=$PWD
fi
log() { echo "[$(date +%T) +${SECONDS}s] $*"; }
nvidia-smi -L
python3 -c "import torch, torchmetrics; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0), 'torchmetrics', torchmetrics.__version__)"

train_all() {  # $1 dir, $2 steps, $3 timeout, configs...
    local dir=$1 steps=$2 limit=$3
    shift 3
    mkdir -p "$dir"
    for c in "$@"; do
        (OMP_NUM_THREADS=1 timeout "$limit" python3 -m gandiag train "configs/$c.toml" \
            --out "$dir/$c" --steps "$steps" --device "$DEVICE" --no-progress >"$dir/$c.log" 2>&1
         echo "$c rc=$?" >>"$dir/rc.txt") &
    done
    wait
}

if [ "$mode" = checks ]; then
    log "smoke: every family on CUDA"
    train_all /tmp/smoke "$SMOKE_STEPS" 150 dcgan_glyphs vae_glyphs wgan_gp_ring8 cyclegan_glyphs \
        pix2pix_glyphs srgan_glyphs progan_glyphs stylegan_glyphs lapgan_glyphs \
        stackgan_glyphs dvdgan_moving_glyphs
    sort /tmp/smoke/rc.txt
    for f in /tmp/smoke/*.log; do echo "== $f"; tail -n 4 "$f"; done
    (cd /tmp/smoke && tar czf "$OUT/smoke.tar.gz" --exclude='checkpoint.pt' --exclude='*.pt' .)
    [ "${SMOKE_ONLY:-0}" = 1 ] && exit 0
    mkdir -p "$OUT/json"
    log "monitor overhead, DCGAN 32x32x1"
    timeout 90 python3 bench/monitor_overhead.py --device cuda --steps 600 --block 50 \
        --json "$OUT/json/monitor_overhead_cuda.json"
    log "monitor overhead and throughput, DCGAN 64x64x3"
    timeout 90 python3 bench/monitor_overhead.py --device cuda --steps 600 --block 50 \
        --image-size 64 --channels 3 --no-sink --json "$OUT/json/monitor_overhead_64px_cuda.json"
    log "monitor overhead, CycleGAN"
    timeout 90 python3 bench/monitor_overhead.py --model cyclegan --device cuda --steps 300 \
        --block 25 --json "$OUT/json/monitor_overhead_cyclegan_cuda.json"
    log "monitor overhead, StyleGAN-lite"
    timeout 90 python3 bench/stylegan_overhead.py --device cuda --steps 300 \
        --json "$OUT/json/stylegan_overhead_cuda.json"
    log "metric speed, gandiag's PRDC on CUDA"
    timeout 150 python3 bench/metrics_speed.py --device cuda --fid-rounds 2 \
        --json "$OUT/json/metrics_speed_cuda.json"
    log "video bench on CUDA, one short run"
    timeout 90 python3 bench/detectors_video.py --device cuda --seeds 1 --steps 30 \
        --configs video_healthy --no-docs --json "$OUT/json/video_smoke_cuda.json" | tail -n 1
    cp docs/benchmarks.md "$OUT/benchmarks.md"
    log "done"
fi

if [ "$mode" = overhead ]; then
    mkdir -p "$OUT/json"
    log "monitor overhead, DCGAN 32x32x1 (paced)"
    timeout 75 python3 bench/monitor_overhead.py --device cuda --steps 800 --block 50 \
        --warmup 300 --json "$OUT/json/monitor_overhead_cuda.json"
    log "monitor overhead, CycleGAN (paced)"
    timeout 60 python3 bench/monitor_overhead.py --model cyclegan --device cuda --steps 300 \
        --block 25 --warmup 100 --json "$OUT/json/monitor_overhead_cyclegan_cuda.json"
    log "monitor overhead, StyleGAN-lite (paced)"
    timeout 60 python3 bench/stylegan_overhead.py --device cuda --steps 300 --warmup 100 \
        --json "$OUT/json/stylegan_overhead_cuda.json"
    cp docs/benchmarks.md "$OUT/benchmarks.md"
fi

if [ "$mode" = runs ]; then
    runs_seconds=${RUNS_SECONDS:-240}
    seeds=${SEEDS:-"0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15"}
    log "benchmark runs for ${runs_seconds}s"
    mkdir -p /tmp/tr /tmp/video
    jobs=()
    for c in cyclegan_steganography_glyphs pix2pix_no_l1_glyphs; do
        for s in $seeds; do
            jobs+=("python3 bench/translation_suite.py --configs $c --seeds $s --train-only --out /tmp/tr --no-docs")
        done
    done
    for s in ${VIDEO_SEEDS:-2 3 4 5}; do
        jobs+=("python3 bench/detectors_video.py --device $DEVICE --first-seed $s --seeds 1 --steps 900 --configs video_healthy --cache /tmp/video/s$s.pkl --no-docs --json /tmp/video/s$s.json")
    done
    printf '%s\n' "${jobs[@]}" | OMP_NUM_THREADS=1 timeout "$runs_seconds" \
        xargs -P "${PARALLEL:-18}" -I{} bash -c '{} >/dev/null 2>&1 || echo "failed: {}"'
    log "training stopped; scoring what finished"
    for c in cyclegan_steganography_glyphs pix2pix_no_l1_glyphs; do
        done_seeds=$(python3 -c "
import glob, sys
from gandiag.store import RunReader
for d in sorted(glob.glob('/tmp/tr/$c-s*')):
    if RunReader(d).info().status == 'finished':
        print(d.rsplit('-s', 1)[1])
" 2>/dev/null | tr '\n' ' ')
        echo "$c finished: $done_seeds" >&2
        for s in $done_seeds; do
            echo "python3 bench/translation_suite.py --configs $c --seeds $s --out /tmp/tr --no-docs --json /tmp/tr/score-$c-s$s.json"
        done
    done | OMP_NUM_THREADS=1 timeout 60 xargs -P 16 -I{} bash -c '{} >/dev/null 2>&1'
    ls /tmp/tr /tmp/video
    for d in tr video; do
        (cd /tmp && tar czf "$OUT/runs_$d.tar.gz" --exclude='*.pt' --exclude='samples' --exclude='*.png' $d)
    done
    ls -la "$OUT"
    log "done"
fi
