// What is here: BLEU, chrF and chrF++ against sacrebleu on the committed golden pairs
// (tests/golden/metrics), corpus and sentence level, to 1e-6, plus signatures and the 13a
// tokenizer's output on every segment.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "evaluation/metrics/bleu.h"
#include "evaluation/metrics/chrf.h"
#include "evaluation/metrics/sacrebleu_signature.h"
#include "evaluation/metrics/tokenizer_13a.h"
#include "metrics_golden.h"

namespace qforge::eval {
namespace {

using nlohmann::json;
using test::metrics_golden;

constexpr double kTol = 1e-6;

struct Corpus {
    std::vector<std::string> hyps;
    std::vector<std::vector<std::string>> refs;
};

Corpus all_pairs() {
    Corpus c;
    for (const auto& p : metrics_golden().pairs) {
        c.hyps.push_back(p.hyp);
        c.refs.push_back({p.ref});
    }
    return c;
}

// Segments with a second reference; `drop_every_third` reproduces the script's nrefs:var set.
Corpus two_ref_pairs(bool drop_every_third) {
    Corpus c;
    std::size_t i = 0;
    for (const auto& p : metrics_golden().pairs) {
        if (!p.has_ref2) {
            continue;
        }
        c.hyps.push_back(p.hyp);
        if (drop_every_third && i % 3 == 0) {
            c.refs.push_back({p.ref});
        } else {
            c.refs.push_back({p.ref, p.ref2});
        }
        ++i;
    }
    return c;
}

// add_k: sacrebleu reports counts and totals of orders >= 2 with the add-k constant added;
// qforge reports the raw counts.
void expect_bleu(const BleuScore& got, const json& want, const std::string& what,
                 std::int64_t add_k = 0) {
    SCOPED_TRACE(what);
    EXPECT_NEAR(got.score, want.at("score").get<double>(), kTol);
    EXPECT_NEAR(got.bp, want.at("bp").get<double>(), kTol);
    EXPECT_EQ(got.sys_len, want.at("sys_len").get<std::int64_t>());
    EXPECT_EQ(got.ref_len, want.at("ref_len").get<std::int64_t>());
    auto counts = got.counts;
    auto totals = got.totals;
    for (std::size_t n = 1; n < counts.size(); ++n) {
        counts[n] += add_k;
        totals[n] += add_k;
    }
    EXPECT_EQ(counts, want.at("counts").get<std::vector<std::int64_t>>());
    EXPECT_EQ(totals, want.at("totals").get<std::vector<std::int64_t>>());
    const auto prec = want.at("precisions").get<std::vector<double>>();
    ASSERT_EQ(got.precisions.size(), prec.size());
    for (std::size_t n = 0; n < prec.size(); ++n) {
        EXPECT_NEAR(got.precisions[n], prec[n], kTol) << "order " << n + 1;
    }
    if (want.contains("signature")) {
        EXPECT_EQ(got.signature, want.at("signature").get<std::string>());
    }
}

const json& corpus_want(const char* key) {
    return metrics_golden().scores.at("corpus").at(key);
}

TEST(SacrebleuGolden, HasEnoughPairsAndMatchingVersion) {
    const auto& g = metrics_golden();
    EXPECT_GE(g.pairs.size(), 300u);
    EXPECT_EQ(g.scores.at("sentence").size(), g.pairs.size());
    EXPECT_EQ(std::string(kSacrebleuVersion), g.scores.at("sacrebleu_version").get<std::string>())
        << "regenerate tests/golden/metrics or update kSacrebleuVersion";
}

TEST(SacrebleuGolden, Tokenizer13aMatchesEverySegment) {
    const auto& g = metrics_golden();
    for (std::size_t i = 0; i < g.pairs.size(); ++i) {
        const auto& want = g.scores.at("sentence")[i];
        // sacrebleu tokenizes after rstrip(); the golden holds tokenize(text.rstrip()).
        EXPECT_EQ(tokenize_13a(g.pairs[i].hyp), want.at("tok_hyp").get<std::string>())
            << g.pairs[i].id;
        EXPECT_EQ(tokenize_13a(g.pairs[i].ref), want.at("tok_ref").get<std::string>())
            << g.pairs[i].id;
    }
}

TEST(SacrebleuGolden, CorpusBleu) {
    const Corpus c = all_pairs();
    const BleuScore s = bleu_corpus(c.hyps, c.refs);
    expect_bleu(s, corpus_want("bleu"), "bleu");
    EXPECT_EQ(s.n_scored, c.hyps.size());
    expect_bleu(bleu_corpus(c.hyps, c.refs, {.lowercase = true}), corpus_want("bleu_lc"), "lc");
    expect_bleu(bleu_corpus(c.hyps, c.refs, {.effective_order = true}), corpus_want("bleu_eff"),
                "eff");
    expect_bleu(bleu_corpus(c.hyps, c.refs, {.smooth_method = BleuSmooth::kFloor}),
                corpus_want("bleu_floor"), "floor");
    expect_bleu(bleu_corpus(c.hyps, c.refs, {.smooth_method = BleuSmooth::kAddK}),
                corpus_want("bleu_addk"), "add-k", 1);
    expect_bleu(bleu_corpus(c.hyps, c.refs, {.smooth_method = BleuSmooth::kNone}),
                corpus_want("bleu_none"), "none");
}

TEST(SacrebleuGolden, CorpusBleuMultiReference) {
    const Corpus two = two_ref_pairs(false);
    expect_bleu(bleu_corpus(two.hyps, two.refs), corpus_want("bleu_2ref"), "2 refs");
    const Corpus var = two_ref_pairs(true);
    expect_bleu(bleu_corpus(var.hyps, var.refs), corpus_want("bleu_var"), "variable refs");
}

TEST(SacrebleuGolden, CorpusChrf) {
    const Corpus c = all_pairs();

    struct Case {
        const char* key;
        ChrfOptions options;
        const Corpus* corpus;
    };

    const Corpus two = two_ref_pairs(false);
    const Corpus var = two_ref_pairs(true);
    const Case cases[] = {
        {"chrf", {}, &c},
        {"chrfpp", chrf_plus_plus_options(), &c},
        {"chrf_eps", {.eps_smoothing = true}, &c},
        {"chrfpp_eps", {.word_order = 2, .eps_smoothing = true}, &c},
        {"chrf_lc", {.lowercase = true}, &c},
        {"chrf_ws", {.whitespace = true}, &c},
        {"chrfpp_2ref", chrf_plus_plus_options(), &two},
        {"chrfpp_var", chrf_plus_plus_options(), &var},
    };
    for (const Case& k : cases) {
        SCOPED_TRACE(k.key);
        const ChrfScore s = chrf_corpus(k.corpus->hyps, k.corpus->refs, k.options);
        EXPECT_NEAR(s.score, corpus_want(k.key).at("score").get<double>(), kTol);
        EXPECT_EQ(s.signature, corpus_want(k.key).at("signature").get<std::string>());
        EXPECT_EQ(s.n_scored, k.corpus->hyps.size());
    }
}

TEST(SacrebleuGolden, SentenceBleuAndChrfForEveryPair) {
    const auto& g = metrics_golden();
    const ChrfOptions pp = chrf_plus_plus_options();
    const BleuOptions eff{.effective_order = true};
    for (std::size_t i = 0; i < g.pairs.size(); ++i) {
        const auto& p = g.pairs[i];
        const auto& want = g.scores.at("sentence")[i];
        SCOPED_TRACE(p.id + " (" + p.kind + ")");
        expect_bleu(bleu_sentence(p.hyp, {p.ref}), want.at("bleu"), "sentence bleu");
        EXPECT_NEAR(
            bleu_sentence(p.hyp, {p.ref}, {.lowercase = true, .effective_order = true}).score,
            want.at("bleu_lc").get<double>(), kTol);
        EXPECT_NEAR(bleu_sentence(p.hyp, {p.ref},
                                  {.smooth_method = BleuSmooth::kFloor, .effective_order = true})
                        .score,
                    want.at("bleu_floor").get<double>(), kTol);
        EXPECT_NEAR(bleu_sentence(p.hyp, {p.ref},
                                  {.smooth_method = BleuSmooth::kAddK, .effective_order = true})
                        .score,
                    want.at("bleu_addk").get<double>(), kTol);
        EXPECT_NEAR(bleu_sentence(p.hyp, {p.ref}, BleuOptions{}).score,
                    want.at("bleu_noeff").get<double>(), kTol);
        EXPECT_NEAR(chrf_sentence(p.hyp, {p.ref}).score, want.at("chrf").get<double>(), kTol);
        EXPECT_NEAR(chrf_sentence(p.hyp, {p.ref}, pp).score, want.at("chrfpp").get<double>(), kTol);
        EXPECT_NEAR(chrf_sentence(p.hyp, {p.ref}, {.word_order = 2, .eps_smoothing = true}).score,
                    want.at("chrfpp_eps").get<double>(), kTol);
        EXPECT_NEAR(chrf_sentence(p.hyp, {p.ref}, {.lowercase = true}).score,
                    want.at("chrf_lc").get<double>(), kTol);
        if (p.has_ref2) {
            expect_bleu(bleu_sentence(p.hyp, {p.ref, p.ref2}, eff), want.at("bleu_2ref"),
                        "sentence bleu, 2 refs");
            EXPECT_NEAR(chrf_sentence(p.hyp, {p.ref, p.ref2}, pp).score,
                        want.at("chrfpp_2ref").get<double>(), kTol);
            EXPECT_NEAR(chrf_sentence(p.hyp, {p.ref2, p.ref}, pp).score,
                        want.at("chrfpp_2ref_swapped").get<double>(), kTol);
        }
    }
}

TEST(SacrebleuGolden, SentenceSignatures) {
    const auto& want = metrics_golden().scores.at("sentence_signatures");
    const std::vector<std::string> one{"ref"};
    EXPECT_EQ(bleu_sentence("hyp", one).signature, want.at("bleu").get<std::string>());
    EXPECT_EQ(bleu_sentence("hyp", one, {.lowercase = true, .effective_order = true}).signature,
              want.at("bleu_lc").get<std::string>());
    EXPECT_EQ(
        bleu_sentence("hyp", one, {.smooth_method = BleuSmooth::kFloor, .effective_order = true})
            .signature,
        want.at("bleu_floor").get<std::string>());
    EXPECT_EQ(
        bleu_sentence("hyp", one, {.smooth_method = BleuSmooth::kAddK, .effective_order = true})
            .signature,
        want.at("bleu_addk").get<std::string>());
    EXPECT_EQ(chrf_sentence("hyp", one).signature, want.at("chrf").get<std::string>());
    EXPECT_EQ(chrf_sentence("hyp", one, chrf_plus_plus_options()).signature,
              want.at("chrfpp").get<std::string>());
    EXPECT_EQ(chrf_sentence("hyp", one, {.word_order = 2, .eps_smoothing = true}).signature,
              want.at("chrfpp_eps").get<std::string>());
}

// The >100k-character pair, built as make_golden_metrics.py's long_pair() builds it.
TEST(SacrebleuGolden, LongPair) {
    const auto& g = metrics_golden();
    std::vector<std::string> hyp_pieces;
    std::vector<std::string> ref_pieces;
    for (const auto& p : g.pairs) {
        hyp_pieces.push_back(p.hyp);
        ref_pieces.push_back(p.ref);
    }
    for (const auto& p : g.pairs) {
        if (p.has_ref2) {
            hyp_pieces.push_back(p.ref2);
            ref_pieces.push_back(p.ref);
        }
    }
    auto join = [](const std::vector<std::string>& v) {
        std::string s;
        for (std::size_t i = 0; i < v.size(); ++i) {
            s += (i > 0 ? "\n" : "") + v[i];
        }
        return s;
    };
    const std::string hyp = join(hyp_pieces);
    const std::string ref = join(ref_pieces);
    const auto& want = g.scores.at("long");
    ASSERT_GE(hyp.size(), 100000u);
    expect_bleu(bleu_sentence(hyp, {ref}), want.at("bleu"), "long bleu");
    EXPECT_NEAR(chrf_sentence(hyp, {ref}).score, want.at("chrf").get<double>(), kTol);
    EXPECT_NEAR(chrf_sentence(hyp, {ref}, chrf_plus_plus_options()).score,
                want.at("chrfpp").get<double>(), kTol);
}

}  // namespace
}  // namespace qforge::eval
