#!/usr/bin/env python3
"""Golden values for the learned metrics of evaluation/ (BERTScore-style P/R/F1 and BLEURT-style
regression), from Hugging Face transformers with seeded random weights.

Runs on the GPU machine (torch + transformers + tokenizers; CPU float32 math) and writes into
--out (then copied to tests/golden/eval/):
  bertscore.json  for each (candidate, reference) pair: the ids of both (truncated to 512),
                  and P/R/F1 with idf off and with idf on (idf from the references), computed
                  as bert_score's greedy_cos_idf does (cosine of last hidden states, [CLS] and
                  [SEP] weighted 0, empty sentence -> 0), with the encoder of
                  tests/golden/bert/model (BertModel, MiniLM config shrunk, seeded weights).
  bleurt.json     BertForSequenceClassification(num_labels=1) = that encoder (its pooler
                  included) + a seeded classifier; for each (reference, candidate) pair at
                  max_length 512 and 24 (longest_first truncation): input ids, token type ids
                  and the regression score (logits[:, 0]).
  classifier.safetensors  classifier.weight (1, H) and classifier.bias (1): the only tensors
                  the BLEURT checkpoint adds to tests/golden/bert/model/model.safetensors (the
                  C++ test assembles a sharded checkpoint from the two files).

Usage: make_golden_eval.py --tokenizer <MiniLM tokenizer dir> --bert tests/golden/bert/model
                           --out <dir>
"""
import argparse
import json
import math
import os
from collections import Counter

import tokenizers
import torch
import transformers
from safetensors.torch import save_file
from transformers import BertConfig, BertForSequenceClassification, BertModel

LONG = "A very long candidate keeps going and going, well past what the encoder can read. " * 40

PAIRS = [  # (candidate, reference)
    ("The cat sat on the mat.", "A cat was sitting on the mat."),
    ("Paris is the capital of France.", "The capital of France is Paris."),
    ("He plays the guitar every evening.", "Every night he practises guitar."),
    ("Completely unrelated words here", "The stock market fell sharply on Monday."),
    ("Café naïve résumé, São Paulo — Zürich!", "Cafe naive resume in Sao Paulo and Zurich"),
    ("我爱北京天安门", "我爱北京"),
    ("", "An empty candidate scores zero."),
    ("An empty reference scores zero.", ""),
    ("the the the the the", "the"),
    ("Emoji 😀 and symbols ★ ∑", "Symbols and emoji"),
    (LONG, "A short reference."),
    ("Denver Broncos", "Denver Broncos"),
]


def bertscore_golden(tok_dir, bert_dir):
    tok = tokenizers.Tokenizer.from_file(os.path.join(tok_dir, "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(512)
    model = BertModel.from_pretrained(bert_dir).to(torch.float32).eval()
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")

    def enc(text):
        return tok.encode(text).ids

    def embed(ids):
        with torch.no_grad():
            h = model(input_ids=torch.tensor([ids])).last_hidden_state[0]
        return h / torch.norm(h, dim=-1, keepdim=True)

    refs = [r for _, r in PAIRS]
    m = len(refs)
    df = Counter()
    for r in refs:
        df.update(set(enc(r)))
    idf_default = math.log((m + 1) / 1)

    def idf(t):
        if t in (cls_id, sep_id):
            return 0.0
        return math.log((m + 1) / (df[t] + 1)) if t in df else idf_default

    cases = []
    for cand, ref in PAIRS:
        ci, ri = enc(cand), enc(ref)
        hc, hr = embed(ci), embed(ri)
        sim = hc @ hr.T  # (Tc, Tr)
        wp, wr = sim.max(dim=1)[0], sim.max(dim=0)[0]
        row = {"candidate": cand, "reference": ref, "cand_ids": ci, "ref_ids": ri}
        for name, wfun in (("plain", lambda t: 0.0 if t in (cls_id, sep_id) else 1.0),
                           ("idf", idf)):
            a = torch.tensor([wfun(t) for t in ci], dtype=torch.float64)
            b = torch.tensor([wfun(t) for t in ri], dtype=torch.float64)
            p = float((wp.double() * a).sum() / a.sum()) if a.sum() > 0 else float("nan")
            r = float((wr.double() * b).sum() / b.sum()) if b.sum() > 0 else float("nan")
            f = 2 * p * r / (p + r) if (p + r) != 0 else float("nan")
            if len(ci) == 2 or len(ri) == 2:  # bert_score: empty sentence -> 0
                p, r = 0.0, 0.0
            if math.isnan(f):
                f = 0.0
            row[name] = {"P": p, "R": r, "F": f}
        cases.append(row)
    return {"transformers": transformers.__version__, "torch": torch.__version__,
            "max_length": 512, "num_refs": m, "cases": cases}


def bleurt_golden(tok_dir, bert_dir, out_dir):
    cfg = BertConfig.from_pretrained(bert_dir)
    cfg.num_labels = 1
    cfg.architectures = ["BertForSequenceClassification"]
    model = BertForSequenceClassification(cfg).to(torch.float32).eval()
    base = BertModel.from_pretrained(bert_dir).to(torch.float32)
    missing = model.bert.load_state_dict(base.state_dict(), strict=True)
    torch.manual_seed(1)
    with torch.no_grad():
        model.classifier.weight.normal_(0.0, 0.5)
        model.classifier.bias.fill_(0.25)
    save_file({"classifier.weight": model.classifier.weight.detach().contiguous(),
               "classifier.bias": model.classifier.bias.detach().contiguous()},
              os.path.join(out_dir, "classifier.safetensors"), metadata={"format": "pt"})
    tok = tokenizers.Tokenizer.from_file(os.path.join(tok_dir, "tokenizer.json"))
    tok.no_padding()
    out = {"transformers": transformers.__version__, "load": str(missing), "runs": []}
    for max_len in (512, 24):
        tok.enable_truncation(max_len, strategy="longest_first")
        rows = []
        for cand, ref in PAIRS:
            e = tok.encode(ref, cand)
            with torch.no_grad():
                logits = model(input_ids=torch.tensor([e.ids]),
                               token_type_ids=torch.tensor([e.type_ids]),
                               attention_mask=torch.tensor([e.attention_mask])).logits
            rows.append({"reference": ref, "candidate": cand, "ids": e.ids,
                         "type_ids": e.type_ids, "score": float(logits[0, 0])})
        out["runs"].append({"max_length": max_len, "cases": rows})
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--bert", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    bs = bertscore_golden(args.tokenizer, args.bert)
    with open(os.path.join(args.out, "bertscore.json"), "w") as f:
        json.dump(bs, f, ensure_ascii=False, indent=1)
    bl = bleurt_golden(args.tokenizer, args.bert, args.out)
    with open(os.path.join(args.out, "bleurt.json"), "w") as f:
        json.dump(bl, f, ensure_ascii=False, indent=1)
    for c in bs["cases"]:
        print("bertscore", len(c["cand_ids"]), len(c["ref_ids"]), c["plain"], c["idf"])
    for run in bl["runs"]:
        for c in run["cases"]:
            print("bleurt", run["max_length"], len(c["ids"]), sum(c["type_ids"]), c["score"])
    print(sorted(os.listdir(args.out)))


if __name__ == "__main__":
    main()
