// What is here: training checkpoints. Each is a directory <run>/checkpoint-<step>/ holding a
// PEFT adapter (adapter_config.json, adapter_model.safetensors), the AdamW moments
// (optimizer.safetensors) and trainer_state.json (step, data cursor, seed). It is written
// into a temp directory, every file fsynced, then renamed into place, so a crash leaves
// either the previous checkpoint or the new one, never half of one.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "runtime/model/lora.h"

namespace qforge::train {

struct TrainerState {
    int64_t step = 0;  // optimizer steps done
    int64_t total_steps = 0;
    int64_t epoch = 0;  // data loader position (DataLoader::State)
    int64_t cursor = 0;
    uint64_t seed = 0;
    int world = 1;            // ranks the run was started with (the data order depends on it)
    double train_loss = 0.0;  // loss of the last step
};

// Writes checkpoint-<step> and removes all but the newest keep_last (keep_last <= 0 keeps all).
std::filesystem::path checkpoint_save(const std::filesystem::path& run_dir,
                                      const LoraAdapter& adapter, const std::vector<float>& m,
                                      const std::vector<float>& v, const TrainerState& state,
                                      const std::string& base_model, int64_t keep_last);

// The newest complete checkpoint-<step> directory under run_dir, if any.
std::optional<std::filesystem::path> checkpoint_latest(const std::filesystem::path& run_dir);

// Restores adapter parameters, moments and state from a checkpoint directory.
void checkpoint_load(const std::filesystem::path& dir, const io::LlamaConfig& config,
                     LoraAdapter& adapter, std::vector<float>& m, std::vector<float>& v,
                     TrainerState& state);

}  // namespace qforge::train
