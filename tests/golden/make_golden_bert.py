#!/usr/bin/env python3
"""Golden values for the BERT encoder and the WordPiece tokenizer (reference oracles: Hugging Face
tokenizers and transformers BertModel).

Runs on the GPU machine (torch + transformers + tokenizers; CPU float32 math for determinism)
and writes into --out (then copied to tests/golden/bert/):
  tokenizer_ids.json   ids of every string in STRINGS from the shipped MiniLM tokenizer.json
                       (padding and truncation off), plus one long text truncated to 512
  model/               BertModel with seeded random weights, saved by save_pretrained: the MiniLM
                       config shrunk to 2 layers, hidden 64, 4 heads, intermediate 128 (same vocab)
  golden.json          a padded batch of 3 sentences: input ids, attention mask,
                       last_hidden_state, mean-pooled and CLS-pooled L2-normalized embeddings

Usage: make_golden_bert.py --tokenizer <MiniLM tokenizer dir> --out <dir>
"""
import argparse
import json
import os

import tokenizers
import torch
import transformers
from transformers import BertConfig, BertModel

STRINGS = [
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "HeLLo WoRLD, this Is MiXeD cAsE",
    "Café naïve résumé Ångström façade Zürich",
    "Crème brûlée à la mode — São Paulo, Kraków, İstanbul",
    "我爱北京天安门",
    "日本語のテキストとカタカナ、ひらがな。",
    "한국어 문장입니다",
    "Mixed中文and English混合text",
    "Punctuation!!! ?? ... (parentheses) [brackets] {braces} <angle> \"quotes\" 'single'",
    "Symbols: $100.00, 50% off, a+b=c, x^2, ~tilde, `backtick`, a|b, #hash, @user, &amp;",
    "don't won't it's y'all rock'n'roll",
    "e-mail: someone@example.com, URL: https://example.org/path?q=1&r=2",
    "3.14159 2,718 1e-10 0x1F 42nd",
    "  leading and trailing spaces  ",
    "tabs\tand\nnewlines\r\nand\u00a0nbsp\u2003em-space\u3000ideographic\u2028line-sep",
    "control\u0000chars\u0007and\ufffdreplacement\u200bzero-width\u00adsoft-hyphen\u0085nel",
    "a" * 101,
    "a" * 100,
    "b" * 99 + "é",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "Emoji 😀🎉 and symbols ☃ ★ ♥ ∑ √ ∞",
    "Ελληνικά κείμενο, Русский текст, العربية, עברית",
    "Fullwidth ＡＢＣ１２３ and ligature ﬁ and Ⅻ",
    "[CLS] special tokens [SEP] inside [MASK] text [PAD] and [UNK]",
    "[cls] lowercase is not special, [SEP][SEP]x[MASK]",
    "",
    " ",
    "unaffable xyzzyq qwxz",
    "Combining: e\u0301 a\u0308 n\u0303 and precomposed é ä ñ",
    "Dashes – — ‐ and quotes “ ” ‘ ’ « » „",
    "Hindi हिन्दी and Thai ภาษาไทย",
    "CJK ext 𠀀𠀁 and compatibility 豈 and radicals ⺀",
]

LONG_TEXT = "The encoder truncates long inputs, keeping [SEP] at the end. " * 60

SENTENCES = [
    "A man is playing a guitar on the stage.",
    "Dense retrieval embeds queries and passages.",
    "Short one",
]

SMALL = dict(num_hidden_layers=2, hidden_size=64, num_attention_heads=4, intermediate_size=128)


def tokenizer_golden(tok_dir):
    tok = tokenizers.Tokenizer.from_file(os.path.join(tok_dir, "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    cases = [{"text": s, "ids": tok.encode(s).ids} for s in STRINGS]
    tok.enable_truncation(512)
    long_ids = tok.encode(LONG_TEXT).ids
    tok.no_truncation()
    long_full = tok.encode(LONG_TEXT).ids
    out = {"tokenizers": tokenizers.__version__, "cases": cases,
           "long": {"text": LONG_TEXT, "max_length": 512, "ids": long_ids,
                    "untruncated_length": len(long_full)}}
    # The vocab.txt route (no tokenizer.json) as transformers builds it, for comparison.
    try:
        vt = transformers.BertTokenizer(os.path.join(tok_dir, "vocab.txt"), do_lower_case=True)
        out["vocab_txt_ids"] = [vt(s)["input_ids"] for s in STRINGS]
        out["vocab_txt_class"] = type(vt).__name__
    except Exception as e:  # recorded, not fatal: tokenizer.json is the oracle
        out["vocab_txt_error"] = repr(e)
    return out


def init_weights(model):
    torch.manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm.weight" in name:
                p.copy_(1.0 + (torch.rand_like(p) * 0.2 - 0.1))
            else:
                p.normal_(0.0, 0.05)


def model_golden(tok_dir, out_dir):
    cfg = BertConfig.from_pretrained(tok_dir)
    for k, v in SMALL.items():
        setattr(cfg, k, v)
    model = BertModel(cfg).to(torch.float32).eval()
    attn = "default"
    try:
        model.set_attn_implementation("eager")
        attn = "eager"
    except Exception:
        pass
    init_weights(model)
    model.save_pretrained(os.path.join(out_dir, "model"))

    tok = tokenizers.Tokenizer.from_file(os.path.join(tok_dir, "tokenizer.json"))
    tok.no_truncation()
    tok.enable_padding(pad_id=0, pad_token="[PAD]")  # pad to the longest in the batch
    enc = tok.encode_batch(SENTENCES)
    ids = torch.tensor([e.ids for e in enc], dtype=torch.long)
    mask = torch.tensor([e.attention_mask for e in enc], dtype=torch.long)
    with torch.no_grad():
        h = model(input_ids=ids, attention_mask=mask).last_hidden_state
    m = mask.unsqueeze(-1).to(h.dtype)
    mean = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
    mean = torch.nn.functional.normalize(mean, p=2, dim=1)
    cls = torch.nn.functional.normalize(h[:, 0], p=2, dim=1)
    B, T, H = h.shape
    return {
        "transformers": transformers.__version__, "torch": torch.__version__,
        "attn_implementation": attn, "config": SMALL, "sentences": SENTENCES,
        "B": B, "T": T, "H": H, "input_ids": ids.tolist(), "attention_mask": mask.tolist(),
        "last_hidden_state": [float(x) for x in h.reshape(-1).tolist()],
        "mean_normalized": [[float(x) for x in row] for row in mean.tolist()],
        "cls_normalized": [[float(x) for x in row] for row in cls.tolist()],
        "state_dict_names": sorted(model.state_dict().keys()),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    tg = tokenizer_golden(args.tokenizer)
    with open(os.path.join(args.out, "tokenizer_ids.json"), "w") as f:
        json.dump(tg, f, ensure_ascii=False, indent=1)
    mg = model_golden(args.tokenizer, args.out)
    with open(os.path.join(args.out, "golden.json"), "w") as f:
        json.dump(mg, f)
    print("vocab_txt:", tg.get("vocab_txt_class"), tg.get("vocab_txt_error"))
    if "vocab_txt_ids" in tg:
        diff = [c["text"] for c, v in zip(tg["cases"], tg["vocab_txt_ids"]) if c["ids"] != v]
        print("vocab.txt route differs on:", diff)
    print("long:", len(tg["long"]["ids"]), "of", tg["long"]["untruncated_length"])
    print("batch:", mg["B"], mg["T"], mg["H"], "attn:", mg["attn_implementation"])
    print("names:", mg["state_dict_names"][:6], len(mg["state_dict_names"]))
    for c in tg["cases"][:4]:
        print(c["ids"])
    print(sorted(os.listdir(os.path.join(args.out, "model"))))


if __name__ == "__main__":
    main()
