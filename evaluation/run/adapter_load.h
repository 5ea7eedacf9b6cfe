// What is here: loading a PEFT adapter for evaluation against a given base model, with one
// clear error when it was trained on another base (adapter_config.json's
// base_model_name_or_path names a different model, or tensor shapes or layers differ).
#pragma once

#include <filesystem>
#include <string>

#include "runtime/model/lora.h"

namespace qforge::eval {

struct AdapterLocation {
    std::filesystem::path adapter_dir;  // holds adapter_config.json
    std::filesystem::path run_dir;      // the training run around it ("" when none)
    std::string name;                   // the run's name (or the adapter dir's)
};

// `path` is an adapter dir (adapter_config.json) or a run dir holding adapter/ (qforge train
// and qforge sweep trials). Anything else is a qforge::Error naming the path.
AdapterLocation locate_adapter(const std::filesystem::path& path);

// Reads the adapter and checks it against the model at model_dir: the last path component of
// base_model_name_or_path must equal model_dir's (when both are set), and every tensor must
// fit the model's layers and shapes. Errors: "adapter <dir> does not match the model <dir>: ...".
LoraAdapter load_adapter_for_model(const AdapterLocation& where,
                                   const std::filesystem::path& model_dir,
                                   const io::LlamaConfig& config);

}  // namespace qforge::eval
