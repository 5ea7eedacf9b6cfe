// What is here: `qforge sweep <sweep.yaml>`: a hyperparameter sweep on one MPI job. The world
// is split into groups of ranks_per_trial ranks (MPI_Comm_split); rank 0 hands out the trials
// that are not finished yet from a work queue (parallel::TrialQueue) as groups free up, and
// trains in its own group too (a coordinator thread answers the other groups). Each trial is
// one train_run over its group's communicator, in <sweep dir>/trial-<k>; finished trials are
// skipped when the sweep is run again and unfinished ones with a checkpoint resume from it.
// At the end rank 0 writes the leaderboard and the `best` link.
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fmt/format.h>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <mpi.h>

#include "kernels/common.h"
#include "launcher/abort_on_error.h"
#include "launcher/commands.h"
#include "launcher/config.h"
#include "launcher/sweep_plan.h"
#include "launcher/sweep_results.h"
#include "parallel/mpi_check.h"
#include "parallel/mpi_collective.h"
#include "parallel/trial_queue.h"
#include "runtime/train/checkpoint.h"
#include "runtime/train/trainer.h"

namespace qforge::launcher {

namespace {

namespace fs = std::filesystem;

struct SweepArgs {
    std::string file;
};

std::string params_text(const SweepTrial& t) {
    std::string s;
    for (const auto& [key, value] : t.params) {
        s += (s.empty() ? "" : " ") + key + "=" + value;
    }
    return s;
}

// The group's communicator, freed on every path out.
class GroupComm {
public:
    GroupComm(int color, int key) {
        QF_MPI_CHECK(MPI_Comm_split(MPI_COMM_WORLD, color, key, &comm_));
    }

    ~GroupComm() { MPI_Comm_free(&comm_); }

    GroupComm(const GroupComm&) = delete;
    GroupComm& operator=(const GroupComm&) = delete;

    MPI_Comm get() const { return comm_; }

private:
    MPI_Comm comm_ = MPI_COMM_NULL;
};

// The group lead's decision, so that every rank of the group acts on the same one even if
// their views of a shared file system lag (a broadcast through the sum all-reduce).
double group_agree(train::Collective& coll, double lead_value) {
    double v[1] = {coll.rank() == 0 ? lead_value : 0.0};
    coll.allreduce_sum(v, 1);
    return v[0];
}

// Trains trial k of the plan on this group: resumes it when the group lead sees a checkpoint.
void run_trial(const SweepPlan& plan, const train::TrainConfig& cfg, const SweepTrial& trial,
               train::Collective& coll, int group) {
    const bool group_lead = coll.rank() == 0;
    auto say = [&](const std::string& line) {
        if (group_lead) {
            std::fprintf(stderr, "[sweep group %d] %s\n", group, line.c_str());
        }
    };
    const fs::path run_dir = fs::path(cfg.run.output_dir) / cfg.run.name;
    const bool resume =
        group_agree(coll, train::checkpoint_latest(run_dir).has_value() ? 1.0 : 0.0) > 0.5;
    say(fmt::format("{} ({}): {} on {} rank(s)", cfg.run.name, params_text(trial),
                    resume ? "resuming" : "training", coll.world()));
    try {
        const auto s = train::train_run(cfg, train_config_to_yaml(cfg), {resume}, coll, {});
        say(fmt::format("{}: validation loss {:.4f} -> {:.4f} after {} steps", cfg.run.name,
                        s.initial_val_loss, s.final_val_loss, s.steps));
    } catch (const Error& e) {
        throw Error(fmt::format("sweep {} {} ({}): {}", plan.name, cfg.run.name, params_text(trial),
                                e.what()));
    }
}

// Rank 0 reads what is on disk once: the trials to train now, in index order.
std::vector<int> pending_trials(const SweepPlan& plan) {
    std::vector<int> pending;
    for (const SweepTrial& t : plan.trials) {
        if (sweep_trial_result(plan, t).finished) {
            std::fprintf(stderr, "[sweep] %s (%s): finished earlier, skipped\n",
                         sweep_trial_name(t.index).c_str(), params_text(t).c_str());
        } else {
            pending.push_back(t.index);
        }
    }
    return pending;
}

// The MPI job: groups of G ranks take trials from rank 0's queue until it is empty.
void run_groups(const SweepPlan& plan, const std::vector<train::TrainConfig>& configs,
                const parallel::MpiSession& mpi) {
    const int rank = mpi.topology().rank, G = plan.ranks_per_trial;
    const int group = rank / G;
    const std::vector<int> pending = rank == 0 ? pending_trials(plan) : std::vector<int>{};
    GroupComm comm(group, rank);
    parallel::TrialQueue queue(MPI_COMM_WORLD, pending, G, mpi.thread_multiple());
    if (rank == 0) {
        std::fprintf(stderr, "[qforge] sweep %s: %zu trial(s) to train, handed out by %s\n",
                     plan.name.c_str(), pending.size(), queue.mode());
    }
    for (;;) {
        int k = rank % G == 0 ? queue.next() : 0;
        QF_MPI_CHECK(MPI_Bcast(&k, 1, MPI_INT, 0, comm.get()));
        if (k < 0) {
            break;
        }
        const auto at = static_cast<std::size_t>(k);
        parallel::MpiCollective coll(
            comm.get(), parallel::bucket_bytes_from_mb(configs[at].distributed.bucket_mb));
        run_trial(plan, configs[at], plan.trials[at], coll, group);
    }
}

void run_sweep(const SweepArgs& args) {
    const SweepPlan plan = sweep_plan_load(args.file);
    // Every trial's config is resolved and validated up front, so a bad key or value in the
    // sweep fails at once instead of after hours of earlier trials.
    std::vector<train::TrainConfig> configs;
    for (const SweepTrial& t : plan.trials) {
        train::TrainConfig cfg;
        try {
            cfg = load_train_config(plan.base_config, sweep_trial_overrides(plan, t));
            validate_train_config(cfg);
        } catch (const Error& e) {
            throw Error(fmt::format("{}: {} ({}): {}", args.file, sweep_trial_name(t.index),
                                    params_text(t), e.what()));
        }
        configs.push_back(std::move(cfg));
    }

    std::optional<parallel::MpiSession> mpi;
    int rank = 0, world = 1;
    if (parallel::launched_by_mpi()) {
        mpi.emplace(nullptr, nullptr, /*thread_multiple=*/true);
        rank = mpi->topology().rank;
        world = mpi->topology().world;
    }
    const int G = plan.ranks_per_trial;
    QF_CHECK(world % G == 0,
             "{}: ranks_per_trial {} does not divide the {} rank(s) of this job (start it with "
             "a multiple of {} ranks)",
             args.file, G, world, G);
    if (rank == 0) {
        fs::create_directories(plan.dir);
        std::fprintf(stderr,
                     "[qforge] sweep %s: %zu %s trials, %d group(s) of %d rank(s), results in "
                     "%s\n",
                     plan.name.c_str(), plan.trials.size(), plan.method.c_str(), world / G, G,
                     plan.dir.string().c_str());
    }

    // with several ranks the other groups would wait forever at the final barrier
    run_or_abort_job(world > 1, [&] {
        if (mpi) {
            QF_MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD));
            run_groups(plan, configs, *mpi);
            QF_MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD));  // every group done before the board
        } else {
            train::LocalCollective coll;
            for (const int k : pending_trials(plan)) {
                const auto at = static_cast<std::size_t>(k);
                run_trial(plan, configs[at], plan.trials[at], coll, 0);
            }
        }
    });

    if (rank == 0) {
        std::vector<TrialResult> results;
        for (const SweepTrial& t : plan.trials) {
            results.push_back(sweep_trial_result(plan, t));
        }
        const auto ranked = sweep_rank(std::move(results));
        const auto best = sweep_write_leaderboard(plan, ranked);
        std::printf("leaderboard:       %s\n", (plan.dir / "leaderboard.md").string().c_str());
        if (best) {
            std::printf("best:              %s (%s), validation loss %.4f -> %s\n",
                        sweep_trial_name(best->trial.index).c_str(),
                        params_text(best->trial).c_str(), best->val_loss,
                        (plan.dir / "best").string().c_str());
        } else {
            std::printf("best:              none (no trial finished with a validation loss)\n");
        }
    }
}

}  // namespace

void register_sweep(CLI::App& app) {
    static SweepArgs args;
    auto* sub = app.add_subcommand(
        "sweep",
        "Hyperparameter sweep: trials of a base training config, trained by groups of MPI ranks");
    sub->add_option("sweep", args.file, "Sweep file (YAML); see docs/distributed.md")
        ->required()
        ->check(CLI::ExistingFile);
    add_command(app, sub, [] { run_sweep(args); });
}

}  // namespace qforge::launcher
