// What is here: what evaluating one system produces (corpus metrics with how many examples
// each scored, per-example values, the outputs) and its JSON form, which is also what ranks
// send to rank 0 in an eval sweep.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace qforge::eval {

struct MetricValue {
    std::string name;    // "bleu", "chrf", "rougeL", "perplexity", "bertscore_f1", "geval_fluency"
    double value = 0.0;  // NaN when nothing was scored
    std::size_t n_scored = 0;  // examples that contributed
    std::size_t n_total = 0;   // examples in the test set
    bool higher_is_better = true;
    std::string signature;  // sacrebleu signature for BLEU/chrF, else a short note
};

struct SystemResult {
    std::string name;                                // "base" or the adapter's run name
    std::string adapter;                             // adapter directory ("" for the base)
    std::map<std::string, std::string> hyperparams;  // from the adapter's run config, if any
    std::vector<MetricValue> metrics;                // corpus level, in the configured order
    std::map<std::string, std::vector<double>> per_example;  // NaN = not scored
    std::vector<std::string> outputs;
    double generate_seconds = 0.0;
    int64_t generated_tokens = 0;
    int64_t prompts_truncated = 0;
    int rank = 0;  // the MPI rank that evaluated it

    const MetricValue* metric(const std::string& metric_name) const;
};

nlohmann::json to_json(const SystemResult& r);
SystemResult system_result_from_json(const nlohmann::json& j);

}  // namespace qforge::eval
