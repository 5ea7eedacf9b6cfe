// What is here: whole `qforge train` jobs under mpirun on the shipped stories260K model:
//   - rank equivalence: 1 rank x grad_accum 2 and 2 ranks x grad_accum 1 (same global batch
//     of 4 rows) follow the same loss trajectory. The loader deals permutation position p to
//     rank p % world; 1 rank takes positions 4s..4s+3 in step s as two micro-batches, 2 ranks
//     take {4s, 4s+2} and {4s+1, 4s+3}: the same rows each step, summed in another order.
//   - failure: one rank killed with SIGKILL mid-run ends the whole job within seconds with a
//     non-zero exit; the last checkpoint stays loadable and --resume finishes the run.
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <gtest/gtest.h>
#include <iterator>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "parallel/e2e/e2e_support.h"
#include "support/test_support.h"

namespace qforge::test {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

// /proc/<pid>/stat field 4 (ppid); 0 when unreadable.
int parent_of(int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), {});
    const auto close = stat.rfind(')');  // the command name may hold spaces
    if (close == std::string::npos) {
        return 0;
    }
    char state = 0;
    int ppid = 0;
    std::sscanf(stat.c_str() + close + 1, " %c %d", &state, &ppid);
    return ppid;
}

bool has_env(int pid, const std::string& entry) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
    std::string env((std::istreambuf_iterator<char>(in)), {});
    return env.find(std::string(1, '\0') + entry + '\0') != std::string::npos ||
           env.rfind(entry + '\0', 0) == 0;
}

// The pid of the process with `entry` in its environment among the descendants of `root`.
int find_descendant(int root, const std::string& entry) {
    for (const auto& e : fs::directory_iterator("/proc")) {
        const std::string name = e.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) {
            continue;
        }
        const int pid = std::stoi(name);
        for (int p = parent_of(pid), depth = 0; p > 1 && depth < 8; p = parent_of(p), ++depth) {
            if (p == root) {
                if (has_env(pid, entry)) {
                    return pid;
                }
                break;
            }
        }
    }
    return 0;
}

}  // namespace

TEST(DistributedTrain, TwoRanksMatchOneRankWithTheSameGlobalBatch) {
    TempDir tmp;
    // On a GPU: TF32 GEMMs, since the 1e-4 bound below checks the distributed sum and sits under
    // the default bf16 operands' rounding (1 vs 2 rows per GEMM round differently there).
    const auto one = run_command(
        qforge_job(0, tiny_train_args(tmp.path(), "one",
                                      {"train.max_steps=6", "train.micro_batch=2",
                                       "train.grad_accum=2", "train.matmul_precision=tf32"})));
    ASSERT_EQ(one.exit_code, 0) << one.err;
    const auto two = run_command(
        qforge_job(2, tiny_train_args(tmp.path(), "two",
                                      {"train.max_steps=6", "train.micro_batch=2",
                                       "train.grad_accum=1", "train.matmul_precision=tf32"})));
    ASSERT_EQ(two.exit_code, 0) << two.err;
    EXPECT_NE(two.err.find("2 rank(s), global batch 4 x 64"), std::string::npos) << two.err;

    const Metrics a = read_metrics(tmp.path() / "one"), b = read_metrics(tmp.path() / "two");
    ASSERT_EQ(a.loss.size(), 6u);
    ASSERT_EQ(b.loss.size(), 6u);
    for (const auto& [step, loss] : a.loss) {
        const double other = b.loss.at(step);
        EXPECT_LE(std::abs(loss - other), 1e-4 * std::abs(loss))
            << "step " << step << ": 1 rank " << loss << ", 2 ranks " << other;
    }
    // The loss moves, so agreement is not the trivial agreement of an untrained model.
    EXPECT_GT(std::abs(a.loss.begin()->second - a.loss.rbegin()->second), 1e-3);
    ASSERT_EQ(a.val_loss.size(), b.val_loss.size());
    for (const auto& [step, loss] : a.val_loss) {
        EXPECT_LE(std::abs(loss - b.val_loss.at(step)), 1e-4 * std::abs(loss)) << "val " << step;
    }
}

TEST(DistributedTrain, KilledRankEndsTheJobAndResumeFinishesIt) {
    TempDir tmp;
    const std::string args = tiny_train_args(tmp.path(), "killed",
                                             {"train.max_steps=30", "train.micro_batch=2",
                                              "checkpoint.every=2", "checkpoint.keep_last=2"});
    const fs::path run = tmp.path() / "killed";
    const fs::path log = tmp.path() / "job.log";

    const pid_t job = fork();
    ASSERT_GE(job, 0);
    if (job == 0) {
        setpgid(0, 0);  // its own process group, so a hung job can be killed whole
        const std::string cmd = qforge_job(2, args) + " >'" + log.string() + "' 2>&1";
        execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    setpgid(job, job);
    bool reaped = false;

    struct Reaper {  // on any early return, no job is left running
        pid_t pid;
        bool& reaped;

        ~Reaper() {
            if (!reaped) {
                kill(-pid, SIGKILL);
                waitpid(pid, nullptr, 0);
            }
        }
    } reaper{job, reaped};

    // Wait for the first checkpoint, then kill rank 1 while training goes on.
    const auto t0 = Clock::now();
    while (!fs::exists(run / "checkpoint-2") && Clock::now() - t0 < std::chrono::seconds(90)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_TRUE(fs::exists(run / "checkpoint-2")) << "no checkpoint within 90 s\n"
                                                  << run_command("cat '" + log.string() + "'").out;
    const int victim = find_descendant(job, "OMPI_COMM_WORLD_RANK=1");
    ASSERT_GT(victim, 0) << "rank 1 not found among the descendants of " << job;
    ASSERT_EQ(kill(victim, SIGKILL), 0);
    const auto t_kill = Clock::now();

    int status = 0;
    pid_t done = 0;
    while ((done = waitpid(job, &status, WNOHANG)) == 0 &&
           Clock::now() - t_kill < std::chrono::seconds(30)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_NE(done, 0) << "the job was still running 30 s after rank 1 died";
    reaped = true;
    const double secs = std::chrono::duration<double>(Clock::now() - t_kill).count();
    EXPECT_LT(secs, 10.0) << "the job took " << secs << " s to end";
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0)
        << "status " << status << "\n"
        << run_command("cat '" + log.string() + "'").out;
    EXPECT_FALSE(fs::exists(run / "adapter")) << "the job finished before the kill";

    // The newest checkpoint loads and the run continues from it to the end.
    const auto resumed = run_command(qforge_job(2, args + " --resume"));
    ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
    EXPECT_NE(resumed.err.find("resuming from"), std::string::npos) << resumed.err;
    EXPECT_TRUE(fs::exists(run / "adapter" / "adapter_model.safetensors"));
    const Metrics m = read_metrics(run);
    ASSERT_FALSE(m.loss.empty());
    EXPECT_EQ(m.loss.rbegin()->first, 30);

    // Same data order after the resume: the steps after the checkpoint repeat, bit for bit,
    // those of a run that was never interrupted.
    const std::string whole_args =
        tiny_train_args(tmp.path(), "whole",
                        {"train.max_steps=30", "train.micro_batch=2", "checkpoint.every=2",
                         "checkpoint.keep_last=2"});
    const auto whole = run_command(qforge_job(2, whole_args));
    ASSERT_EQ(whole.exit_code, 0) << whole.err;
    const Metrics w = read_metrics(tmp.path() / "whole");
    for (int64_t step = 3; step <= 30; ++step) {
        EXPECT_EQ(m.loss.at(step), w.loss.at(step)) << "step " << step;
    }
    EXPECT_EQ(m.val_loss.at(30), w.val_loss.at(30));
}

}  // namespace qforge::test
