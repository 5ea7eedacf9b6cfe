// What is here: sweep_trial_result, sweep_rank, sweep_write_leaderboard (see sweep_results.h).
#include "launcher/sweep_results.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "kernels/common.h"
#include "runtime/io/atomic_file.h"

namespace qforge::launcher {

namespace fs = std::filesystem;

TrialResult sweep_trial_result(const SweepPlan& plan, const SweepTrial& trial) {
    TrialResult r;
    r.trial = trial;
    r.val_loss = std::numeric_limits<double>::quiet_NaN();
    const fs::path dir = plan.dir / sweep_trial_name(trial.index);
    std::ifstream in(dir / "metrics.jsonl");
    bool last_is_eval = false;
    std::string line;
    for (int lineno = 1; std::getline(in, line); ++lineno) {
        if (line.empty()) {
            continue;
        }
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(line);
        } catch (const nlohmann::json::exception& e) {
            QF_FAIL("{}:{}: not a JSON line: {}", (dir / "metrics.jsonl").string(), lineno,
                    e.what());
        }
        last_is_eval = j.contains("val_loss");
        if (last_is_eval) {
            r.val_loss = j["val_loss"].is_number() ? j["val_loss"].get<double>()
                                                   : std::numeric_limits<double>::quiet_NaN();
        } else if (j.contains("loss")) {
            r.steps = j.value("step", int64_t{0});
            r.time_s = j.value("elapsed_s", 0.0);
        }
    }
    r.finished = last_is_eval && fs::is_regular_file(dir / "adapter" / "adapter_config.json");
    return r;
}

std::vector<TrialResult> sweep_rank(std::vector<TrialResult> results) {
    auto key = [](const TrialResult& r) {
        const bool usable = r.finished && !std::isnan(r.val_loss);
        return std::make_tuple(!usable, usable ? r.val_loss : 0.0, r.trial.index);
    };
    std::stable_sort(results.begin(), results.end(),
                     [&](const TrialResult& a, const TrialResult& b) { return key(a) < key(b); });
    return results;
}

namespace {

std::string csv_field(const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos) {
        return s;
    }
    std::string q = "\"";
    for (char c : s) {
        q += c == '"' ? std::string("\"\"") : std::string(1, c);
    }
    return q + "\"";
}

std::string loss_text(const TrialResult& r) {
    return r.finished && !std::isnan(r.val_loss) ? fmt::format("{:.6f}", r.val_loss) : "";
}

}  // namespace

std::optional<TrialResult> sweep_write_leaderboard(const SweepPlan& plan,
                                                   const std::vector<TrialResult>& ranked) {
    std::string csv = "rank,trial";
    std::string md = fmt::format(
        "# Sweep {}\n\nMetric: final validation loss (lower is better). "
        "Base config: `{}`.\n\n| rank | trial |",
        plan.name, plan.base_config.string());
    for (const auto& key : plan.param_keys) {
        csv += ',';  // not "," + ...: GCC 12 -O3 reports a false -Wrestrict
        csv += csv_field(key);
        md += fmt::format(" {} |", key);
    }
    csv += ",val_loss,steps,time_s,status\n";
    md += " val loss | steps | time (s) | status |\n|---|---|";
    for (size_t k = 0; k < plan.param_keys.size(); ++k) {
        md += "---|";
    }
    md += "---|---|---|---|\n";
    int rank = 0;
    for (const TrialResult& r : ranked) {
        ++rank;
        const std::string name = sweep_trial_name(r.trial.index);
        const char* status = r.finished ? "finished" : "unfinished";
        csv += fmt::format("{},{}", rank, name);
        md += fmt::format("| {} | {} |", rank, name);
        for (const auto& [key, value] : r.trial.params) {
            csv += ',';
            csv += csv_field(value);
            md += fmt::format(" {} |", value);
        }
        csv += fmt::format(",{},{},{:.1f},{}\n", loss_text(r), r.steps, r.time_s, status);
        md += fmt::format(" {} | {} | {:.1f} | {} |\n", loss_text(r), r.steps, r.time_s, status);
    }
    io::write_file_atomic(plan.dir / "leaderboard.csv", csv);
    io::write_file_atomic(plan.dir / "leaderboard.md", md);

    if (ranked.empty() || !ranked.front().finished || std::isnan(ranked.front().val_loss)) {
        return std::nullopt;
    }
    const TrialResult& best = ranked.front();
    const fs::path target = fs::path(sweep_trial_name(best.trial.index)) / "adapter";
    const fs::path link = plan.dir / "best", tmp = plan.dir / ".best.tmp";
    std::error_code ec;
    fs::remove(tmp, ec);
    fs::create_directory_symlink(target, tmp, ec);
    QF_CHECK(!ec, "{}: cannot create symlink: {}", tmp.string(), ec.message());
    fs::rename(tmp, link, ec);  // rename(2) replaces an existing link atomically
    QF_CHECK(!ec, "{}: cannot replace: {}", link.string(), ec.message());
    return best;
}

}  // namespace qforge::launcher
