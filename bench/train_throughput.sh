#!/usr/bin/env bash
# Training throughput, qforge vs the Hugging Face PEFT LoRA bf16 baseline (bench/peft_baseline.py),
# in one call on the GPU machine, on random-initialised Llama-3.2-1B and Llama-3-8B shapes at
# seq 2048, micro-batch 2. Prints per config: tokens/s, peak GiB, MFU vs 989 TFLOP/s and the
# qforge/peer ratios, and writes the table to ${OUT:-bench/results}/train_throughput.md.
#
# qforge runs twice per shape. "full causal" reads documents of random letter-words longer than a
# row (generated here: one document per row, no padding), so its attention does what the peer's
# does on its random ids, the whole causal triangle of every row: the like-for-like ratio.
# "packed" is the SFT job as shipped (bench/train_throughput.yaml: Dolly examples packed into each
# row, attention kept inside each example), where the attention skips the tiles between examples;
# the peer, fed unpacked random ids, has no such tiles to skip.
#
#   bench/train_throughput.sh [build-dir] [shapes...]     # default: build-gpu llama3-1b llama3-8b
#
# FLOPs per token (MFU): 4 N for the frozen-base GEMMs (forward 2N + input-gradient 2N; the base
# gets no weight gradient) with N the non-embedding parameters plus the LM head, plus attention
# 6 * T * Hq * D * L (QK^T and PV, causal half, forward + 2x backward; nominal for the packed run,
# which does less). Recomputation from activation checkpointing is not counted, as is the
# convention.
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
# qforge_run SHAPE TAG [--set ...]: prints "tokens/s peak-GiB" (median step after 2 warm-up steps)
qforge_run() {
  local shape=$1 tag=$2
  shift 2
  local log="$out/qforge-$shape-$tag.log"
  rm -rf runs/bench
  "$qforge" train bench/train_throughput.yaml --shape "$shape" --set train.max_steps="$steps" \
    --set data.seq_len=$seq --set train.micro_batch=$bsz "$@" >"$log" 2>&1 || { tail -20 "$log" >&2; exit 1; }
  python3 - runs/bench/bench/metrics.jsonl <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"tokens_per_s"' in l]
print(statistics.median(r["tokens_per_s"] for r in rows[2:] or rows), end=" ")
PY
  sed -n 's/^peak GPU memory: *\([0-9.]*\).*/\1/p' "$log"
}
long_docs="$out/long_docs.jsonl"
python3 - "$long_docs" <<'PY'
import json, random, string, sys
rng = random.Random(0)
with open(sys.argv[1], "w") as f:
    for _ in range(64):  # ~1,600 words each: more than 2,048 tokens, truncated to one row
        words = ("".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 9))) for _ in range(1600))
        f.write(json.dumps({"text": " ".join(words)}) + "\n")
PY
for shape in "${shapes[@]}"; do
  full=$(qforge_run "$shape" full --set data.train="$long_docs" --set data.format=text)
  packed=$(qforge_run "$shape" packed)
  peer=$(python3 bench/peft_baseline.py --shape "$shape" --seq $seq --bsz $bsz --steps "$steps" 2>"$out/peer-$shape.log" | tail -1)
  python3 - "$shape" "$full" "$packed" "$peer" >>"$table" <<'PY'
import json, sys
shape, full, packed, peer = sys.argv[1], sys.argv[2].split(), sys.argv[3].split(), json.loads(sys.argv[4])
S = {"llama3-8b": (4096, 14336, 32, 32, 8, 128, 128256), "llama3-1b": (2048, 8192, 16, 32, 8, 64, 128256)}
C, F, L, Hq, Hkv, D, V = S[shape]
T = 2048
n = L * (C * Hq * D + 2 * C * Hkv * D + Hq * D * C + 3 * C * F) + V * C
flops = 4 * n + 6 * T * Hq * D * L
mfu = lambda tps: 100.0 * tps * flops / 989e12
p_tps, p_gib = peer["tokens_per_s"], peer["peak_gib"]
for name, (tps, gib) in (("qforge, full causal", full), ("qforge, packed", packed)):
    tps, gib = float(tps), float(gib)
    print(f"| {shape} | {name} | {tps:,.0f} | {gib:.1f} | {mfu(tps):.1f}% | {tps / p_tps:.2f}x | {gib / p_gib:.2f}x |")
print(f"| {shape} | peft-bf16 | {p_tps:,.0f} | {p_gib:.1f} | {mfu(p_tps):.1f}% | 1.00x | 1.00x |")
PY
done
cat "$table"
