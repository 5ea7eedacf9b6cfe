#!/usr/bin/env python3
"""The peer of bench/train_throughput.sh: Hugging Face transformers + PEFT LoRA in bf16 (SDPA
attention, gradient checkpointing, LoRA on all seven projections, torch AdamW), on a
random-initialised Llama of the same named shape, at the same sequence length and batch.
Prints one JSON line: tokens/s (median step after warm-up), peak GiB (torch max allocated).
A reference oracle for the benchmark, never a dependency of qforge."""
import argparse
import json
import statistics
import time

import torch
from peft import LoraConfig, get_peft_model
from transformers import LlamaConfig, LlamaForCausalLM

SHAPES = {
    "llama3-8b": dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                      num_attention_heads=32, num_key_value_heads=8, head_dim=128,
                      tie_word_embeddings=False),
    "llama3-1b": dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
                      num_attention_heads=32, num_key_value_heads=8, head_dim=64,
                      tie_word_embeddings=True),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", choices=sorted(SHAPES), required=True)
    ap.add_argument("--seq", type=int, default=2048)
    ap.add_argument("--bsz", type=int, default=2)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--rank", type=int, default=16)
    args = ap.parse_args()

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=128256, max_position_embeddings=8192, rope_theta=500000.0,
                      rms_norm_eps=1e-5, attn_implementation="sdpa", **SHAPES[args.shape])
    torch.set_default_dtype(torch.bfloat16)
    with torch.device("cuda"):
        model = LlamaForCausalLM(cfg)
    torch.set_default_dtype(torch.float32)
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.enable_input_require_grads()
    lora = LoraConfig(r=args.rank, lora_alpha=2 * args.rank, lora_dropout=0.0,
                      target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                      "up_proj", "down_proj"], task_type="CAUSAL_LM")
    model = get_peft_model(model, lora)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-4)
    ids = torch.randint(0, cfg.vocab_size, (args.bsz, args.seq), device="cuda")
    torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(args.steps):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    step_s = statistics.median(times[2:] if len(times) > 3 else times)
    print(json.dumps({
        "system": "peft-bf16", "shape": args.shape, "seq": args.seq, "bsz": args.bsz,
        "tokens_per_s": args.bsz * args.seq / step_s,
        "peak_gib": torch.cuda.max_memory_allocated() / 2**30,
        "loss": float(loss),
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
