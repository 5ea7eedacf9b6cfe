#!/usr/bin/env bash
# Benchmark (not a test), for the GPU machine: `qforge serve` on the Llama-3.2-1B shape
# (random init, written as a Hugging Face directory by transformers) with 1 and 8 adapters,
# 1, 8 and 64 concurrent streaming clients: decode tokens/s and p50/p99 time to first token,
# beside Hugging Face transformers generate() on the same prompts (batched, per adapter).
# Usage: bench/serve.sh [build dir]   (results in $OUT or bench-out/serve.md)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
out=${OUT:-bench-out}
mkdir -p "$out"
work=$(mktemp -d)
trap 'kill ${server_pid:-} 2>/dev/null || true; rm -rf "$work"' EXIT

python3 - "$work" <<'PY'
import json, os, sys, torch
from transformers import LlamaConfig, LlamaForCausalLM
from peft import LoraConfig, get_peft_model
work = sys.argv[1]
cfg = LlamaConfig(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
                  num_attention_heads=32, num_key_value_heads=8, head_dim=64, vocab_size=128256,
                  max_position_embeddings=2048, rope_theta=500000.0, tie_word_embeddings=True,
                  bos_token_id=1, eos_token_id=2)
torch.manual_seed(0)
model = LlamaForCausalLM(cfg)
model.save_pretrained(f"{work}/base", safe_serialization=True)
# A tokenizer the server can load: the shipped Llama-2 one (ids < 32000 fit the vocab).
data = os.environ.get("QFORGE_DATA", "../shared/data")
for f in ("tokenizer.json", "tokenizer_config.json"):
    src = f"{data}/models/llama2-tokenizer/{f}"
    if os.path.exists(src):
        open(f"{work}/base/{f}", "w").write(open(src).read())
for i in range(8):
    torch.manual_seed(100 + i)
    peft = get_peft_model(LlamaForCausalLM(cfg), LoraConfig(r=16, lora_alpha=32,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                        "down_proj"], init_lora_weights=False))
    peft.save_pretrained(f"{work}/a{i}")
PY

adapters=()
for i in 0 1 2 3 4 5 6 7; do adapters+=(--adapter "a$i=$work/a$i"); done
"$build/launcher/qforge" serve --model "$work/base" "${adapters[@]}" --port 0 --max-batch 64 \
    --max-len 1024 --max-concurrent 256 2> "$work/serve.log" &
server_pid=$!
for _ in $(seq 600); do
  port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$work/serve.log" | grep -o '[0-9]*$' || true)
  [[ -n "$port" ]] && break
  sleep 0.5
done
[[ -n "${port:-}" ]] || { cat "$work/serve.log"; exit 1; }

python3 - "$port" "$work" "$out" <<'PY'
import json, statistics, sys, threading, time, urllib.request
port, work, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
prompts = [f"Question {i}: tell me about the number {i}." for i in range(64)]
NEW = 128

def stream(model, prompt, res):
    body = json.dumps({"model": model, "prompt": prompt, "max_tokens": NEW, "temperature": 0,
                       "ignore_eos": True, "stream": True}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/completions", body,
                                 {"Content-Type": "application/json"})
    t0 = time.perf_counter(); ttft = None
    with urllib.request.urlopen(req) as r:
        for line in r:
            if line.startswith(b"data: ") and ttft is None:
                ttft = time.perf_counter() - t0
    res.append((ttft, time.perf_counter() - t0))

rows = []
for n_adapters in (1, 8):
    for clients in (1, 8, 64):
        res = []
        threads = [threading.Thread(target=stream, args=(f"a{i % n_adapters}", prompts[i], res))
                   for i in range(clients)]
        t0 = time.perf_counter()
        for t in threads: t.start()
        for t in threads: t.join()
        wall = time.perf_counter() - t0
        ttfts = sorted(r[0] for r in res)
        rows.append((n_adapters, clients, clients * NEW / wall,
                     statistics.median(ttfts), ttfts[min(len(ttfts) - 1, int(0.99 * len(ttfts)))]))

# Hugging Face transformers + PEFT generate on the same prompts, one batch per adapter.
import torch
from transformers import AutoTokenizer, LlamaForCausalLM
from peft import PeftModel
tok = AutoTokenizer.from_pretrained(f"{work}/base"); tok.pad_token = tok.eos_token
tok.padding_side = "left"
base = LlamaForCausalLM.from_pretrained(f"{work}/base", torch_dtype=torch.bfloat16).cuda()
hf = []
for n_adapters in (1, 8):
    model = PeftModel.from_pretrained(base, f"{work}/a0", adapter_name="a0")
    for i in range(1, n_adapters):
        model.load_adapter(f"{work}/a{i}", adapter_name=f"a{i}")
    for clients in (1, 8, 64):
        torch.cuda.synchronize(); t0 = time.perf_counter()
        for i in range(n_adapters):
            ps = [p for j, p in enumerate(prompts[:clients]) if j % n_adapters == i]
            if not ps: continue
            model.set_adapter(f"a{i}")
            x = tok(ps, return_tensors="pt", padding=True).to("cuda")
            model.generate(**x, max_new_tokens=NEW, min_new_tokens=NEW, do_sample=False)
        torch.cuda.synchronize()
        hf.append(clients * NEW / (time.perf_counter() - t0))
    base = model.unload() if hasattr(model, "unload") else base

with open(f"{out}/serve.md", "w") as f:
    f.write("| adapters | clients | qforge tok/s | TTFT p50 ms | TTFT p99 ms | HF generate tok/s |\n")
    f.write("|---|---|---|---|---|---|\n")
    for (a, c, tps, p50, p99), h in zip(rows, hf):
        f.write(f"| {a} | {c} | {tps:.0f} | {p50*1e3:.1f} | {p99*1e3:.1f} | {h:.0f} |\n")
print(open(f"{out}/serve.md").read())
PY
