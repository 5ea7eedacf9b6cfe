#!/usr/bin/env bash
# Training throughput, qforge vs the Hugging Face PEFT LoRA bf16 baseline (bench/peft_baseline.py),
# in one call on the GPU machine, on random-initialised Llama-3.2-1B and Llama-3-8B shapes at
# seq 2048, micro-batch 2. Prints per config: tokens/s, peak GiB, MFU vs 989 TFLOP/s and the
# qforge/peer ratios, and writes the table to ${OUT:-bench/results}/train_throughput.md.
#
#   bench/train_throughput.sh [build-dir] [shapes...]     # default: build-gpu llama3-1b llama3-8b
#
# FLOPs per token (MFU): 4 N for the frozen-base GEMMs (forward 2N + input-gradient 2N; the base
# gets no weight gradient) with N the non-embedding parameters plus the LM head, plus attention
# 6 * T * Hq * D * L (QK^T and PV, causal half, forward + 2x backward). Recomputation from
# activation checkpointing is not counted, as is the convention.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-gpu}
shift || true
shapes=("${@:-llama3-1b llama3-8b}")
read -r -a shapes <<<"${shapes[*]}"
out=${OUT:-bench/results}
mkdir -p "$out"
seq=2048
bsz=2
steps=${STEPS:-8}
qforge=$build/launcher/qforge
[[ -x $qforge ]] || { echo "no $qforge: build first (scripts/gpu-check)"; exit 1; }
device=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
table="$out/train_throughput.md"
{
  echo "# Training throughput: qforge vs HF PEFT LoRA bf16 ($device, $(date -u +%F))"
  echo
  echo "seq $seq, micro-batch $bsz, LoRA r=16 on all seven projections, AdamW, activation"
  echo "checkpointing on both; random-initialised weights in the named shape; $steps steps, median"
  echo "step after 2 warm-up steps. qforge: NF4 base; peer: bf16 base (transformers + peft, SDPA)."
  echo
  echo "| shape | system | tokens/s | peak GiB | MFU | tokens/s ratio | memory ratio |"
  echo "|---|---|---|---|---|---|---|"
} >"$table"
for shape in "${shapes[@]}"; do
  log="$out/qforge-$shape.log"
  rm -rf runs/bench
  "$qforge" train bench/train_throughput.yaml --shape "$shape" --set train.max_steps="$steps" \
    --set data.seq_len=$seq --set train.micro_batch=$bsz >"$log" 2>&1 || { tail -20 "$log"; exit 1; }
  q_tps=$(python3 - runs/bench/bench/metrics.jsonl <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"tokens_per_s"' in l]
print(statistics.median(r["tokens_per_s"] for r in rows[2:] or rows))
PY
)
  q_gib=$(sed -n 's/^peak GPU memory: *\([0-9.]*\).*/\1/p' "$log")
  peer=$(python3 bench/peft_baseline.py --shape "$shape" --seq $seq --bsz $bsz --steps "$steps" 2>"$out/peer-$shape.log" | tail -1)
  python3 - "$shape" "$q_tps" "$q_gib" "$peer" >>"$table" <<'PY'
import json, sys
shape, q_tps, q_gib, peer = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), json.loads(sys.argv[4])
S = {"llama3-8b": (4096, 14336, 32, 32, 8, 128, 128256), "llama3-1b": (2048, 8192, 16, 32, 8, 64, 128256)}
C, F, L, Hq, Hkv, D, V = S[shape]
T = 2048
n = L * (C * Hq * D + 2 * C * Hkv * D + Hq * D * C + 3 * C * F) + V * C
flops = 4 * n + 6 * T * Hq * D * L
mfu = lambda tps: 100.0 * tps * flops / 989e12
p_tps, p_gib = peer["tokens_per_s"], peer["peak_gib"]
print(f"| {shape} | qforge | {q_tps:,.0f} | {q_gib:.1f} | {mfu(q_tps):.1f}% | {q_tps / p_tps:.2f}x | {q_gib / p_gib:.2f}x |")
print(f"| {shape} | peft-bf16 | {p_tps:,.0f} | {p_gib:.1f} | {mfu(p_tps):.1f}% | 1.00x | 1.00x |")
PY
done
cat "$table"
