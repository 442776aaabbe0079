#!/usr/bin/env bash
# Two tiny-model learning runs on grid/oneroom side by side (one GPU, or the CPU with --device cpu), with
# and without per-batch advantage normalisation, each stopped after LIMIT seconds (SIGINT; checkpoints
# every 5 updates are atomic). Evaluate afterwards, on any machine:
#     python vldac.py --eval-only --checkpoint OUT/norm-adv --eval-episodes 512
# Usage: bash benchmarks/learn_grid.sh OUT LIMIT [more vldac.py flags, which override these]
set -u
out=${1:-runs/learn_grid}; limit=${2:-480}; shift 2 || true
mkdir -p "$out"
common=(--env grid --task oneroom --device cuda --num-envs 256 --num-steps 16 --total-timesteps 409600
        --learning-rate 1e-3 --gamma 0.95 --invalid-action penalty --max-new-tokens 24 --eval-every 0
        --checkpoint-every 5 --transcripts-every 5)
for variant in norm-adv no-norm-adv; do
  OMP_NUM_THREADS=8 timeout -s INT "$limit" python vldac.py "${common[@]}" "--$variant" "$@" \
    --run-dir "$out/$variant" > "$out/$variant.log" 2>&1 &
done
wait
for variant in norm-adv no-norm-adv; do
  echo "$variant: $(grep -c . "$out/$variant/metrics.jsonl") updates, latest $(cat "$out/$variant/latest")"
done
