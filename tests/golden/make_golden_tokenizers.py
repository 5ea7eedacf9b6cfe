#!/usr/bin/env python3
"""Golden values for runtime/tokenizer from Hugging Face `tokenizers` and `transformers`.

Runs on the GPU machine (Python with tokenizers 0.23 and transformers 5; no GPU is used) and
writes the tree that tests/golden/tokenizers/ holds:

  bytelevel-llama3/        a byte-level BPE tokenizer TRAINED here with BpeTrainer (vocab 2000,
                           byte-level alphabet, Llama-3 pre-tokenizer regex, ignore_merges,
                           Llama-3 special tokens, TemplateProcessing with <|begin_of_text|>) on
                           the SQuAD rag corpus, plus its tokenizer_config.json (Llama-3 chat)
  cases.json               the test strings (ASCII, accents, CJK, emoji/ZWJ, whitespace runs,
                           digits, code, special tokens written in text, empty, SQuAD paragraphs)
  variants.json            tokenizer.json variants: a base tokenizer plus top-level keys to
                           replace (Metaspace forms, GPT-2 ByteLevel regex + NFKC, added tokens
                           with lstrip/rstrip/single_word/normalized flags)
  encode/<name>.json       per tokenizer: ids with and without special tokens, decode with and
                           without skip_special_tokens, decode of random id sequences,
                           token_to_id of chosen tokens, vocab size
  corpus.json              per base tokenizer: token count per SQuAD document and an FNV-1a 64
                           hash of the whole id stream (add_special_tokens=False)
  chat/<family>/tokenizer_config.json and chat_templates.json: real chat templates (Llama-2
                           chat, Llama-3 Instruct, ChatML, Qwen2 ChatML, a multi-line ChatML)
                           and transformers' apply_chat_template(tokenize=False) output
  transformers_check.json  where transformers' AutoTokenizer disagrees with `tokenizers`
                           (information only)

Usage:
  make_golden_tokenizers.py --data <dir laid out like ../shared/data> --out <dir> [--tar F]
  --skip-hf: dry run of everything that needs neither tokenizers nor transformers.
"""
import argparse
import copy
import json
import os
import random
import shutil
import sys
import tarfile
import tempfile

LLAMA3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
LLAMA3_SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>",
                   "<|end_header_id|>", "<|eot_id|>"]

# The real chat templates, as their tokenizer_config.json files hold them (JSON-decoded).
# meta-llama/Llama-2-7b-chat-hf: note the escaped '\\n' inside Jinja string literals.
LLAMA2_CHAT_TEMPLATE = (
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
    "{% set system_message = messages[0]['content'] %}{% else %}"
    "{% set loop_messages = messages %}{% set system_message = false %}{% endif %}"
    "{% for message in loop_messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}{% if loop.index0 == 0 and system_message != false %}"
    "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
    "{% else %}{% set content = message['content'] %}{% endif %}"
    "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}"
    "{% endif %}{% endfor %}")
# meta-llama/Meta-Llama-3-8B-Instruct.
LLAMA3_CHAT_TEMPLATE = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
    "+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
    "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
    "{% endif %}")
# Plain ChatML (e.g. teknium/OpenHermes-2.5-Mistral-7B).
CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content']"
    " + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}")
# Qwen/Qwen2-7B-Instruct: ChatML with a default system message.
QWEN2_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
# ChatML written over several lines with whitespace control, attribute access and "quotes":
# renders exactly as CHATML_TEMPLATE does.
CHATML_MULTILINE_TEMPLATE = (
    "{%- for message in messages %}\n"
    "    {{- \"<|im_start|>\" + message.role + \"\\n\" + message.content + \"<|im_end|>\" + \"\\n\" }}\n"
    "{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n"
    "    {{- \"<|im_start|>assistant\\n\" }}\n"
    "{%- endif %}\n")
# mistralai/Mistral-7B-Instruct-v0.1: a family the C++ side does not render (error test).
MISTRAL_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token + ' ' }}"
    "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}"
    "{% endfor %}")

TEST_STRINGS = [
    "Hello world",
    "Hello, world! How are you?",
    "The quick brown fox jumps over the lazy dog.",
    "caf\u00e9 na\u00efve r\u00e9sum\u00e9",
    "El ni\u00f1o a\u00f1ora la monta\u00f1a",
    "\u00dcber m\u00fcde Gr\u00fc\u00dfe",
    "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3067\u3059\u3002",
    "\u4e2d\u6587\u6d4b\u8bd5\uff0c\u6c49\u5b57\u3002",
    "\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8",
    "emoji \U0001F600 test \U0001F44D\U0001F3FD",
    "family \U0001F468\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466 and flag "
    "\U0001F3F3\ufe0f\u200d\U0001F308",
    "  leading spaces",
    "trailing spaces   ",
    "two  spaces   three    four",
    "tab\tand\nnewline\r\nCRLF",
    "\t\n",
    " ",
    "  ",
    "\n\n\n",
    "  \n  \n",
    "12345",
    "3.14159",
    "1,234,567.89 and 2024-01-15 at 10:30",
    "def f(x):\n    return x ** 2  # square\n",
    "for (int i = 0; i < n; ++i) { sum += a[i]; }",
    "<s>hi</s>",
    "<s> hi </s>",
    "Hello <s> world</s>",
    "<|begin_of_text|>hi<|eot_id|>",
    "<|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|>",
    "",
    "I'm sure you'll see they've done it, we'd say. IT'S DONE, DON'T",
    "URL: https://example.com/path?q=1&b=2",
    "Mixed: x\u00b2+y\u00b2=z\u00b2, \u00bd, \ufb01 ligature, \u216b, \u2460",
    "e\u0301 vs \u00e9",
    "\u00a0nbsp\u2003emspace\u3000ideographic",
    "\u200b zero width",
    "\u01c5 D\u017e titlecase",
    "\u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac \u043a\u0430\u0438 "
    "\u0440\u0443\u0441\u0441\u043a\u0438\u0439 \u0442\u0435\u043a\u0441\u0442",
    "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "\u2581already\u2581has\u2581metaspace",
    "<0x41> byte token text <unk>",
    "Once upon a time, there was a little girl named Lily.",
    "a\r\n\r\nb\r\n",
    "a     b      ",
    "1234567 and 89",
    "\U0001D4B3\U0001D4B4 math letters, \u0661\u0662\u0663 arabic digits",
    "nel\u0085x mongolian\u180ex line\u2028sep",
    "a <s> b <unk> c",
    "<s>",
    "\u0301abc",
    "'s 'S 'LL 're x'VE",
]

# Extra strings for the added-token flags variant.
ADDED_FLAG_STRINGS = [
    "use <tool> now",
    "use  <tool>  now",
    "x<tool>y",
    "  <tool>",
    "hello world",
    "hello   world and hello\tworld",
    "say hello worlds",
    "the theme is there, the end",
    "(the) the. the",
    "[MASK] test  [MASK]x",
    "\u00c9COLE and E\u0301COLE",
    "<|begin_of_text|> <tool> the hello world",
]

ADDED_FLAG_TOKENS = [  # (content, special, lstrip, rstrip, single_word, normalized)
    ("<tool>", True, True, True, False, False),
    ("hello world", False, False, False, False, True),
    ("the", False, False, False, True, False),
    ("\u00c9COLE", False, False, False, False, True),
    ("[MASK]", True, True, False, False, False),
]

CONVERSATIONS = [
    ("system_user", [
        {"role": "system", "content": "You are a concise assistant."},
        {"role": "user", "content": "What is the capital of France?"}]),
    ("user_only", [{"role": "user", "content": "Hello there!"}]),
    ("multi_turn", [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "Name a prime number."},
        {"role": "assistant", "content": "7"},
        {"role": "user", "content": "Another one?"}]),
    ("multi_turn_no_system", [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello! How can I help?"},
        {"role": "user", "content": "Tell me a joke."},
        {"role": "assistant", "content": "Why did the chicken cross the road?"}]),
    ("whitespace_unicode", [
        {"role": "user", "content": "  \u00c7a va? \u4f60\u597d \U0001F600 \n"},
        {"role": "assistant", "content": "\tTr\u00e8s bien.  "},
        {"role": "user", "content": "\n\nline one\nline two\n"}]),
    ("roles_not_alternating", [
        {"role": "user", "content": "first"},
        {"role": "user", "content": "second"}]),
]


def fnv1a64_ids(ids):
    """FNV-1a 64 over the ids as little-endian uint32 bytes (the C++ test computes the same)."""
    h = 0xcbf29ce484222325
    for i in ids:
        for b in int(i).to_bytes(4, "little"):
            h ^= b
            h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def write_json(path, obj, indent=1):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=indent)
        f.write("\n")


def read_corpus(data):
    texts = []
    with open(os.path.join(data, "datasets/squad-v1.1-dev/rag_corpus.jsonl"), encoding="utf-8") as f:
        for line in f:
            texts.append(json.loads(line)["text"])
    return texts


def pick_paragraphs(texts):
    """Two leading paragraphs and two later ones that carry non-ASCII characters."""
    picked = [texts[0], texts[1]]
    for t in texts[100:]:
        if any(ord(c) > 127 for c in t) and len(t) < 1500:
            picked.append(t)
        if len(picked) == 4:
            break
    return picked


def variants(bytelevel_vocab_size, bytelevel_vocab):
    """tokenizer.json variants: base + replaced top-level keys (+ extra test strings)."""
    metaspace_first = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first",
                       "split": False}
    metaspace_legacy = {"type": "Metaspace", "replacement": "\u2581", "add_prefix_space": True}
    added = []
    next_id = bytelevel_vocab_size
    for content, special, lstrip, rstrip, single_word, normalized in ADDED_FLAG_TOKENS:
        if bytelevel_vocab is not None and content in bytelevel_vocab:
            tid = bytelevel_vocab[content]
        else:
            tid, next_id = next_id, next_id + 1
        added.append({"id": tid, "content": content, "single_word": single_word,
                      "lstrip": lstrip, "rstrip": rstrip, "normalized": normalized,
                      "special": special})
    return {
        "llama2-metaspace": {
            "base": {"data": "models/llama2-tokenizer"},
            "patch": {"normalizer": None, "pre_tokenizer": metaspace_first,
                      "decoder": {"type": "Sequence", "decoders": [
                          metaspace_first, {"type": "ByteFallback"}, {"type": "Fuse"}]}},
            "append_added_tokens": [], "extra_strings": []},
        "stories260K-metaspace-legacy": {
            "base": {"data": "models/stories260K"},
            "patch": {"normalizer": None, "pre_tokenizer": metaspace_legacy,
                      "decoder": {"type": "Sequence", "decoders": [
                          metaspace_legacy, {"type": "ByteFallback"}, {"type": "Fuse"}]}},
            "append_added_tokens": [], "extra_strings": []},
        "bytelevel-gpt2-nfkc": {
            "base": {"golden": "tokenizers/bytelevel-llama3"},
            "patch": {"normalizer": {"type": "NFKC"},
                      "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": True,
                                        "trim_offsets": True, "use_regex": True}},
            "append_added_tokens": [], "extra_strings": []},
        "bytelevel-added-flags": {
            "base": {"golden": "tokenizers/bytelevel-llama3"},
            "patch": {"normalizer": {"type": "Sequence", "normalizers": [
                          {"type": "NFC"},
                          {"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": " "}]},
                      "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                          {"type": "Split", "pattern": {"Regex": LLAMA3_REGEX},
                           "behavior": "Isolated", "invert": False},
                          {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                           "use_regex": False}]}},
            "append_added_tokens": added,
            "extra_strings": ADDED_FLAG_STRINGS},
    }


def apply_variant(base_json, spec):
    """Replace the patched top-level keys, then append added tokens (the C++ test does the same)."""
    j = copy.deepcopy(base_json)
    for key, value in spec["patch"].items():
        j[key] = value
    j["added_tokens"] = j["added_tokens"] + spec.get("append_added_tokens", [])
    return j


# ----------------------------------------------------------------------------- tokenizers


def train_bytelevel(texts):
    from tokenizers import Tokenizer, pre_tokenizers, trainers
    skeleton = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": [],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": LLAMA3_REGEX}, "behavior": "Isolated",
             "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
             "use_regex": False}]},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                    "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": False, "byte_fallback": False, "ignore_merges": True,
                  "vocab": {}, "merges": []},
    }
    tok = Tokenizer.from_str(json.dumps(skeleton))
    trainer = trainers.BpeTrainer(vocab_size=2000, min_frequency=2, show_progress=False,
                                  special_tokens=LLAMA3_SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer=trainer)
    j = json.loads(tok.to_str())
    j["model"]["ignore_merges"] = True
    bos = j["model"]["vocab"]["<|begin_of_text|>"]
    j["post_processor"] = {"type": "Sequence", "processors": [
        {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        {"type": "TemplateProcessing",
         "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                    {"Sequence": {"id": "A", "type_id": 0}}],
         "pair": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                  {"Sequence": {"id": "A", "type_id": 0}},
                  {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 1}},
                  {"Sequence": {"id": "B", "type_id": 1}}],
         "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>", "ids": [bos],
                                                  "tokens": ["<|begin_of_text|>"]}}}]}
    return j


def load_tokenizer_json(data, golden_out, base):
    if "data" in base:
        path = os.path.join(data, base["data"], "tokenizer.json")
    else:
        path = os.path.join(golden_out, base["golden"].split("/", 1)[1], "tokenizer.json")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def encode_golden(name, tok_json, strings, seed):
    from tokenizers import Tokenizer
    tok = Tokenizer.from_str(json.dumps(tok_json))
    cases = []
    for text in strings:
        ids = tok.encode(text, add_special_tokens=True).ids
        ids_plain = tok.encode(text, add_special_tokens=False).ids
        cases.append({
            "text": text, "ids": ids, "ids_no_special": ids_plain,
            "tokens": tok.encode(text, add_special_tokens=True).tokens,
            "decode": tok.decode(ids, skip_special_tokens=False),
            "decode_skip": tok.decode(ids, skip_special_tokens=True),
        })
    vocab_size = tok.get_vocab_size(with_added_tokens=True)
    rng = random.Random(seed)
    decode_cases = []
    byte_ids = [tok.token_to_id("<0x%02X>" % b) for b in (0xC3, 0xA9, 0xE2, 0x82, 0xAC, 0xF0)]
    fixed = []
    if all(i is not None for i in byte_ids):
        c3, a9, e2, x82, ac, f0 = byte_ids
        fixed = [[c3, a9], [e2, x82, ac], [e2, x82], [a9, c3], [f0], [c3, c3, a9, a9]]
    for ids in fixed:
        decode_cases.append(ids)
    for _ in range(24):
        decode_cases.append([rng.randrange(vocab_size) for _ in range(rng.randint(1, 24))])
    decode_out = [{"ids": ids,
                   "decode": tok.decode(ids, skip_special_tokens=False),
                   "decode_skip": tok.decode(ids, skip_special_tokens=True)}
                  for ids in decode_cases]
    probe = ["<unk>", "<s>", "</s>", "<0x0A>", "\u2581the", "<|begin_of_text|>", "<|eot_id|>",
             "the", "\u0120the", "hello world", "<tool>", "[MASK]", "not-a-token-xyz"]
    return {
        "name": name,
        "vocab_size": vocab_size,
        "token_to_id": {p: tok.token_to_id(p) for p in probe},
        "cases": cases,
        "decode_cases": decode_out,
    }


def corpus_golden(tok_json, texts):
    from tokenizers import Tokenizer
    tok = Tokenizer.from_str(json.dumps(tok_json))
    encs = tok.encode_batch(texts, add_special_tokens=False)
    all_ids = [i for e in encs for i in e.ids]
    return {"n_docs": len(texts), "n_tokens": len(all_ids), "fnv1a64": fnv1a64_ids(all_ids),
            "doc_lengths": [len(e.ids) for e in encs]}


# ----------------------------------------------------------------------------- chat templates


def render_jinja2(template, messages, add_generation_prompt, special):
    """transformers' own environment: sandboxed, trim_blocks, lstrip_blocks, raise_exception."""
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=["jinja2.ext.loopcontrols"])
    env.globals["raise_exception"] = raise_exception
    return env.from_string(template).render(messages=messages,
                                            add_generation_prompt=add_generation_prompt,
                                            **special)


def chat_families():
    llama2_cfg = {"add_bos_token": True, "add_eos_token": False, "bos_token": "<s>",
                  "eos_token": "</s>", "unk_token": "<unk>", "pad_token": None, "legacy": False,
                  "clean_up_tokenization_spaces": False, "model_max_length": 4096,
                  "tokenizer_class": "LlamaTokenizerFast"}
    llama3_cfg = {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>",
                  "clean_up_tokenization_spaces": True, "model_max_length": 8192,
                  "tokenizer_class": "PreTrainedTokenizerFast"}
    chatml_cfg = {"bos_token": None, "eos_token": "<|end_of_text|>",
                  "clean_up_tokenization_spaces": False, "model_max_length": 8192,
                  "tokenizer_class": "PreTrainedTokenizerFast"}
    fams = {
        "llama2-chat": ({"data": "models/llama2-tokenizer"}, llama2_cfg, LLAMA2_CHAT_TEMPLATE),
        "llama3-instruct": ({"golden": "tokenizers/bytelevel-llama3"}, llama3_cfg,
                            LLAMA3_CHAT_TEMPLATE),
        "chatml": ({"golden": "tokenizers/bytelevel-llama3"}, chatml_cfg, CHATML_TEMPLATE),
        "qwen2": ({"golden": "tokenizers/bytelevel-llama3"}, chatml_cfg, QWEN2_TEMPLATE),
        "chatml-multiline": ({"golden": "tokenizers/bytelevel-llama3"}, chatml_cfg,
                             CHATML_MULTILINE_TEMPLATE),
        "mistral-unsupported": ({"data": "models/llama2-tokenizer"}, llama2_cfg,
                                MISTRAL_TEMPLATE),
    }
    out = {}
    for name, (base, cfg, template) in fams.items():
        cfg = dict(cfg)
        cfg["chat_template"] = template
        out[name] = (base, cfg)
    return out


def chat_golden(data, out, skip_hf):
    results = {}
    for family, (base, cfg) in chat_families().items():
        write_json(os.path.join(out, "chat", family, "tokenizer_config.json"), cfg, indent=2)
        entry = {"base": base, "config": "tokenizers/chat/%s/tokenizer_config.json" % family,
                 "cases": []}
        if family == "mistral-unsupported":
            results[family] = entry
            continue
        hf_tok, hf_error = None, None
        if not skip_hf:
            try:
                from transformers import AutoTokenizer
                with tempfile.TemporaryDirectory() as tmp:
                    if "data" in base:
                        src = os.path.join(data, base["data"], "tokenizer.json")
                    else:
                        src = os.path.join(out, base["golden"].split("/", 1)[1], "tokenizer.json")
                    shutil.copy(src, os.path.join(tmp, "tokenizer.json"))
                    write_json(os.path.join(tmp, "tokenizer_config.json"), cfg, indent=2)
                    hf_tok = AutoTokenizer.from_pretrained(tmp)
            except Exception as e:  # recorded, and the jinja2 rendering stands in
                hf_error = "%s: %s" % (type(e).__name__, e)
        special = {k: cfg.get(k) for k in ("bos_token", "eos_token", "unk_token", "pad_token")
                   if cfg.get(k) is not None}
        for conv_name, messages in CONVERSATIONS:
            for agp in (True, False):
                case = {"name": conv_name, "messages": messages, "add_generation_prompt": agp}
                try:
                    case["jinja2_text"] = render_jinja2(cfg["chat_template"], messages, agp,
                                                        special)
                except Exception as e:
                    case["jinja2_error"] = "%s: %s" % (type(e).__name__, e)
                if hf_tok is not None:
                    try:
                        text = hf_tok.apply_chat_template(messages, tokenize=False,
                                                          add_generation_prompt=agp)
                        if not isinstance(text, str):
                            raise TypeError("apply_chat_template returned %r" % type(text))
                        case["text"] = text
                    except Exception as e:
                        case["error"] = "%s: %s" % (type(e).__name__, e)
                    case["oracle"] = "transformers"
                else:
                    case["oracle"] = "jinja2"
                    if "jinja2_text" in case:
                        case["text"] = case["jinja2_text"]
                    else:
                        case["error"] = case["jinja2_error"]
                entry["cases"].append(case)
        if hf_error:
            entry["transformers_error"] = hf_error
        results[family] = entry
    return results


def transformers_check(data, out, strings):
    """Where transformers' AutoTokenizer (v5 may rebuild the pipeline) differs from tokenizers."""
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer
    report = {}
    dirs = {"stories260K": os.path.join(data, "models/stories260K"),
            "llama2-tokenizer": os.path.join(data, "models/llama2-tokenizer"),
            "bytelevel-llama3": os.path.join(out, "bytelevel-llama3")}
    for name, d in dirs.items():
        try:
            raw = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
            hf = AutoTokenizer.from_pretrained(d)
            diffs = []
            for text in strings:
                a = raw.encode(text).ids
                b = hf(text)["input_ids"]
                da = raw.decode(a, skip_special_tokens=False)
                db = hf.decode(a, skip_special_tokens=False)
                if a != b or da != db:
                    diffs.append({"text": text, "tokenizers_ids": a, "transformers_ids": b,
                                  "tokenizers_decode": da, "transformers_decode": db})
            report[name] = {"class": type(hf).__name__, "n_strings": len(strings),
                            "n_differ": len(diffs), "differences": diffs[:10]}
        except Exception as e:
            report[name] = {"error": "%s: %s" % (type(e).__name__, e)}
    return report


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.environ.get("QFORGE_DATA", "../shared/data"))
    ap.add_argument("--out", required=True, help="directory to fill (tests/golden/tokenizers)")
    ap.add_argument("--tar", help="also pack --out into this .tar.gz")
    ap.add_argument("--skip-hf", action="store_true")
    args = ap.parse_args()
    out = args.out
    os.makedirs(out, exist_ok=True)
    meta = {"python": sys.version.split()[0]}
    if not args.skip_hf:
        import tokenizers
        meta["tokenizers"] = tokenizers.__version__
        try:
            import transformers
            meta["transformers"] = transformers.__version__
        except Exception as e:
            meta["transformers"] = "unavailable: %s" % e
    try:
        import jinja2
        meta["jinja2"] = jinja2.__version__
    except Exception as e:
        meta["jinja2"] = "unavailable: %s" % e
    print("versions:", meta, flush=True)

    texts = read_corpus(args.data)
    strings = TEST_STRINGS + pick_paragraphs(texts)
    write_json(os.path.join(out, "cases.json"), {"meta": meta, "strings": strings})

    bytelevel_json = None
    if not args.skip_hf:
        bytelevel_json = train_bytelevel(texts)
        d = os.path.join(out, "bytelevel-llama3")
        os.makedirs(d, exist_ok=True)
        from tokenizers import Tokenizer
        Tokenizer.from_str(json.dumps(bytelevel_json)).save(os.path.join(d, "tokenizer.json"),
                                                            pretty=True)
        with open(os.path.join(d, "tokenizer.json"), encoding="utf-8") as f:
            bytelevel_json = json.load(f)
        cfg = chat_families()["llama3-instruct"][1]
        write_json(os.path.join(d, "tokenizer_config.json"), cfg, indent=2)
        print("trained bytelevel-llama3: vocab", len(bytelevel_json["model"]["vocab"]),
              "merges", len(bytelevel_json["model"]["merges"]), flush=True)

    bl_vocab = bytelevel_json["model"]["vocab"] if bytelevel_json else None
    bl_size = (max(bl_vocab.values()) + 1) if bl_vocab else 0
    specs = variants(bl_size, bl_vocab)
    write_json(os.path.join(out, "variants.json"), {"meta": meta, "variants": specs}, indent=2)

    bases = {"stories260K": {"data": "models/stories260K"},
             "llama2-tokenizer": {"data": "models/llama2-tokenizer"},
             "bytelevel-llama3": {"golden": "tokenizers/bytelevel-llama3"}}
    if not args.skip_hf:
        corpus = {"meta": meta}
        for seed, (name, base) in enumerate(bases.items()):
            tj = load_tokenizer_json(args.data, out, base)
            g = encode_golden(name, tj, strings, seed)
            g["base"] = base
            g["meta"] = meta
            write_json(os.path.join(out, "encode", name + ".json"), g)
            corpus[name] = corpus_golden(tj, texts)
            print("encoded", name, "corpus tokens", corpus[name]["n_tokens"], flush=True)
        write_json(os.path.join(out, "corpus.json"), corpus, indent=None)
        for seed, (name, spec) in enumerate(specs.items()):
            try:
                tj = apply_variant(load_tokenizer_json(args.data, out, spec["base"]), spec)
                g = encode_golden(name, tj, strings + spec["extra_strings"], 100 + seed)
                g["variant"] = name
                g["meta"] = meta
                write_json(os.path.join(out, "encode", name + ".json"), g)
                print("encoded variant", name, flush=True)
            except Exception as e:
                print("VARIANT FAILED", name, type(e).__name__, e, flush=True)

    chat = chat_golden(args.data, out, args.skip_hf)
    write_json(os.path.join(out, "chat_templates.json"), {"meta": meta, "families": chat},
               indent=1)
    print("chat templates:", {k: len(v["cases"]) for k, v in chat.items()}, flush=True)

    if not args.skip_hf:
        try:
            write_json(os.path.join(out, "transformers_check.json"),
                       {"meta": meta, "tokenizers": transformers_check(args.data, out, strings)})
        except Exception as e:
            print("transformers check failed:", type(e).__name__, e, flush=True)

    if args.tar:
        with tarfile.open(args.tar, "w:gz") as tar:
            tar.add(out, arcname="tokenizers")
    print("done", flush=True)


if __name__ == "__main__":
    main()
