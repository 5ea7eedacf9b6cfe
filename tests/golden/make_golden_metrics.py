#!/usr/bin/env python3
"""Golden values for qforge's text metrics (evaluation/metrics): sacrebleu BLEU, chrF, chrF++.

Builds >= 300 hypothesis/reference pairs from shipped data -- dolly-slice responses against
perturbed copies of themselves (word drops, swaps, truncations, case changes, typos, ...),
SQuAD v1.1 answers against the context sentences that hold them, plus Unicode, whitespace,
entity and empty-string edge cases -- scores them with the installed sacrebleu (corpus and
per-sentence BLEU, chrF, chrF++ and variants) and writes

    <out>/pairs.json             the inputs (pairs, second references, how the long pair is built)
    <out>/sacrebleu_scores.json  scores, statistics, 13a tokenizations and signatures
    <out>/python_unicode.json    this Python's str.isspace, regex \\w and str.lower for every code
                                 point (what sacrebleu and the SQuAD script see), plus
                                 Final_Sigma cases

The CPU tests (tests/evaluation/test_sacrebleu_golden.cpp) read both offline.

    python3 tests/golden/make_golden_metrics.py --data ../shared/data --out tests/golden/metrics

--data is either the shared data root (datasets/dolly-slice/..., datasets/squad-v1.1-dev/...)
or a flat folder holding dolly_151_alpaca.jsonl and dev-v1.1-mini.json.
"""

import argparse
import json
import os
import random
import re
import string
import sys

SEED = 20240501
REF_CHARS = 420  # references are cut to about this many characters to keep the files small


def find_file(data, rel, name):
    for path in (os.path.join(data, rel, name), os.path.join(data, name)):
        if os.path.exists(path):
            return path
    sys.exit(f"make_golden_metrics: {name} not found under {data} (looked in {rel}/ and ./)")


def cut(text, limit):
    """The text up to `limit` characters, ending at a whitespace boundary."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    space = max(head.rfind(" "), head.rfind("\n"))
    return head[:space] if space > limit // 2 else head


# ---------------------------------------------------------------- perturbations (hypotheses)

def p_identical(rng, ref, other):
    return ref


def p_drop(rng, ref, other):
    words = ref.split(" ")
    kept = [w for w in words if rng.random() > 0.2]
    return " ".join(kept)


def p_swap(rng, ref, other):
    words = ref.split()
    for _ in range(max(1, len(words) // 6)):
        if len(words) < 2:
            break
        i = rng.randrange(len(words) - 1)
        words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words)


def p_truncate(rng, ref, other):
    words = ref.split()
    keep = int(len(words) * rng.uniform(0.3, 0.9))
    return " ".join(words[:keep])


def p_case(rng, ref, other):
    mode = rng.randrange(4)
    if mode == 0:
        return ref.upper()
    if mode == 1:
        return ref.lower()
    if mode == 2:
        return ref.title()
    words = ref.split(" ")
    return " ".join(w.swapcase() if rng.random() < 0.3 else w for w in words)


def p_typo(rng, ref, other):
    out = []
    for ch in ref:
        r = rng.random()
        if r < 0.02:
            continue  # deletion
        if r < 0.04:
            out.append(rng.choice(string.ascii_lowercase))  # substitution
            continue
        out.append(ch)
        if r > 0.98:
            out.append(rng.choice(string.ascii_lowercase))  # insertion
    return "".join(out)


def p_punct(rng, ref, other):
    if rng.random() < 0.5:
        return "".join(ch for ch in ref if ch not in string.punctuation)
    return re.sub(r"([.,;:!?])", r" \1 ", ref)  # pre-tokenized look: "word ."


def p_shuffle(rng, ref, other):
    words = ref.split()
    rng.shuffle(words)
    return " ".join(words)


def p_replace(rng, ref, other):
    vocab = other.split() or ["x"]
    words = ref.split()
    return " ".join(rng.choice(vocab) if rng.random() < 0.25 else w for w in words)


def p_extend(rng, ref, other):
    return ref + " " + cut(other, 120)


def p_unrelated(rng, ref, other):
    return cut(other, len(ref) + 20)


def p_whitespace(rng, ref, other):
    seps = ["  ", "\t", "\n", " \u00a0", "\u3000"]
    return "".join(rng.choice(seps) if ch == " " and rng.random() < 0.3 else ch for ch in ref)


PERTURBATIONS = [
    ("drop", p_drop), ("swap", p_swap), ("truncate", p_truncate), ("case", p_case),
    ("typo", p_typo), ("punct", p_punct), ("shuffle", p_shuffle), ("replace", p_replace),
    ("extend", p_extend), ("identical", p_identical), ("unrelated", p_unrelated),
    ("whitespace", p_whitespace),
]

# ---------------------------------------------------------------- edge cases (hand-written)

EDGE_CASES = [
    ("", ""),
    ("", "The reference is not empty."),
    ("The hypothesis is not empty.", ""),
    ("   ", "a b c"),
    ("a b c", " \t\n "),
    ("x", "x"),
    ("x", "y"),
    ("Hello", "Hello world"),
    ("café naïve résumé déjà vu", "cafe naive resume deja vu"),
    ("Cafe\u0301 au lait", "Café au lait"),
    ("我爱北京天安门", "我爱北京"),
    ("東京は日本の首都です。", "東京は日本の首都である。"),
    ("I \u2764\ufe0f NY \U0001F389\U0001F389", "I love NY \U0001F389"),
    ("ΟΔΥΣΣΕΥΣ ΚΑΙ ΣΟΦΟΣ", "Οδυσσευς και σοφος"),
    ("Привет, мир! Как дела?", "Привет мир, как дела?"),
    ("مرحبا بالعالم", "مرحبا يا عالم"),
    ("नमस्ते दुनिया", "नमस्ते संसार"),
    ("İstanbul ve İzmir", "istanbul ve izmir"),
    ("Die Straße ist groß.", "Die Strasse ist gross."),
    ("a\u00a0b\u3000c\u2028d\te\nf\u0085g", "a b c d e f g"),
    ("zero\u200bwidth\u180espace", "zero width space"),
    ("sep\u001carated\u001fby\u001econtrols", "sep arated by controls"),
    ("&quot;quoted&quot; &amp; &lt;tag&gt; &amp;lt;", "\"quoted\" & <tag> &lt;"),
    ("<skipped> text with a hyph-\nenated word", "text with a hyphenated word"),
    ("It costs $3.14, not 1,000 or 5-6 items.", "It costs $3.14 , not 1,000 or 5 - 6 items ."),
    ("U.S.A. and e.g. etc.. (hi) [x] {y} ~z~ a/b c|d", "USA and eg etc (hi) [x] {y} ~z~ a/b c|d"),
    ("end.", "end ."),
    ("Dots... and,,commas", "Dots . . . and , , commas"),
    ("tab\tseparated\tvalues", "tab separated values"),
    ("trailing spaces   \u3000 ", "trailing spaces"),
    ("Line one\nLine two\r\nLine three", "Line one Line two Line three"),
    ("'quotes' and \"double\" and `back`", "quotes and double and back"),
    ("2019-2020 season, 10-15 wins.", "2019 - 2020 season , 10 - 15 wins ."),
    ("x" * 50, "x" * 49),
    ("ab " * 30, "ab " * 31),
    ("The the THE tHe", "the"),
]

# ---------------------------------------------------------------- building the pairs


def build_pairs(data):
    rng = random.Random(SEED)
    dolly_path = find_file(data, "datasets/dolly-slice", "dolly_151_alpaca.jsonl")
    squad_path = find_file(data, "datasets/squad-v1.1-dev", "dev-v1.1-mini.json")
    with open(dolly_path, encoding="utf-8") as f:
        outputs = [json.loads(line)["output"] for line in f if line.strip()]
    pairs = []
    for i, text in enumerate(outputs):
        ref = text if i % 25 == 0 else cut(text, REF_CHARS)  # a few full-length responses
        other = cut(outputs[(i * 7 + 3) % len(outputs)], REF_CHARS)
        for k in range(2):
            kind, fn = PERTURBATIONS[(2 * i + k) % len(PERTURBATIONS)]
            hyp = fn(rng, ref, other)
            # a second reference: another light perturbation of the same response
            ref2 = (p_swap if (i + k) % 2 else p_drop)(rng, ref, other)
            pairs.append({"id": f"dolly{i}-{k}", "source": "dolly", "kind": kind,
                          "hyp": hyp, "ref": ref, "ref2": ref2})

    with open(squad_path, encoding="utf-8") as f:
        squad = json.load(f)
    qas = []
    for article in squad["data"]:
        for para in article["paragraphs"]:
            for qa in para["qas"]:
                qas.append((para["context"], qa))
    for j, (context, qa) in enumerate(qas[::25][:40]):
        answer = qa["answers"][0]
        start = answer["answer_start"]
        left = context.rfind(". ", 0, start)
        right = context.find(". ", start)
        sentence = context[left + 2 if left >= 0 else 0: right + 1 if right >= 0 else len(context)]
        if j % 4 == 3:  # the sentence as hypothesis, the answer as reference
            hyp, ref, kind = sentence, answer["text"], "sentence-vs-answer"
        else:
            hyp, ref, kind = answer["text"], sentence, "answer-vs-sentence"
        pairs.append({"id": f"squad-{qa['id']}", "source": "squad", "kind": kind,
                      "hyp": hyp, "ref": ref})
    for j, (hyp, ref) in enumerate(EDGE_CASES):
        pairs.append({"id": f"edge{j}", "source": "edge", "kind": "edge", "hyp": hyp, "ref": ref})
    return pairs


# ---------------------------------------------------------------- scoring with sacrebleu


def long_pair(pairs):
    """A >100k-character pair: every hypothesis then every second reference, against every
    reference then every first reference again (same segment count), joined by newlines."""
    multi = [p for p in pairs if "ref2" in p]
    hyp = "\n".join([p["hyp"] for p in pairs] + [p["ref2"] for p in multi])
    ref = "\n".join([p["ref"] for p in pairs] + [p["ref"] for p in multi])
    return hyp, ref


def bleu_fields(s):
    return {"score": s.score, "counts": list(s.counts), "totals": list(s.totals),
            "precisions": list(s.precisions), "bp": s.bp, "sys_len": s.sys_len,
            "ref_len": s.ref_len}


def corpus(metric, hyps, ref_streams, fields):
    out = fields(metric.corpus_score(hyps, ref_streams))
    out["signature"] = str(metric.get_signature())
    return out


def score_all(pairs):
    import sacrebleu
    from sacrebleu.metrics import BLEU, CHRF

    hyps = [p["hyp"] for p in pairs]
    refs = [p["ref"] for p in pairs]
    multi = [p for p in pairs if "ref2" in p]
    m_hyps = [p["hyp"] for p in multi]
    m_refs = [[p["ref"] for p in multi], [p["ref2"] for p in multi]]
    # variable reference count: every third segment has no second reference
    v_refs = [[p["ref"] for p in multi],
              [None if i % 3 == 0 else p["ref2"] for i, p in enumerate(multi)]]
    chrf_fields = lambda s: {"score": s.score}  # noqa: E731

    out = {"sacrebleu_version": sacrebleu.__version__, "python": sys.version.split()[0]}
    c = out["corpus"] = {}
    c["bleu"] = corpus(BLEU(), hyps, [refs], bleu_fields)
    c["bleu_lc"] = corpus(BLEU(lowercase=True), hyps, [refs], bleu_fields)
    c["bleu_eff"] = corpus(BLEU(effective_order=True), hyps, [refs], bleu_fields)
    c["bleu_floor"] = corpus(BLEU(smooth_method="floor"), hyps, [refs], bleu_fields)
    c["bleu_addk"] = corpus(BLEU(smooth_method="add-k"), hyps, [refs], bleu_fields)
    c["bleu_none"] = corpus(BLEU(smooth_method="none"), hyps, [refs], bleu_fields)
    c["bleu_2ref"] = corpus(BLEU(), m_hyps, m_refs, bleu_fields)
    c["bleu_var"] = corpus(BLEU(), m_hyps, v_refs, bleu_fields)
    c["chrf"] = corpus(CHRF(), hyps, [refs], chrf_fields)
    c["chrfpp"] = corpus(CHRF(word_order=2), hyps, [refs], chrf_fields)
    c["chrf_eps"] = corpus(CHRF(eps_smoothing=True), hyps, [refs], chrf_fields)
    c["chrfpp_eps"] = corpus(CHRF(word_order=2, eps_smoothing=True), hyps, [refs], chrf_fields)
    c["chrf_lc"] = corpus(CHRF(lowercase=True), hyps, [refs], chrf_fields)
    c["chrf_ws"] = corpus(CHRF(whitespace=True), hyps, [refs], chrf_fields)
    c["chrfpp_2ref"] = corpus(CHRF(word_order=2), m_hyps, m_refs, chrf_fields)
    c["chrfpp_var"] = corpus(CHRF(word_order=2), m_hyps, v_refs, chrf_fields)

    sent_bleu = BLEU(effective_order=True)
    sent_bleu_lc = BLEU(effective_order=True, lowercase=True)
    sent_floor = BLEU(effective_order=True, smooth_method="floor")
    sent_addk = BLEU(effective_order=True, smooth_method="add-k")
    sent_noeff = BLEU()
    chrf, chrfpp = CHRF(), CHRF(word_order=2)
    chrfpp_eps = CHRF(word_order=2, eps_smoothing=True)
    chrf_lc = CHRF(lowercase=True)
    tok = BLEU().tokenizer
    sentences = []
    for p in pairs:
        h, r = p["hyp"], p["ref"]
        s = {"bleu": bleu_fields(sent_bleu.sentence_score(h, [r])),
             "bleu_lc": sent_bleu_lc.sentence_score(h, [r]).score,
             "bleu_floor": sent_floor.sentence_score(h, [r]).score,
             "bleu_addk": sent_addk.sentence_score(h, [r]).score,
             "bleu_noeff": sent_noeff.sentence_score(h, [r]).score,
             "chrf": chrf.sentence_score(h, [r]).score,
             "chrfpp": chrfpp.sentence_score(h, [r]).score,
             "chrfpp_eps": chrfpp_eps.sentence_score(h, [r]).score,
             "chrf_lc": chrf_lc.sentence_score(h, [r]).score,
             "tok_hyp": tok(h.rstrip()), "tok_ref": tok(r.rstrip())}
        if "ref2" in p:
            s["bleu_2ref"] = bleu_fields(sent_bleu.sentence_score(h, [r, p["ref2"]]))
            s["chrfpp_2ref"] = chrfpp.sentence_score(h, [r, p["ref2"]]).score
            s["chrfpp_2ref_swapped"] = chrfpp.sentence_score(h, [p["ref2"], r]).score
        sentences.append(s)
    out["sentence"] = sentences
    out["sentence_signatures"] = {
        "bleu": str(sent_bleu.get_signature()), "chrf": str(chrf.get_signature()),
        "chrfpp": str(chrfpp.get_signature()), "chrfpp_eps": str(chrfpp_eps.get_signature()),
        "bleu_lc": str(sent_bleu_lc.get_signature()),
        "bleu_floor": str(sent_floor.get_signature()),
        "bleu_addk": str(sent_addk.get_signature())}

    long_hyp, long_ref = long_pair(pairs)
    out["long"] = {"hyp_chars": len(long_hyp), "ref_chars": len(long_ref),
                   "bleu": bleu_fields(sent_bleu.sentence_score(long_hyp, [long_ref])),
                   "chrf": chrf.sentence_score(long_hyp, [long_ref]).score,
                   "chrfpp": chrfpp.sentence_score(long_hyp, [long_ref]).score}
    return out


def ranges(pred):
    """[[first, last], ...] code point ranges where pred holds (surrogates skipped)."""
    out, start = [], None
    for c in range(0x110000 + 1):
        ok = c < 0x110000 and not (0xD800 <= c < 0xE000) and pred(chr(c))
        if ok and start is None:
            start = c
        elif not ok and start is not None:
            out.append([start, c - 1])
            start = None
    return out


SIGMA_CASES = ["ΟΔΥΣΣΕΥΣ", "ΣΑΣ", "Σ", "ΑΣ.", "ΑΣ'Α", "ΑΣ\u0301", "ΑΣ Β", "1Σ", "ΑΣΑ", "ΑΣ'",
               "aΣ", "Σa", "ʰΣ", "ΑΣ\u00ad", "ΑΣ:Β", "Α.Σ", "İΣ", "ΑΣ1", "ΑΣ_"]


def python_unicode():
    import unicodedata
    word = re.compile(r"\w")
    lower = {}
    for c in range(0x110000):
        if 0xD800 <= c < 0xE000:
            continue
        low = chr(c).lower()
        if low != chr(c):
            lower[f"{c:X}"] = [ord(x) for x in low]
    return {"python": sys.version.split()[0], "unicode": unicodedata.unidata_version,
            "isspace": ranges(str.isspace), "word": ranges(lambda ch: bool(word.match(ch))),
            "unassigned": ranges(lambda ch: unicodedata.category(ch) == "Cn"),
            "lower": lower, "sigma": [[t, t.lower()] for t in SIGMA_CASES]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--pairs-only", action="store_true", help="write pairs.json, skip scoring")
    args = ap.parse_args()
    pairs = build_pairs(args.data)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "pairs.json"), "w", encoding="utf-8") as f:
        json.dump({"seed": SEED, "long_pair": long_pair.__doc__.strip(), "pairs": pairs}, f, ensure_ascii=False,
                  indent=0)
    print(f"pairs: {len(pairs)} ({sum('ref2' in p for p in pairs)} with a second reference)")
    if args.pairs_only:
        return
    with open(os.path.join(args.out, "python_unicode.json"), "w", encoding="utf-8") as f:
        json.dump(python_unicode(), f, ensure_ascii=False, separators=(",", ":"))
    scores = score_all(pairs)
    with open(os.path.join(args.out, "sacrebleu_scores.json"), "w", encoding="utf-8") as f:
        json.dump(scores, f, ensure_ascii=False, indent=0)
    c = scores["corpus"]
    print(f"sacrebleu {scores['sacrebleu_version']}: BLEU {c['bleu']['score']:.4f} "
          f"chrF {c['chrf']['score']:.4f} chrF++ {c['chrfpp']['score']:.4f}")
    print(c["bleu"]["signature"])
    print(c["chrfpp"]["signature"])


if __name__ == "__main__":
    main()
