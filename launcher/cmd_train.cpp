// What is here: `qforge train <config.yaml> [--set key=value ...] [--resume]`: QLoRA
// fine-tuning on a GPU or the CPU, one process or many MPI ranks (mpirun/srun). Rank 0 shows
// the progress bar and writes the run directory; an error on any rank ends the whole job.
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fmt/format.h>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kernels/common.h"
#include "launcher/abort_on_error.h"
#include "launcher/commands.h"
#include "launcher/config.h"
#include "launcher/progress.h"
#include "launcher/train_index.h"
#include "parallel/device_memory.h"
#include "parallel/mpi_collective.h"
#include "parallel/nccl_collective.h"
#include "runtime/train/trainer.h"

namespace qforge::launcher {

namespace {

struct TrainArgs {
    std::string config;
    std::vector<std::string> overrides;
    bool resume = false;
    std::string resume_dir;  // optional: the run directory to continue
    int64_t stop_after = 0;
    std::string init, shape, device;  // shorthands for model.init, model.shape, train.device
};

std::string fmt_loss(double x) {
    return std::isnan(x) ? "n/a" : fmt::format("{:.4f}", x);
}

void run_train(const TrainArgs& args) {
    std::vector<std::string> overrides;
    for (const auto& [key, value] :
         {std::pair{"model.init", &args.init}, std::pair{"model.shape", &args.shape},
          std::pair{"train.device", &args.device}}) {
        if (!value->empty()) {
            overrides.push_back(fmt::format("{}={}", key, *value));
        }
    }
    overrides.insert(overrides.end(), args.overrides.begin(), args.overrides.end());
    train::TrainConfig cfg = load_train_config(args.config, overrides);
    if (!args.resume_dir.empty()) {  // --resume runs/<name>: that directory is the run
        const std::filesystem::path dir = std::filesystem::path(args.resume_dir).lexically_normal();
        QF_CHECK(std::filesystem::is_directory(dir), "--resume {}: no such run directory",
                 args.resume_dir);
        cfg.run.output_dir = dir.has_parent_path() ? dir.parent_path().string() : ".";
        cfg.run.name = dir.filename().string();
    }
    validate_train_config(cfg);

    std::optional<parallel::MpiSession> mpi;
    std::unique_ptr<train::Collective> coll;
    if (parallel::launched_by_mpi()) {
        mpi.emplace(nullptr, nullptr);
        const std::size_t bucket = parallel::bucket_bytes_from_mb(cfg.distributed.bucket_mb);
        const bool gpu = cfg.train.device == "cuda" ||
                         (cfg.train.device == "auto" && parallel::cuda_device_count() > 0);
        const auto& topo = mpi->topology();
        if (gpu && topo.local_world <= parallel::cuda_device_count()) {
            // One GPU per local rank: NCCL (it selects the GPU before anything is allocated).
            parallel::NcclOptions nccl;
            nccl.bucket_bytes = bucket;
            coll = std::make_unique<parallel::NcclCollective>(MPI_COMM_WORLD, nccl);
        } else {
            // CPU ranks, or more ranks than GPUs on a node (NCCL refuses two ranks on one GPU):
            // MPI, staging GPU gradients through pinned host memory.
            auto mpi_coll = std::make_unique<parallel::MpiCollective>(MPI_COMM_WORLD, bucket);
            mpi_coll->set_device_buffers(gpu);
            coll = std::move(mpi_coll);
        }
    } else {
        coll = std::make_unique<train::LocalCollective>();
    }
    const bool lead = coll->rank() == 0;

    std::unique_ptr<ProgressBar> bar;
    train::TrainObserver obs;
    obs.on_message = [&](const std::string& line) {
        if (!lead) {
            return;
        }
        if (bar) {
            bar->message(line);
        } else {
            std::fprintf(stderr, "[qforge] %s\n", line.c_str());
        }
    };
    obs.on_start = [&](int64_t start, int64_t total) {
        if (lead) {
            bar = std::make_unique<ProgressBar>("train", total);
            bar->update(start);
        }
    };
    obs.on_step = [&](const train::StepMetrics& m) {
        if (lead && bar) {
            bar->update(m.step, {{"loss", fmt_loss(m.loss)},
                                 {"lr", fmt::format("{:.2e}", m.lr)},
                                 {"tok/s", fmt::format("{:.0f}", m.tokens_per_s)}});
        }
    };
    obs.on_eval = [&](const train::EvalMetrics& e) {
        obs.on_message(fmt::format("step {}: validation loss {}", e.step, fmt_loss(e.val_loss)));
    };

    if (lead) {
        std::fprintf(
            stderr, "[qforge] train %s: %d rank(s), global batch %lld x %lld tokens\n",
            cfg.run.name.c_str(), coll->world(),
            static_cast<long long>(cfg.train.micro_batch * cfg.train.grad_accum * coll->world()),
            static_cast<long long>(cfg.data.seq_len));
    }
    // with several ranks the others would wait forever in a collective
    const bool several_ranks = coll->world() > 1;
    const train::TrainSummary s = run_or_abort_job(several_ranks, [&] {
        return train::train_run(cfg, train_config_to_yaml(cfg), {args.resume, args.stop_after},
                                *coll, obs);
    });
    if (bar) {
        bar->finish();
    }
    if (lead) {
        std::printf("run directory:     %s\n", s.run_dir.string().c_str());
        std::printf("adapter (PEFT):    %s\n", s.adapter_dir.string().c_str());
        std::printf("steps:             %lld%s\n", static_cast<long long>(s.steps),
                    s.finished ? "" : " (stopped early: continue with --resume)");
        std::printf("held-out loss:     %s -> %s\n", fmt_loss(s.initial_val_loss).c_str(),
                    fmt_loss(s.final_val_loss).c_str());
        std::printf("throughput:        %.0f tokens/s (%d rank(s), %s)\n", s.tokens_per_s,
                    coll->world(), s.device.c_str());
        if (s.peak_device_gib > 0) {
            std::printf("peak GPU memory:   %.2f GiB (qforge buffers, rank 0)\n",
                        s.peak_device_gib);
        }
        std::printf("metrics / plot:    %s, %s\n", (s.run_dir / "metrics.jsonl").string().c_str(),
                    (s.run_dir / "loss.png").string().c_str());
    }
    // the config's index: section (rank 0 writes; every rank embeds its share)
    run_or_abort_job(several_ranks, [&] { build_index_after_train(cfg, s.run_dir, *coll); });
}

}  // namespace

void register_train(CLI::App& app) {
    static TrainArgs args;
    auto* sub = app.add_subcommand(
        "train", "QLoRA fine-tuning from a YAML config (run under mpirun/srun for several ranks)");
    sub->add_option("config", args.config, "Training config (YAML); see docs/config.md")
        ->required()
        ->check(CLI::ExistingFile);
    sub->add_option("--set", args.overrides, "Override a config key: --set lora.r=16 (repeatable)")
        ->allow_extra_args(false);
    auto* resume = sub->add_option("--resume", args.resume_dir,
                                   "Continue from the newest checkpoint of the run (optionally "
                                   "naming its directory, e.g. runs/quickstart)")
                       ->expected(0, 1);
    sub->add_option("--stop-after", args.stop_after,
                    "Checkpoint and exit after N optimizer steps of this invocation (for "
                    "time-limited jobs); continue later with --resume")
        ->check(CLI::NonNegativeNumber);
    sub->add_option(
        "--init", args.init,
        "Same as --set model.init=...: pretrained, or random (benchmarks; with --shape)");
    sub->add_option(
        "--shape", args.shape,
        "Same as --set model.shape=...: llama3-8b, llama3-1b or tiny (with --init random)");
    sub->add_option("--device", args.device, "Same as --set train.device=...: auto, cpu or cuda");
    add_command(app, sub, [resume] {
        args.resume = resume->count() > 0;
        run_train(args);
    });
}

}  // namespace qforge::launcher
