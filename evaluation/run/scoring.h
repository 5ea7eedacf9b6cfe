// What is here: scoring one system's outputs with every configured metric: BLEU, chrF,
// chrF++ (sacrebleu), ROUGE-1/2/L, SQuAD EM/F1, perplexity of the references, BERTScore,
// BLEURT and G-Eval criteria. Each metric reports how many examples it scored.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "evaluation/judge/geval.h"
#include "evaluation/learned/bert_score.h"
#include "evaluation/learned/bleurt.h"
#include "evaluation/run/results.h"
#include "evaluation/run/system_run.h"
#include "evaluation/run/test_set.h"

namespace qforge::eval {

// The metric names an eval config may list, in report order.
const std::vector<std::string>& known_metrics();

struct MetricsSpec {
    std::vector<std::string> names;  // a subset of known_metrics()
    BertScoreOptions bertscore;
    int64_t bleurt_max_length = 512;
    std::vector<GevalCriterion> geval_criteria;
    std::filesystem::path geval_cache_dir;  // where evaluation steps are cached
    int geval_top_k = 20;
    int64_t geval_steps_max_tokens = 128;  // length of the generated evaluation steps
};

// Learned scorers and the judge, loaded once and shared by every system (null: not used).
struct Scorers {
    const BertScorer* bertscore = nullptr;
    const BleurtScorer* bleurt = nullptr;
    Judge* judge = nullptr;
};

bool metric_wanted(const MetricsSpec& spec, const std::string& name);

// Fills result.metrics / per_example / outputs from `out`.
void score_system(SystemResult& result, const std::vector<EvalExample>& examples,
                  const SystemOutputs& out, const MetricsSpec& spec, const Scorers& scorers);

}  // namespace qforge::eval
