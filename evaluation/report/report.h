// What is here: the eval report: one leaderboard across systems (base + adapters, with each
// adapter's hyper-parameters), every metric with how many examples it scored, and
// per-example tables with the worst cases first; written as report.json, report.md and a
// self-contained report.html (inline CSS and SVG bar charts), each atomically.
#pragma once

#include <cstddef>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "evaluation/run/results.h"
#include "evaluation/run/test_set.h"

namespace qforge::eval {

struct EvalReport {
    std::string model;     // the base model directory
    std::string test_set;  // the JSONL file
    std::vector<EvalExample> examples;
    std::vector<SystemResult> systems;         // base first, then adapters as given
    std::vector<std::string> hyperparam_keys;  // leaderboard columns (those that vary)
    double seconds = 0.0;                      // wall time of the whole evaluation
    int ranks = 1;
};

// The metric the leaderboard sorts by: the first metric of the first system.
std::string primary_metric(const EvalReport& report);

// System indices, best first by the primary metric (NaN last, ties by name).
std::vector<std::size_t> leaderboard_order(const EvalReport& report);

// Example indices, worst first by `metric` of `system` (unscored examples last).
std::vector<std::size_t> worst_first(const SystemResult& system, const std::string& metric);

// The keys whose values differ between systems (run.name/output_dir aside); when only one
// system has hyper-parameters, lora.r, lora.alpha, lora.dropout, train.lr, max_steps, epochs.
std::vector<std::string> varying_hyperparams(const std::vector<SystemResult>& systems);

nlohmann::json report_json(const EvalReport& report);
std::string report_markdown(const EvalReport& report, std::size_t max_rows = 20);
std::string report_html(const EvalReport& report, std::size_t max_rows = 50);

// One horizontal bar per label, values printed beside the bars (NaN drawn as "n/a").
std::string svg_bar_chart(const std::string& title, const std::vector<std::string>& labels,
                          const std::vector<double>& values);

// report.json, report.md, report.html in `dir` (created), each written atomically.
void write_reports(const std::filesystem::path& dir, const EvalReport& report);

}  // namespace qforge::eval
