// What is here: what a sweep leaves on disk: whether a trial has finished (its run directory
// holds adapter/ and a final metrics line), its result read back from metrics.jsonl, and the
// leaderboard (leaderboard.md, leaderboard.csv, and a `best` link to the best adapter).
#pragma once

#include <filesystem>
#include <optional>
#include <vector>

#include "launcher/sweep_plan.h"

namespace qforge::launcher {

struct TrialResult {
    SweepTrial trial;
    bool finished = false;
    double val_loss = 0.0;  // the last val_loss line of metrics.jsonl (NaN if none)
    int64_t steps = 0;      // the last step line
    double time_s = 0.0;    // elapsed_s of the last step line (training time, load excluded)
};

// Reads <plan.dir>/trial-<k>. finished: adapter/adapter_config.json exists and the last line
// of metrics.jsonl is a validation line (the trainer writes both only at the end of a run).
TrialResult sweep_trial_result(const SweepPlan& plan, const SweepTrial& trial);

// Sorted by val_loss, lowest first; unfinished trials and NaN losses last, then by index.
std::vector<TrialResult> sweep_rank(std::vector<TrialResult> results);

// Writes leaderboard.md and leaderboard.csv into plan.dir (atomically) and points
// <plan.dir>/best at the best finished trial's adapter (a relative symlink, replaced
// atomically). Returns the best result, if any trial finished.
std::optional<TrialResult> sweep_write_leaderboard(const SweepPlan& plan,
                                                   const std::vector<TrialResult>& ranked);

}  // namespace qforge::launcher
