// What is here: the QLoRA training loop. One optimizer step = grad_accum micro-batches on
// every rank, so global batch = micro_batch x grad_accum x ranks; the loss is the mean over
// every target token of the global batch, whichever rank holds it, so 1 rank and N ranks
// with the same global batch follow the same trajectory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "runtime/train/collective.h"
#include "runtime/train/train_config.h"

namespace qforge::train {

struct StepMetrics {
    int64_t step = 0, total_steps = 0;  // step is 1-based after the update
    double loss = 0.0;                  // mean token loss of the global batch
    float lr = 0.0f;
    double grad_norm = 0.0;     // before clipping
    int64_t tokens = 0;         // tokens processed this step (all ranks)
    double tokens_per_s = 0.0;  // all ranks, this step
    double elapsed_s = 0.0;
};

struct EvalMetrics {
    int64_t step = 0;
    double val_loss = 0.0;
    int64_t tokens = 0;
};

// Hooks for the launcher's progress bar and messages (called on every rank; the launcher
// shows them on rank 0 only).
struct TrainObserver {
    std::function<void(int64_t start_step, int64_t total_steps)> on_start;
    std::function<void(const StepMetrics&)> on_step;
    std::function<void(const EvalMetrics&)> on_eval;
    std::function<void(const std::string&)> on_message;
};

struct TrainSummary {
    std::filesystem::path run_dir;
    std::filesystem::path adapter_dir;  // <run>/adapter: the final PEFT adapter
    int64_t steps = 0;                  // optimizer steps done (in all invocations)
    bool finished = false;              // false when stopped early by stop_after_steps
    double initial_val_loss = 0.0;      // before the first update (NaN without validation rows)
    double final_val_loss = 0.0;
    double tokens_per_s = 0.0;     // average over the steps run in this process
    std::string device;            // "cpu" or "cuda"
    double peak_device_gib = 0.0;  // most GPU memory held by qforge's buffers at once (0 on CPU)
    int64_t train_rows = 0, validation_rows = 0;
};

// How this invocation runs, beyond the config.
struct RunControl {
    bool resume = false;           // continue from the newest checkpoint in the run directory
    int64_t stop_after_steps = 0;  // > 0: checkpoint and return after this many steps (for
                                   // time-limited cluster jobs; continue with resume)
};

// Runs (or continues) the training described by config. config_yaml is the resolved config,
// saved as <run>/config.yaml on a fresh start.
TrainSummary train_run(const TrainConfig& config, const std::string& config_yaml,
                       const RunControl& control, Collective& collective,
                       const TrainObserver& observer = {});

}  // namespace qforge::train
