#!/usr/bin/env bash
# Benchmark (not a test), for the GPU machine: `qforge serve` on the Llama-3.2-1B shape
# (random init, written as a Hugging Face directory by transformers) with 1 and 8 adapters,
# 1, 8 and 64 concurrent streaming clients: decode tokens/s and p50/p99 time to first token,
# beside Hugging Face transformers generate() on the same prompts (batched, per adapter).
# Usage: bench/serve.sh [build dir] [device]   (device: cuda (default), cpu or auto; results in
# $OUT or bench-out/serve.md, the server's log in serve.log beside it)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
device=${2:-cuda}
out=${OUT:-bench-out}
mkdir -p "$out"
work=$(mktemp -d)
trap 'kill ${server_pid:-} 2>/dev/null || true; rm -rf "$work"' EXIT

python3 - "$work" <<'PY'
import os, sys, torch
from transformers import LlamaConfig, LlamaForCausalLM
from peft import LoraConfig, get_peft_model
work = sys.argv[1]
cfg = LlamaConfig(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
                  num_attention_heads=32, num_key_value_heads=8, head_dim=64, vocab_size=128256,
                  max_position_embeddings=2048, rope_theta=500000.0, tie_word_embeddings=True,
                  bos_token_id=1, eos_token_id=2)
torch.manual_seed(0)
with torch.device("cuda"):  # random init on the GPU: seconds instead of minutes
    model = LlamaForCausalLM(cfg)
model.to(torch.bfloat16).save_pretrained(f"{work}/base", safe_serialization=True)
# A tokenizer the server can load: the shipped Llama-2 one (ids < 32000 fit the vocab).
data = os.environ.get("QFORGE_DATA", "../shared/data")
for f in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
    src = f"{data}/models/llama2-tokenizer/{f}"
    if os.path.exists(src):
        open(f"{work}/base/{f}", "w").write(open(src).read())
# Eight adapters (r = 16 on all seven projections, non-zero B) from one PEFT wrapper.
peft = get_peft_model(model, LoraConfig(r=16, lora_alpha=32,
    target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                    "down_proj"], init_lora_weights=False))
for i in range(8):
    torch.manual_seed(100 + i)
    with torch.no_grad():
        for n, p in peft.named_parameters():
            if "lora_" in n:
                p.normal_(0.0, 0.02)
    peft.save_pretrained(f"{work}/a{i}")
PY

adapters=()
for i in 0 1 2 3 4 5 6 7; do adapters+=(--adapter "a$i=$work/a$i"); done
"$build/launcher/qforge" serve --model "$work/base" "${adapters[@]}" --port 0 --max-batch 64 \
    --max-len 1024 --max-concurrent 256 --device "$device" 2> "$out/serve.log" &
server_pid=$!
for _ in $(seq 600); do
  port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$out/serve.log" | grep -o '[0-9]*$' || true)
  [[ -n "$port" ]] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.5
done
[[ -n "${port:-}" ]] || { cat "$out/serve.log"; exit 1; }

python3 - "$port" "$work" "$out" "$server_pid" <<'PY'
import json, os, signal, statistics, sys, threading, time, urllib.request
port, work, out, server_pid = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
prompts = [f"Question {i}: tell me about the number {i}." for i in range(64)]
NEW = 128

def stream(model, prompt, res, new=NEW):
    body = json.dumps({"model": model, "prompt": prompt, "max_tokens": new, "temperature": 0,
                       "ignore_eos": True, "stream": True}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/completions", body,
                                 {"Content-Type": "application/json"})
    t0 = time.perf_counter(); ttft = None
    try:
        with urllib.request.urlopen(req, timeout=300) as r:
            for line in r:
                if line.startswith(b"data: ") and ttft is None:
                    ttft = time.perf_counter() - t0
        res.append((ttft, time.perf_counter() - t0))
    except Exception as e:  # counted, not fatal
        res.append((None, repr(e)))

def pct(xs, q):
    return xs[min(len(xs) - 1, int(q * len(xs)))]

for c in (1, 8, 64):  # warm-up (first GEMMs, allocations), like the HF side's
    ws = [threading.Thread(target=stream, args=(f"a{i % 8}", prompts[i], [], 8)) for i in range(c)]
    for t in ws: t.start()
    for t in ws: t.join()
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
        ok = [r for r in res if r[0] is not None]
        errors = len(res) - len(ok)
        ttfts = sorted(r[0] for r in ok) or [float("nan")]
        rows.append((n_adapters, clients, len(ok) * NEW / wall, statistics.median(ttfts),
                     pct(ttfts, 0.99), errors))
        print(f"qforge adapters={n_adapters} clients={clients}: {rows[-1]}", flush=True)
json.dump(rows, open(f"{out}/serve_qforge.json", "w"))  # kept if the HF part fails
os.kill(server_pid, signal.SIGTERM)  # free the GPU for the HF run
time.sleep(3)

# Hugging Face transformers + PEFT generate (bf16) on the same prompts: one batch holding every
# client, adapters mixed in the batch (PEFT adapter_names) when PEFT supports it, else one
# batch per adapter. TTFT is not measured (generate returns at the end).
import torch
from transformers import AutoTokenizer, LlamaForCausalLM
from peft import PeftModel
tok = AutoTokenizer.from_pretrained(f"{work}/base"); tok.pad_token = tok.eos_token
tok.padding_side = "left"
base = LlamaForCausalLM.from_pretrained(f"{work}/base", torch_dtype=torch.bfloat16).cuda()
hf, hf_mode = [], []
for n_adapters in (1, 8):
    model = PeftModel.from_pretrained(base, f"{work}/a0", adapter_name="a0")
    for i in range(1, n_adapters):
        model.load_adapter(f"{work}/a{i}", adapter_name=f"a{i}")
    model.eval()
    def gen(ps, names, new):
        x = tok(ps, return_tensors="pt", padding=True).to("cuda")
        kw = dict(max_new_tokens=new, min_new_tokens=new, do_sample=False)
        if n_adapters == 1:
            model.set_adapter("a0")
            return model.generate(**x, **kw)
        return model.generate(**x, adapter_names=names, **kw)
    mixed = True
    try:  # also the warm-up (CUDA context, cuBLAS heuristics, PEFT's first mixed batch)
        for c in (1, 8, 64):
            gen(prompts[:c], [f"a{j % n_adapters}" for j in range(c)], 8)
    except Exception as e:
        print("PEFT mixed-adapter batch not available:", repr(e), flush=True)
        mixed = False
    for clients in (1, 8, 64):
        torch.cuda.synchronize(); t0 = time.perf_counter()
        if mixed or n_adapters == 1:
            gen(prompts[:clients], [f"a{j % n_adapters}" for j in range(clients)], NEW)
        else:
            for i in range(n_adapters):
                ps = [p for j, p in enumerate(prompts[:clients]) if j % n_adapters == i]
                if not ps: continue
                model.set_adapter(f"a{i}")
                x = tok(ps, return_tensors="pt", padding=True).to("cuda")
                model.generate(**x, max_new_tokens=NEW, min_new_tokens=NEW, do_sample=False)
        torch.cuda.synchronize()
        hf.append(clients * NEW / (time.perf_counter() - t0))
        hf_mode.append("mixed batch" if (mixed or n_adapters == 1) else "batch per adapter")
        print(f"HF adapters={n_adapters} clients={clients}: {hf[-1]:.0f} tok/s", flush=True)
    base = model.unload()

with open(f"{out}/serve.md", "w") as f:
    f.write(f"GPU: {torch.cuda.get_device_name(0)}; torch {torch.__version__}; "
            f"{NEW} new tokens per request (greedy, ignore_eos), prompts of ~12 tokens\n\n")
    f.write("| adapters | clients | qforge tok/s | TTFT p50 ms | TTFT p99 ms | errors "
            "| HF generate tok/s | HF batching |\n")
    f.write("|---|---|---|---|---|---|---|---|\n")
    for (a, c, tps, p50, p99, err), h, m in zip(rows, hf, hf_mode):
        f.write(f"| {a} | {c} | {tps:.0f} | {p50*1e3:.1f} | {p99*1e3:.1f} | {err} | {h:.0f} "
                f"| {m} |\n")
print(open(f"{out}/serve.md").read())
PY
