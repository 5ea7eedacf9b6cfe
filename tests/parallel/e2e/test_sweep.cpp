// What is here: `qforge sweep` as a whole job: 4 tiny grid trials on `mpirun -np 2` with
// one rank per trial (two groups taking trials from rank 0's work queue), checking that each
// trial is trained exactly once, the trial directories, the leaderboard against each trial's
// own metrics, the `best` link, and that a second run skips every finished trial; then a
// 2-rank trial group (ranks_per_trial 2) that trains one trial and resumes another that an
// interrupted earlier job left with a checkpoint; a failing trial; a bad sweep file.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <gtest/gtest.h>
#include <sstream>
#include <string>
#include <vector>

#include "parallel/e2e/e2e_support.h"
#include "support/test_support.h"

namespace qforge::test {

namespace fs = std::filesystem;

namespace {

std::vector<std::vector<std::string>> read_csv(const fs::path& path) {
    std::ifstream in(path);
    std::vector<std::vector<std::string>> rows;
    std::string line;
    while (std::getline(in, line)) {
        std::vector<std::string> cells;
        std::stringstream ss(line);
        std::string cell;
        while (std::getline(ss, cell, ',')) {
            cells.push_back(cell);
        }
        rows.push_back(cells);
    }
    return rows;
}

size_t count(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
        ++n;
    }
    return n;
}

}  // namespace

TEST(Sweep, GridOnTwoRanksWritesLeaderboardAndBestAndSkipsFinishedTrials) {
    TempDir tmp;
    const fs::path file = tmp.path() / "tiny.yaml";
    std::ofstream(file) << "sweep:\n"
                           "  name: tiny\n"
                           "  output_dir: "
                        << tmp.path().string()
                        << "\n"
                           "  base: "
                        << QFORGE_SOURCE_DIR
                        << "/configs/quickstart.yaml\n"
                           "  set:\n"
                           "    train.max_steps: 3\n"
                           "    train.micro_batch: 2\n"
                           "    train.warmup_steps: 1\n"
                           "    train.eval_every: 0\n"
                           "    data.seq_len: 64\n"
                           "    data.train_on_responses_only: false\n"
                           "  metric: val_loss\n"
                           "  ranks_per_trial: 1\n"
                           "  search:\n"
                           "    method: grid\n"
                           "    params:\n"
                           "      train.lr: [1e-3, 1e-2]\n"
                           "      lora.r: [4, 8]\n";
    const auto first = run_command(qforge_job(2, "sweep " + file.string()));
    ASSERT_EQ(first.exit_code, 0) << first.err;
    const fs::path dir = tmp.path() / "tiny";
    EXPECT_NE(first.err.find("4 trial(s) to train, handed out by work queue"), std::string::npos)
        << first.err;
    // Every trial handed out once, to one of the two groups.
    EXPECT_EQ(count(first.err, ": training on 1 rank(s)"), 4u) << first.err;
    for (int k = 0; k < 4; ++k) {
        EXPECT_EQ(count(first.err, "trial-" + std::to_string(k) + " ("), 1u) << first.err;
    }

    // Trial k of the grid: lr varies slowest, r fastest.
    const std::vector<std::pair<std::string, std::string>> grid = {
        {"1e-3", "4"}, {"1e-3", "8"}, {"1e-2", "4"}, {"1e-2", "8"}};
    std::vector<double> losses;
    for (int k = 0; k < 4; ++k) {
        const fs::path trial = dir / ("trial-" + std::to_string(k));
        EXPECT_TRUE(fs::exists(trial / "adapter" / "adapter_model.safetensors")) << trial;
        const Metrics m = read_metrics(trial);
        ASSERT_FALSE(m.val_loss.empty()) << trial;
        EXPECT_EQ(m.val_loss.rbegin()->first, 3);
        EXPECT_EQ(m.loss.rbegin()->first, 3);
        losses.push_back(m.val_loss.rbegin()->second);
        std::ifstream cfg(trial / "config.yaml");
        const std::string text((std::istreambuf_iterator<char>(cfg)), {});
        EXPECT_NE(text.find("r: " + grid[static_cast<size_t>(k)].second), std::string::npos)
            << trial << "\n"
            << text;
    }
    // Different hyperparameters give different results.
    EXPECT_GT(*std::max_element(losses.begin(), losses.end()) -
                  *std::min_element(losses.begin(), losses.end()),
              1e-4);

    const auto csv = read_csv(dir / "leaderboard.csv");
    ASSERT_EQ(csv.size(), 5u);
    const std::vector<std::string> header = {"rank",     "trial", "train.lr", "lora.r",
                                             "val_loss", "steps", "time_s",   "status"};
    EXPECT_EQ(csv[0], header);
    double previous = -1.0;
    for (size_t i = 1; i < csv.size(); ++i) {
        ASSERT_EQ(csv[i].size(), header.size());
        EXPECT_EQ(csv[i][0], std::to_string(i));
        const int k = std::stoi(csv[i][1].substr(std::string("trial-").size()));
        ASSERT_GE(k, 0);
        ASSERT_LT(k, 4);
        EXPECT_EQ(csv[i][2], grid[static_cast<size_t>(k)].first);
        EXPECT_EQ(csv[i][3], grid[static_cast<size_t>(k)].second);
        const double loss = std::stod(csv[i][4]);
        EXPECT_NEAR(loss, losses[static_cast<size_t>(k)], 1e-6);
        EXPECT_GE(loss, previous) << "leaderboard not sorted by val_loss";
        previous = loss;
        EXPECT_EQ(csv[i][5], "3");
        EXPECT_EQ(csv[i][7], "finished");
    }
    const auto best_k = std::min_element(losses.begin(), losses.end()) - losses.begin();
    EXPECT_EQ(csv[1][1], "trial-" + std::to_string(best_k));
    ASSERT_TRUE(fs::is_symlink(dir / "best"));
    EXPECT_EQ(fs::canonical(dir / "best"),
              fs::canonical(dir / ("trial-" + std::to_string(best_k)) / "adapter"));
    std::ifstream md(dir / "leaderboard.md");
    const std::string board((std::istreambuf_iterator<char>(md)), {});
    EXPECT_NE(board.find("| 1 | trial-" + std::to_string(best_k) + " |"), std::string::npos)
        << board;

    // Again: every trial is found finished and skipped; the board is rebuilt the same.
    const auto second = run_command(qforge_job(2, "sweep " + file.string()));
    ASSERT_EQ(second.exit_code, 0) << second.err;
    EXPECT_EQ(count(second.err, "finished earlier, skipped"), 4u) << second.err;
    EXPECT_EQ(read_csv(dir / "leaderboard.csv"), csv);
}

// Two trials on ranks_per_trial 2 (one group of both ranks). Trial 1 was started earlier by a
// 2-rank job that stopped after 2 of its 4 steps (--stop-after, as a job killed by its time
// limit after a checkpoint): the sweep trains trial 0, resumes trial 1 from its checkpoint,
// and both end with 4 steps on the leaderboard.
TEST(Sweep, TwoRanksPerTrialTrainsAndResumesAnInterruptedTrial) {
    TempDir tmp;
    const std::vector<std::string> sets = {"train.max_steps: 4",
                                           "train.micro_batch: 2",
                                           "train.warmup_steps: 1",
                                           "train.eval_every: 0",
                                           "checkpoint.every: 1",
                                           "data.seq_len: 64",
                                           "data.train_on_responses_only: false"};
    const fs::path file = tmp.path() / "pairs.yaml";
    {
        std::ofstream out(file);
        out << "sweep:\n  name: pairs\n  output_dir: " << tmp.path().string()
            << "\n  base: " << QFORGE_SOURCE_DIR << "/configs/quickstart.yaml\n  set:\n";
        for (const auto& s : sets) {
            out << "    " << s << "\n";
        }
        out << "  ranks_per_trial: 2\n  search:\n    params:\n      train.lr: [1e-3, 1e-2]\n";
    }
    const fs::path dir = tmp.path() / "pairs";
    std::string partial =
        "train " + std::string(QFORGE_SOURCE_DIR) +
        "/configs/quickstart.yaml --stop-after 2 --set run.output_dir=" + dir.string() +
        " --set run.name=trial-1 --set train.lr=1e-2";
    for (const auto& s : sets) {
        const auto colon = s.find(": ");
        partial += " --set " + s.substr(0, colon) + "=" + s.substr(colon + 2);
    }
    const auto stopped = run_command(qforge_job(2, partial));
    ASSERT_EQ(stopped.exit_code, 0) << stopped.err;
    ASSERT_TRUE(fs::exists(dir / "trial-1" / "checkpoint-2"));
    ASSERT_FALSE(fs::exists(dir / "trial-1" / "adapter"));

    const auto r = run_command(qforge_job(2, "sweep " + file.string()));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("1 group(s) of 2 rank(s)"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("trial-0 (train.lr=1e-3): training on 2 rank(s)"), std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("trial-1 (train.lr=1e-2): resuming on 2 rank(s)"), std::string::npos)
        << r.err;
    for (int k = 0; k < 2; ++k) {
        const fs::path trial = dir / ("trial-" + std::to_string(k));
        EXPECT_TRUE(fs::exists(trial / "adapter" / "adapter_model.safetensors")) << trial;
        const Metrics m = read_metrics(trial);
        ASSERT_EQ(m.loss.size(), 4u) << trial;  // steps 1..4, the resumed ones appended once
        EXPECT_EQ(m.loss.begin()->first, 1);
        EXPECT_EQ(m.loss.rbegin()->first, 4);
        ASSERT_FALSE(m.val_loss.empty());
        EXPECT_EQ(m.val_loss.rbegin()->first, 4);
    }
    const auto csv = read_csv(dir / "leaderboard.csv");
    ASSERT_EQ(csv.size(), 3u);
    for (size_t i = 1; i < csv.size(); ++i) {
        ASSERT_EQ(csv[i].size(), 7u);
        EXPECT_EQ(csv[i][4], "4");
        EXPECT_EQ(csv[i][6], "finished");
    }
    EXPECT_TRUE(fs::is_symlink(dir / "best"));
    EXPECT_EQ(fs::canonical(dir / "best"), fs::canonical(dir / csv[1][1] / "adapter"));
}

// A trial that fails inside train_run on one group only (200 rows per micro-batch: more than
// the 136 train rows; the other group trains the good trial): the rank that took it (either
// one: the queue hands out trials as groups ask) reports the error with the trial, aborts,
// and the whole job ends non-zero without a leaderboard.
TEST(Sweep, ErrorInOneGroupEndsTheWholeJob) {
    TempDir tmp;
    const fs::path file = tmp.path() / "fails.yaml";
    std::ofstream(file) << "sweep:\n"
                           "  output_dir: "
                        << tmp.path().string()
                        << "\n"
                           "  base: "
                        << QFORGE_SOURCE_DIR
                        << "/configs/quickstart.yaml\n"
                           "  set:\n"
                           "    train.max_steps: 200\n"
                           "    data.seq_len: 64\n"
                           "    data.train_on_responses_only: false\n"
                           "  search:\n"
                           "    params:\n"
                           "      train.micro_batch: [2, 200]\n";
    const auto r = run_command(qforge_job(2, "sweep " + file.string()));
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("qforge: error on rank "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("trial-1 (train.micro_batch=200)"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("cannot fill one micro-batch of 200"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(tmp.path() / "fails" / "trial-0" / "adapter"))
        << "trial 0 (200 steps) should have been cut short by the abort";
    EXPECT_FALSE(fs::exists(tmp.path() / "fails" / "leaderboard.csv"));
}

TEST(Sweep, BadSweepFileIsOneClearError) {
    TempDir tmp;
    const fs::path file = tmp.path() / "bad.yaml";
    std::ofstream(file) << "sweep:\n"
                           "  base: "
                        << QFORGE_SOURCE_DIR
                        << "/configs/quickstart.yaml\n"
                           "  search:\n"
                           "    params:\n"
                           "      train.lr: []\n";
    const auto r = run_command(qforge_job(0, "sweep " + file.string()));
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("bad.yaml:5: search.params.train.lr: a grid needs a non-empty list"),
              std::string::npos)
        << r.err;

    std::ofstream(file) << "sweep:\n"
                           "  base: "
                        << QFORGE_SOURCE_DIR
                        << "/configs/quickstart.yaml\n"
                           "  search:\n"
                           "    params:\n"
                           "      train.lrr: [1e-3]\n";
    const auto typo = run_command(qforge_job(0, "sweep " + file.string()));
    EXPECT_NE(typo.exit_code, 0);
    EXPECT_NE(typo.err.find("trial-0"), std::string::npos) << typo.err;
    EXPECT_NE(typo.err.find("train.lrr"), std::string::npos) << typo.err;
}

}  // namespace qforge::test
