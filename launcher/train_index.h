// What is here: the `index:` section of a training config run as a job step: at the end of
// `qforge train`, the retrieval index the adapter will be served with is built (every rank
// embeds its share of the chunks; rank 0 writes).
#pragma once

#include <filesystem>
#include <optional>

#include "rag/index_build.h"
#include "runtime/train/collective.h"
#include "runtime/train/train_config.h"

namespace qforge::launcher {

// The build options `index:` describes (out defaults to <run_dir>/index), or nothing when
// index.docs is empty.
std::optional<rag::IndexBuildOptions> index_options_from_config(
    const train::TrainConfig& config, const std::filesystem::path& run_dir);

// Builds the index when the config asks for one; every rank of `collective` must call it.
// Rank 0 prints one line saying where the index is. Returns whether an index was built.
bool build_index_after_train(const train::TrainConfig& config, const std::filesystem::path& run_dir,
                             train::Collective& collective);

}  // namespace qforge::launcher
