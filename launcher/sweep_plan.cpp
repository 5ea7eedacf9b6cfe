// What is here: sweep_plan_load (see sweep_plan.h). Grid: the Cartesian product of the value
// lists, the last key varying fastest. Random: `trials` draws from a generator seeded by
// search.seed, each key from a list (uniform choice) or a {min, max, log, int} range, so the
// same file always expands to the same trials and a re-run finds them again.
#include "launcher/sweep_plan.h"

#include <cmath>
#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join (moved here in fmt 10)
#include <random>
#include <set>
#include <yaml-cpp/yaml.h>

#include "kernels/common.h"

namespace qforge::launcher {

namespace fs = std::filesystem;

namespace {

struct Reader {
    std::string file;

    std::string where(const YAML::Node& node, const std::string& field) const {
        const auto m = node.Mark();
        return m.line >= 0 ? fmt::format("{}:{}: {}", file, m.line + 1, field)
                           : fmt::format("{}: {}", file, field);
    }

    void only_keys(const YAML::Node& map, const std::string& field,
                   const std::set<std::string>& allowed) const {
        QF_CHECK(map.IsMap(), "{}: expected a mapping", where(map, field));
        for (const auto& kv : map) {
            const auto key = kv.first.as<std::string>();
            QF_CHECK(allowed.count(key) != 0, "{}: unknown key (expected one of: {})",
                     where(kv.first, field + "." + key), fmt::join(allowed, ", "));
        }
    }

    template <typename T>
    T scalar(const YAML::Node& node, const std::string& field) const {
        QF_CHECK(node.IsScalar(), "{}: expected a single value", where(node, field));
        try {
            return node.as<T>();
        } catch (const YAML::Exception&) {
            QF_FAIL("{}: cannot read \"{}\" as a {}", where(node, field), node.Scalar(),
                    std::is_same_v<T, std::string> ? "string" : "number");
        }
    }
};

// The YAML text of a value, as `--set key=<text>` reads it back.
std::string yaml_text(const YAML::Node& node) {
    if (node.IsScalar()) {
        return node.Scalar();
    }
    YAML::Emitter out;
    out << YAML::Flow << node;
    return out.c_str();
}

std::string number_text(double x, bool integer) {
    return integer ? fmt::format("{}", static_cast<int64_t>(std::llround(x)))
                   : fmt::format("{:.6g}", x);
}

void plan_grid(const Reader& rd, const YAML::Node& params, SweepPlan& plan) {
    std::vector<std::vector<std::string>> values;
    for (const auto& kv : params) {
        const auto key = kv.first.as<std::string>();
        const std::string field = "search.params." + key;
        QF_CHECK(kv.second.IsSequence() && kv.second.size() > 0,
                 "{}: a grid needs a non-empty list of values", rd.where(kv.second, field));
        plan.param_keys.push_back(key);
        values.emplace_back();
        for (const auto& v : kv.second) {
            values.back().push_back(yaml_text(v));
        }
    }
    std::vector<size_t> at(values.size(), 0);
    for (int index = 0;; ++index) {
        SweepTrial t;
        t.index = index;
        for (size_t k = 0; k < values.size(); ++k) {
            t.params.emplace_back(plan.param_keys[k], values[k][at[k]]);
        }
        plan.trials.push_back(std::move(t));
        size_t k = values.size();
        while (k > 0 && ++at[k - 1] == values[k - 1].size()) {
            at[--k] = 0;
        }
        if (k == 0) {
            break;
        }
    }
}

void plan_random(const Reader& rd, const YAML::Node& search, SweepPlan& plan) {
    const YAML::Node params = search["params"];
    QF_CHECK(search["trials"], "{}: random search needs `trials` (how many to draw)",
             rd.where(search, "search.trials"));
    const int trials = rd.scalar<int>(search["trials"], "search.trials");
    QF_CHECK(trials >= 1, "{}: must be >= 1, got {}", rd.where(search["trials"], "search.trials"),
             trials);
    const auto seed =
        search["seed"] ? rd.scalar<uint64_t>(search["seed"], "search.seed") : uint64_t{0};
    for (const auto& kv : params) {
        const auto key = kv.first.as<std::string>();
        const std::string field = "search.params." + key;
        plan.param_keys.push_back(key);
        if (kv.second.IsSequence()) {
            QF_CHECK(kv.second.size() > 0, "{}: empty list of choices", rd.where(kv.second, field));
        } else {
            rd.only_keys(kv.second, field, {"min", "max", "log", "int"});
            QF_CHECK(kv.second["min"] && kv.second["max"], "{}: a range needs min and max",
                     rd.where(kv.second, field));
            const auto lo = rd.scalar<double>(kv.second["min"], field + ".min");
            const auto hi = rd.scalar<double>(kv.second["max"], field + ".max");
            const bool log = kv.second["log"] && rd.scalar<bool>(kv.second["log"], field + ".log");
            QF_CHECK(lo <= hi, "{}: min {} is above max {}", rd.where(kv.second, field), lo, hi);
            QF_CHECK(!log || lo > 0, "{}: a log range needs min > 0, got {}",
                     rd.where(kv.second, field), lo);
        }
    }
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    for (int index = 0; index < trials; ++index) {
        SweepTrial t;
        t.index = index;
        for (const auto& kv : params) {
            const auto key = kv.first.as<std::string>();
            const YAML::Node& spec = kv.second;
            if (spec.IsSequence()) {
                const auto pick = static_cast<size_t>(rng() % spec.size());
                t.params.emplace_back(key, yaml_text(spec[pick]));
                continue;
            }
            const auto lo = spec["min"].as<double>(), hi = spec["max"].as<double>();
            const bool log = spec["log"] && spec["log"].as<bool>();
            const bool integer = spec["int"] && spec["int"].as<bool>();
            const double u = unit(rng);
            const double x = log ? std::exp(std::log(lo) + u * (std::log(hi) - std::log(lo)))
                                 : lo + u * (hi - lo);
            t.params.emplace_back(key, number_text(x, integer));
        }
        plan.trials.push_back(std::move(t));
    }
}

}  // namespace

std::string sweep_trial_name(int index) {
    return fmt::format("trial-{}", index);
}

SweepPlan sweep_plan_load(const fs::path& path) {
    Reader rd{path.string()};
    YAML::Node root;
    try {
        root = YAML::LoadFile(path.string());
    } catch (const YAML::BadFile&) {
        QF_FAIL("{}: cannot read the sweep file", path.string());
    } catch (const YAML::Exception& e) {
        QF_FAIL("{}:{}: {}", path.string(), e.mark.line + 1, e.msg);
    }
    QF_CHECK(root.IsMap() && root["sweep"], "{}: expected a top-level `sweep:` section",
             path.string());
    const YAML::Node sw = root["sweep"];
    rd.only_keys(root, "", {"sweep"});
    rd.only_keys(sw, "sweep",
                 {"name", "output_dir", "base", "set", "metric", "ranks_per_trial", "search"});

    SweepPlan plan;
    plan.name =
        sw["name"] ? rd.scalar<std::string>(sw["name"], "sweep.name") : path.stem().string();
    QF_CHECK(!plan.name.empty() && plan.name.find('/') == std::string::npos && plan.name != "." &&
                 plan.name != "..",
             "{}: must be a directory name without '/', got \"{}\"", rd.where(sw, "sweep.name"),
             plan.name);
    const std::string out =
        sw["output_dir"] ? rd.scalar<std::string>(sw["output_dir"], "sweep.output_dir") : "runs";
    plan.dir = fs::path(out) / plan.name;

    QF_CHECK(sw["base"], "{}: missing (the training config every trial starts from)",
             rd.where(sw, "sweep.base"));
    plan.base_config = rd.scalar<std::string>(sw["base"], "sweep.base");
    QF_CHECK(fs::is_regular_file(plan.base_config), "{}: no such file: {}",
             rd.where(sw["base"], "sweep.base"), plan.base_config.string());

    if (sw["set"]) {
        QF_CHECK(sw["set"].IsMap(), "{}: expected a mapping of config keys to values",
                 rd.where(sw["set"], "sweep.set"));
        for (const auto& kv : sw["set"]) {
            plan.fixed_sets.push_back(kv.first.as<std::string>() + "=" + yaml_text(kv.second));
        }
    }
    if (sw["metric"]) {
        plan.metric = rd.scalar<std::string>(sw["metric"], "sweep.metric");
        QF_CHECK(plan.metric == "val_loss",
                 "{}: only val_loss (final validation loss, lower is better) is supported, got "
                 "\"{}\"",
                 rd.where(sw["metric"], "sweep.metric"), plan.metric);
    }
    if (sw["ranks_per_trial"]) {
        plan.ranks_per_trial = rd.scalar<int>(sw["ranks_per_trial"], "sweep.ranks_per_trial");
        QF_CHECK(plan.ranks_per_trial >= 1, "{}: must be >= 1, got {}",
                 rd.where(sw["ranks_per_trial"], "sweep.ranks_per_trial"), plan.ranks_per_trial);
    }

    QF_CHECK(sw["search"], "{}: missing", rd.where(sw, "sweep.search"));
    const YAML::Node search = sw["search"];
    rd.only_keys(search, "search", {"method", "params", "trials", "seed"});
    plan.method =
        search["method"] ? rd.scalar<std::string>(search["method"], "search.method") : "grid";
    QF_CHECK(search["params"] && search["params"].IsMap() && search["params"].size() > 0,
             "{}: expected a mapping of config keys (e.g. train.lr) to values",
             rd.where(search, "search.params"));
    if (plan.method == "grid") {
        QF_CHECK(!search["trials"] && !search["seed"],
                 "{}: `trials` and `seed` belong to method: random", rd.where(search, "search"));
        plan_grid(rd, search["params"], plan);
    } else if (plan.method == "random") {
        plan_random(rd, search, plan);
    } else {
        QF_FAIL("{}: expected grid or random, got \"{}\"",
                rd.where(search["method"], "search.method"), plan.method);
    }
    for (const auto& key : plan.param_keys) {
        QF_CHECK(key != "run.name" && key != "run.output_dir", "{}: the sweep sets {} itself",
                 rd.where(search["params"], "search.params"), key);
    }
    return plan;
}

std::vector<std::string> sweep_trial_overrides(const SweepPlan& plan, const SweepTrial& t) {
    std::vector<std::string> sets = plan.fixed_sets;
    for (const auto& [key, value] : t.params) {
        sets.push_back(key + "=" + value);
    }
    sets.push_back("run.output_dir=" + plan.dir.string());
    sets.push_back("run.name=" + sweep_trial_name(t.index));
    return sets;
}

}  // namespace qforge::launcher
