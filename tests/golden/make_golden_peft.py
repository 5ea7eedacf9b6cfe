#!/usr/bin/env python3
"""Golden values for qforge's LoRA from Hugging Face PEFT (the reference oracle).

Two checks, both on the real stories260K base in float32 (CPU math, deterministic):
  1. PEFT loads an adapter directory written by `qforge train` (tests/golden/peft/qforge_adapter,
     unchanged) and its logits for fixed prompts are recorded: qforge must reproduce them.
  2. One training step: a PEFT LoRA (r=4, alpha=8, all seven projections, dropout 0) with
     seeded random A and B is saved as a PEFT adapter; the mean token cross-entropy of a fixed
     batch is back-propagated and every lora_A/lora_B gradient is recorded.
Writes peft.tar.gz that unpacks into tests/golden/peft/.

Usage: make_golden_peft.py --stories <dir> --adapter <qforge adapter dir> --out <file.tar.gz>
"""
import argparse
import json
import os
import tarfile
import tempfile

import peft
import torch
import transformers
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer

PROMPTS = ["Once upon a time", "The little dog ran to the park and", "Lily"]
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def rounded(xs, nd=7):
    return [round(float(x), nd) for x in xs]


def adapter_logits(stories, adapter_dir):
    tok = AutoTokenizer.from_pretrained(stories)
    base = AutoModelForCausalLM.from_pretrained(stories, dtype=torch.float32)
    model = PeftModel.from_pretrained(base, adapter_dir).eval()
    cases = []
    for p in PROMPTS:
        ids = tok(p, return_tensors="pt").input_ids
        with torch.no_grad():
            logits = model(ids).logits[0]
        cases.append({"prompt": p, "input_ids": ids[0].tolist(),
                      "logits": [rounded(r) for r in logits.tolist()]})
    return {"peft": peft.__version__, "transformers": transformers.__version__, "cases": cases}


def one_step_gradients(stories, out_dir):
    torch.manual_seed(7)
    base = AutoModelForCausalLM.from_pretrained(stories, dtype=torch.float32)
    cfg = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=TARGETS,
                     task_type="CAUSAL_LM")
    model = get_peft_model(base, cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_" in name:
                p.copy_(0.2 * torch.randn_like(p))
    model.train()
    adapter_dir = os.path.join(out_dir, "step_adapter")
    model.save_pretrained(adapter_dir)
    g = torch.Generator().manual_seed(11)
    B, T, V = 2, 24, base.config.vocab_size
    input_ids = torch.randint(3, V, (B, T), generator=g)
    targets = torch.randint(3, V, (B, T), generator=g)
    targets[0, :5] = -100  # a prompt whose tokens carry no loss
    targets[1, -3:] = -100
    logits = model(input_ids).logits
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), targets.reshape(-1),
                                             ignore_index=-100, reduction="mean")
    loss.backward()
    grads = {}
    for name, p in model.named_parameters():
        if "lora_" in name:
            # PEFT's parameter name -> the name in adapter_model.safetensors
            key = name.replace(".default", "")
            grads[key] = [rounded(row, 9) for row in p.grad.tolist()]
    return {"peft": peft.__version__, "loss": float(loss), "input_ids": input_ids.tolist(),
            "targets": targets.tolist(), "grads": grads}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stories", required=True)
    ap.add_argument("--adapter", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.use_deterministic_algorithms(True)
    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.join(tmp, "peft")
        os.makedirs(root)
        with open(os.path.join(root, "adapter_logits.json"), "w") as f:
            json.dump(adapter_logits(args.stories, args.adapter), f)
        with open(os.path.join(root, "one_step.json"), "w") as f:
            json.dump(one_step_gradients(args.stories, root), f)
        with tarfile.open(args.out, "w:gz") as tar:
            tar.add(root, arcname="peft")
    print("wrote", args.out)


if __name__ == "__main__":
    main()
