#!/usr/bin/env python3
"""Golden values for the Llama model from Hugging Face transformers (the reference oracle).

Runs on the GPU machine (torch + transformers; CPU float32 math for determinism) and writes
a tar.gz that unpacks into tests/golden/:
  models/stories260K.json     last-position logits for several prompts + 64 greedy tokens
  models/<name>/              seeded random-weight Llama models saved by save_pretrained
                              (real HF layouts: head_dim 64 and 128, GQA, untied embeddings,
                              Llama-3 rope_scaling, bf16 storage, one sharded checkpoint)
  models/<name>.json          their input ids, full logits and greedy tokens

Usage: make_golden_models.py --stories <dir of stories260K> --out <file.tar.gz>
"""
import argparse
import json
import os
import shutil
import tarfile
import tempfile

import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

PROMPTS = [
    "Once upon a time",
    "Zoo",
    "The little dog ran to the park and",
    "Lily and Tom were best friends. One day",
]


def rounded(xs, nd=6):
    return [round(float(x), nd) for x in xs]


def stories_golden(stories_dir):
    tok = AutoTokenizer.from_pretrained(stories_dir)
    model = AutoModelForCausalLM.from_pretrained(stories_dir, dtype=torch.float32).eval()
    cases = []
    for prompt in PROMPTS:
        ids = tok(prompt, return_tensors="pt").input_ids
        with torch.no_grad():
            logits = model(ids).logits[0, -1]
            gen = model.generate(ids, max_new_tokens=64, do_sample=False, pad_token_id=0,
                                 eos_token_id=None)
        new_ids = gen[0, ids.shape[1]:].tolist()
        cases.append({
            "prompt": prompt,
            "input_ids": ids[0].tolist(),
            "last_logits": rounded(logits.tolist()),
            "greedy_ids": new_ids,
            "greedy_text": tok.decode(new_ids),
            "full_text": tok.decode(gen[0].tolist(), skip_special_tokens=True),
        })
    return {"model": "stories260K", "transformers": transformers.__version__,
            "torch": torch.__version__, "cases": cases}


def make_config(hidden, heads, kv_heads, inter, layers, vocab, tie, rope):
    kwargs = dict(hidden_size=hidden, num_attention_heads=heads, num_key_value_heads=kv_heads,
                  intermediate_size=inter, num_hidden_layers=layers, vocab_size=vocab,
                  tie_word_embeddings=tie, max_position_embeddings=rope.get("max_pos", 2048),
                  rms_norm_eps=1e-5, bos_token_id=1, eos_token_id=2, head_dim=hidden // heads)
    params = {"rope_type": rope["type"], "rope_theta": rope["theta"]}
    params.update(rope.get("extra", {}))
    if int(transformers.__version__.split(".")[0]) >= 5:
        kwargs["rope_parameters"] = params
    else:
        kwargs["rope_theta"] = rope["theta"]
        if rope["type"] != "default":
            kwargs["rope_scaling"] = params
    return LlamaConfig(**kwargs)


RANDOM_MODELS = [
    # name, config args, storage dtype, shard size
    ("llama-hd64-gqa", dict(hidden=128, heads=2, kv_heads=1, inter=256, layers=2, vocab=512,
                            tie=False, rope={"type": "default", "theta": 10000.0}),
     torch.bfloat16, None),
    ("llama3-hd128-scaled", dict(hidden=256, heads=2, kv_heads=1, inter=384, layers=2, vocab=512,
                                 tie=False,
                                 rope={"type": "llama3", "theta": 500000.0, "max_pos": 131072,
                                       "extra": {"factor": 8.0, "low_freq_factor": 1.0,
                                                 "high_freq_factor": 4.0,
                                                 "original_max_position_embeddings": 8192}}),
     torch.bfloat16, "1MB"),
    ("llama-mha-f32-tied", dict(hidden=96, heads=3, kv_heads=3, inter=160, layers=3, vocab=512,
                                tie=True, rope={"type": "default", "theta": 10000.0}),
     torch.float32, None),
]


def random_model_golden(name, cfg_args, dtype, shard, stories_dir, out_dir, seed):
    torch.manual_seed(seed)
    config = make_config(**cfg_args)
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():  # random norm weights too, so RMSNorm scales are exercised
        for n, p in model.named_parameters():
            if n.endswith("norm.weight"):
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            else:
                p.copy_(0.08 * torch.randn_like(p))
    model_dir = os.path.join(out_dir, name)
    model.to(dtype).save_pretrained(model_dir, safe_serialization=True,
                                    **({"max_shard_size": shard} if shard else {}))
    for f in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(os.path.join(stories_dir, f), model_dir)
    # Reload from disk, as qforge will, and compute in float32.
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    inv_freq = model.model.rotary_emb.inv_freq.tolist()
    g = torch.Generator().manual_seed(seed + 1)
    ids = torch.randint(3, cfg_args["vocab"], (1, 24), generator=g)
    with torch.no_grad():
        logits = model(ids).logits[0]
        gen = model.generate(ids[:, :8], max_new_tokens=16, do_sample=False, pad_token_id=0,
                             eos_token_id=None)
    return {"model": name, "transformers": transformers.__version__, "dtype": str(dtype),
            "input_ids": ids[0].tolist(), "inv_freq": inv_freq,
            "logits": [rounded(row) for row in logits.tolist()],
            "greedy_prompt_ids": ids[0, :8].tolist(), "greedy_ids": gen[0, 8:].tolist()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stories", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.use_deterministic_algorithms(True)
    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.join(tmp, "models")
        os.makedirs(root)
        with open(os.path.join(root, "stories260K.json"), "w") as f:
            json.dump(stories_golden(args.stories), f)
        for i, (name, cfg, dtype, shard) in enumerate(RANDOM_MODELS):
            result = random_model_golden(name, cfg, dtype, shard, args.stories, root, 1000 + i)
            with open(os.path.join(root, name + ".json"), "w") as f:
                json.dump(result, f)
            print(name, "saved:", sorted(os.listdir(os.path.join(root, name))))
        with tarfile.open(args.out, "w:gz") as tar:
            tar.add(root, arcname="models")
    print("wrote", args.out)


if __name__ == "__main__":
    main()
