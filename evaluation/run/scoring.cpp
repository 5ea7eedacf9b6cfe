// What is here: score_system (see scoring.h). Corpus BLEU/chrF are sacrebleu's corpus scores;
// the per-example values (for the worst-first tables) are sentence scores. Per-example SQuAD
// and ROUGE values are in percent like their corpus means.
#include "evaluation/run/scoring.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "evaluation/metrics/bleu.h"
#include "evaluation/metrics/chrf.h"
#include "evaluation/metrics/rouge.h"
#include "evaluation/metrics/squad.h"
#include "kernels/common.h"

namespace qforge::eval {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double mean_of(const std::vector<double>& v, std::size_t* n) {
    double s = 0.0;
    *n = 0;
    for (double x : v) {
        if (!std::isnan(x)) {
            s += x;
            (*n)++;
        }
    }
    return *n ? s / static_cast<double>(*n) : kNaN;
}

void add(SystemResult& r, const std::string& name, double value, std::size_t n_scored,
         std::size_t n_total, bool higher, std::string signature, std::vector<double> per_example) {
    r.metrics.push_back({name, value, n_scored, n_total, higher, std::move(signature)});
    r.per_example[name] = std::move(per_example);
}

}  // namespace

const std::vector<std::string>& known_metrics() {
    static const std::vector<std::string> names = {
        "bleu", "chrf", "chrf++", "rouge", "squad", "perplexity", "bertscore", "bleurt", "geval"};
    return names;
}

bool metric_wanted(const MetricsSpec& spec, const std::string& name) {
    return std::find(spec.names.begin(), spec.names.end(), name) != spec.names.end();
}

void score_system(SystemResult& r, const std::vector<EvalExample>& examples,
                  const SystemOutputs& out, const MetricsSpec& spec, const Scorers& scorers) {
    const std::size_t n = examples.size();
    QF_CHECK(out.outputs.size() == n, "score_system: {} outputs for {} examples",
             out.outputs.size(), n);
    r.outputs = out.outputs;
    r.generate_seconds = out.generate_seconds;
    r.generated_tokens = out.generated_tokens;
    r.prompts_truncated = out.prompts_truncated;
    std::vector<std::vector<std::string>> refs(n);
    std::vector<std::string> first_ref(n), sources(n);
    for (std::size_t i = 0; i < n; i++) {
        refs[i] = examples[i].references;
        first_ref[i] = examples[i].references.front();
        sources[i] = examples[i].prompt;
    }
    const std::vector<std::string>& hyps = out.outputs;

    for (const std::string& name : spec.names) {
        if (name == "bleu") {
            const BleuScore corpus = bleu_corpus(hyps, refs);
            std::vector<double> per(n);
            for (std::size_t i = 0; i < n; i++) {
                per[i] = bleu_sentence(hyps[i], refs[i]).score;
            }
            add(r, "bleu", corpus.score, corpus.n_scored, n, true, corpus.signature, per);
        } else if (name == "chrf" || name == "chrf++") {
            const ChrfOptions o = name == "chrf" ? ChrfOptions{} : chrf_plus_plus_options();
            const ChrfScore corpus = chrf_corpus(hyps, refs, o);
            std::vector<double> per(n);
            for (std::size_t i = 0; i < n; i++) {
                per[i] = chrf_sentence(hyps[i], refs[i], o).score;
            }
            add(r, name, corpus.score, corpus.n_scored, n, true, corpus.signature, per);
        } else if (name == "rouge") {
            std::vector<double> r1(n), r2(n), rl(n);
            for (std::size_t i = 0; i < n; i++) {
                const RougeScores s = rouge_score_multi(refs[i], hyps[i]);
                r1[i] = 100.0 * s.rouge1.fmeasure;
                r2[i] = 100.0 * s.rouge2.fmeasure;
                rl[i] = 100.0 * s.rouge_l.fmeasure;
            }
            const std::string note = "F-measure, rouge_score tokenizer, no stemming, best of refs";
            auto add_mean = [&](const char* metric, const std::vector<double>& values) {
                std::size_t k = 0;
                const double mean = mean_of(values, &k);  // sets k: not in the same call
                add(r, metric, mean, k, n, true, note, values);
            };
            add_mean("rouge1", r1);
            add_mean("rouge2", r2);
            add_mean("rougeL", rl);
        } else if (name == "squad") {
            std::vector<double> em(n), f1(n);
            for (std::size_t i = 0; i < n; i++) {
                const SquadScore s = squad_score(hyps[i], refs[i]);
                em[i] = 100.0 * s.exact_match;
                f1[i] = 100.0 * s.f1;
            }
            const SquadScore corpus = squad_corpus(hyps, refs);
            add(r, "exact_match", corpus.exact_match, corpus.n_scored, n, true,
                "SQuAD v1.1 normalization, max over refs", em);
            add(r, "f1", corpus.f1, corpus.n_scored, n, true, "SQuAD v1.1 token F1, max over refs",
                f1);
        } else if (name == "perplexity") {
            QF_CHECK(out.ref_nll.size() == n, "perplexity: reference NLL was not computed");
            double nll = 0.0;
            int64_t tokens = 0;
            std::size_t k = 0;
            std::vector<double> per(n, kNaN);
            for (std::size_t i = 0; i < n; i++) {
                if (out.ref_tokens[i] > 0) {
                    nll += out.ref_nll[i];
                    tokens += out.ref_tokens[i];
                    per[i] = std::exp(out.ref_nll[i] / static_cast<double>(out.ref_tokens[i]));
                    k++;
                }
            }
            add(r, "perplexity", tokens ? std::exp(nll / static_cast<double>(tokens)) : kNaN, k, n,
                false,
                fmt::format("exp(NLL per token) of the first reference given the prompt; {} "
                            "tokens",
                            tokens),
                per);
        } else if (name == "bertscore") {
            QF_CHECK(scorers.bertscore, "metric bertscore: no encoder was loaded");
            const BertScoreResult s = scorers.bertscore->score(hyps, first_ref, spec.bertscore);
            std::vector<double> p(n), rc(n), f(n);
            for (std::size_t i = 0; i < n; i++) {
                p[i] = s.per_example[i].precision;
                rc[i] = s.per_example[i].recall;
                f[i] = s.per_example[i].f1;
            }
            const std::string note = fmt::format(
                "greedy cosine, last layer, idf:{}, no rescale, {} empty pairs scored 0",
                spec.bertscore.idf ? "yes" : "no", s.n_empty);
            add(r, "bertscore_p", s.mean.precision, s.n_scored, n, true, note, p);
            add(r, "bertscore_r", s.mean.recall, s.n_scored, n, true, note, rc);
            add(r, "bertscore_f1", s.mean.f1, s.n_scored, n, true, note, f);
        } else if (name == "bleurt") {
            QF_CHECK(scorers.bleurt, "metric bleurt: no checkpoint was loaded");
            const BleurtResult s = scorers.bleurt->score(first_ref, hyps, spec.bleurt_max_length);
            add(r, "bleurt", s.mean, s.n_scored, n, true,
                fmt::format("max_length {}, {} pairs truncated", spec.bleurt_max_length,
                            s.n_truncated),
                s.per_example);
        } else if (name == "geval") {
            QF_CHECK(scorers.judge, "metric geval: no judge was configured");
            for (const GevalCriterion& c : spec.geval_criteria) {
                const std::string steps = geval_steps(*scorers.judge, c, spec.geval_cache_dir,
                                                      spec.geval_steps_max_tokens);
                const GevalResult g =
                    geval_score(*scorers.judge, c, steps, sources, hyps, spec.geval_top_k);
                add(r, "geval_" + c.name, g.mean, g.n_scored, n, true,
                    "judge " + scorers.judge->id(), g.per_example);
            }
        } else {
            QF_FAIL("unknown metric \"{}\"", name);
        }
    }
}

}  // namespace qforge::eval
