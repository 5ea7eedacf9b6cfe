// What is here: the sweep file (`qforge sweep <sweep.yaml>`) and the list of trials it
// describes: a base training config, fixed overrides, a grid or random search over config
// keys, the metric, and how many ranks train each trial.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace qforge::launcher {

// One searched value of one trial: the config key and the value as YAML text ("3e-3", "16").
using SweepParam = std::pair<std::string, std::string>;

struct SweepTrial {
    int index = 0;                   // trial-<index>
    std::vector<SweepParam> params;  // in the order the sweep file names the keys
};

struct SweepPlan {
    std::string name;                     // sweep.name (default: the file's stem)
    std::filesystem::path dir;            // <sweep.output_dir>/<sweep.name>
    std::filesystem::path base_config;    // relative paths: from the working directory
    std::vector<std::string> fixed_sets;  // sweep.set: "key=value" applied to every trial
    std::string metric = "val_loss";      // final validation loss, lower is better
    int ranks_per_trial = 1;
    std::string method;                   // grid | random
    std::vector<std::string> param_keys;  // the searched keys, in file order
    std::vector<SweepTrial> trials;
};

// Parses and expands a sweep file. Throws one qforge::Error naming the file, line and field
// for every malformed entry (unknown keys, empty lists, bad ranges, ranks_per_trial < 1).
SweepPlan sweep_plan_load(const std::filesystem::path& path);

// The --set overrides that turn the base config into trial `t` of `plan`: the fixed sets,
// the trial's params, run.output_dir = plan.dir, run.name = trial-<index>.
std::vector<std::string> sweep_trial_overrides(const SweepPlan& plan, const SweepTrial& t);

std::string sweep_trial_name(int index);  // "trial-<index>"

}  // namespace qforge::launcher
