// What is here: the eval config (`qforge eval --config configs/eval.yaml`): the model, the
// JSONL test set and its field names, generation settings, the metrics and their encoders /
// judge, the adapters, and where reports go. Every key: docs/eval.md.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "evaluation/run/scoring.h"
#include "evaluation/run/system_run.h"
#include "evaluation/run/test_set.h"

namespace qforge::launcher {

struct EvalJudgeConfig {
    std::string model;  // local judge model dir ("" = the evaluated model)
    std::string url;    // OpenAI-compatible base URL; set = HTTP judge
    std::string api_key_env = "OPENAI_API_KEY";
    double timeout_s = 120.0;
};

struct EvalConfig {
    std::string model;
    eval::TestSetSpec data;
    eval::GenerationSpec generation;
    eval::MetricsSpec metrics;
    std::string bertscore_encoder;
    std::string bertscore_tokenizer;  // "" = the encoder dir
    std::string bleurt_checkpoint;
    EvalJudgeConfig judge;
    std::vector<std::string> adapters;
    std::string output_dir = "runs/eval";
};

// Reads and validates the YAML file (unknown keys, wrong types, unknown metrics, a metric
// without its encoder/checkpoint: qforge::Error naming the file, line and key). ${VAR} and
// ${VAR:-default} in strings are expanded.
EvalConfig load_eval_config(const std::filesystem::path& path);

// A training run's config.yaml flattened to "section.key" -> value text (lists as [a, b]).
std::map<std::string, std::string> read_run_hyperparams(const std::filesystem::path& run_dir);

}  // namespace qforge::launcher
