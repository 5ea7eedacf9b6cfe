// What is here: sweep_plan_load and the leaderboard order without running any training: the
// grid's order, random draws that repeat for the same seed and stay inside their ranges, the
// overrides a trial gets, and the errors a bad sweep file gets.
#include <cmath>
#include <fstream>
#include <gtest/gtest.h>
#include <limits>
#include <set>
#include <string>

#include "kernels/common.h"
#include "launcher/sweep_plan.h"
#include "launcher/sweep_results.h"
#include "support/test_support.h"

namespace qforge::test {

namespace fs = std::filesystem;

namespace {

fs::path write_sweep(const TempDir& tmp, const std::string& search) {
    const fs::path file = tmp.path() / "s.yaml";
    std::ofstream(file) << "sweep:\n  base: " << QFORGE_SOURCE_DIR
                        << "/configs/quickstart.yaml\n  search:\n"
                        << search;
    return file;
}

}  // namespace

TEST(SweepPlan, GridIsTheProductWithTheLastKeyFastest) {
    TempDir tmp;
    const auto plan = launcher::sweep_plan_load(write_sweep(tmp,
                                                            "    params:\n"
                                                            "      train.lr: [1e-3, 2e-3, 3e-3]\n"
                                                            "      lora.r: [4, 8]\n"
                                                            "      lora.target_modules: "
                                                            "[[q_proj], [q_proj, v_proj]]\n"));
    EXPECT_EQ(plan.name, "s");
    EXPECT_EQ(plan.dir, fs::path("runs") / "s");
    ASSERT_EQ(plan.trials.size(), 12u);
    EXPECT_EQ(plan.trials[0].params[0].second, "1e-3");
    EXPECT_EQ(plan.trials[1].params[2].second, "[q_proj, v_proj]");
    EXPECT_EQ(plan.trials[2].params[1].second, "8");
    EXPECT_EQ(plan.trials[11].params[0].second, "3e-3");
    std::set<std::string> seen;
    for (const auto& t : plan.trials) {
        seen.insert(t.params[0].second + t.params[1].second + t.params[2].second);
    }
    EXPECT_EQ(seen.size(), 12u);
    const auto sets = launcher::sweep_trial_overrides(plan, plan.trials[5]);
    EXPECT_EQ(sets.back(), "run.name=trial-5");
    EXPECT_EQ(sets[sets.size() - 2], "run.output_dir=" + (fs::path("runs") / "s").string());
}

TEST(SweepPlan, RandomDrawsRepeatAndStayInRange) {
    TempDir tmp;
    const std::string search =
        "    method: random\n    trials: 40\n    seed: 7\n    params:\n"
        "      train.lr: {min: 1e-4, max: 1e-2, log: true}\n"
        "      lora.alpha: {min: 8, max: 32, int: true}\n"
        "      lora.r: [4, 8, 16]\n";
    const auto a = launcher::sweep_plan_load(write_sweep(tmp, search));
    const auto b = launcher::sweep_plan_load(write_sweep(tmp, search));
    ASSERT_EQ(a.trials.size(), 40u);
    std::set<std::string> rs;
    int small_lr = 0;
    for (size_t i = 0; i < a.trials.size(); ++i) {
        EXPECT_EQ(a.trials[i].params, b.trials[i].params);
        const double lr = std::stod(a.trials[i].params[0].second);
        EXPECT_GE(lr, 1e-4 * (1 - 1e-5));
        EXPECT_LE(lr, 1e-2 * (1 + 1e-5));
        small_lr += lr < 1e-3 ? 1 : 0;  // log-uniform: about half below the geometric middle
        const std::string alpha = a.trials[i].params[1].second;
        EXPECT_EQ(alpha.find_first_not_of("0123456789"), std::string::npos) << alpha;
        EXPECT_GE(std::stoi(alpha), 8);
        EXPECT_LE(std::stoi(alpha), 32);
        rs.insert(a.trials[i].params[2].second);
    }
    EXPECT_GT(small_lr, 8);
    EXPECT_LT(small_lr, 32);
    EXPECT_EQ(rs, (std::set<std::string>{"4", "8", "16"}));
    const auto c = launcher::sweep_plan_load(
        write_sweep(tmp,
                    "    method: random\n    trials: 40\n    seed: 8\n    params:\n"
                    "      train.lr: {min: 1e-4, max: 1e-2, log: true}\n"));
    EXPECT_NE(c.trials[0].params[0].second, a.trials[0].params[0].second);
}

TEST(SweepPlan, BadFilesNameTheLineAndField) {
    TempDir tmp;
    auto error_of = [&](const std::string& search) {
        try {
            launcher::sweep_plan_load(write_sweep(tmp, search));
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    EXPECT_NE(error_of("    method: random\n    trials: 2\n    params:\n"
                       "      train.lr: {min: 0, max: 1e-2, log: true}\n")
                  .find("s.yaml:7: search.params.train.lr: a log range needs min > 0"),
              std::string::npos);
    EXPECT_NE(error_of("    method: random\n    params:\n      train.lr: [1]\n")
                  .find("random search needs `trials`"),
              std::string::npos);
    EXPECT_NE(error_of("    method: bayes\n    params:\n      train.lr: [1]\n")
                  .find("expected grid or random, got \"bayes\""),
              std::string::npos);
    EXPECT_NE(error_of("    params:\n      run.name: [a, b]\n").find("the sweep sets run.name"),
              std::string::npos);
    EXPECT_NE(
        error_of("    params:\n      train.lr: [1]\n    sed: 3\n").find("search.sed: unknown key"),
        std::string::npos);
}

TEST(SweepPlan, RankPutsUnfinishedAndNanLast) {
    auto result = [](int index, bool finished, double loss) {
        launcher::TrialResult r;
        r.trial.index = index;
        r.finished = finished;
        r.val_loss = loss;
        return r;
    };
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const auto ranked =
        launcher::sweep_rank({result(0, true, 2.5), result(1, false, 0.1), result(2, true, nan),
                              result(3, true, 1.5), result(4, true, 2.5)});
    std::vector<int> order;
    for (const auto& r : ranked) {
        order.push_back(r.trial.index);
    }
    EXPECT_EQ(order, (std::vector<int>{3, 0, 4, 1, 2}));
}

}  // namespace qforge::test
