// What is here: the training config's `index:` step (see launcher/train_index.h).
#include "launcher/train_index.h"

#include <cstdio>
#include <memory>

#include "parallel/mpi_collective.h"

namespace qforge::launcher {

namespace {

std::string absolute_path(const std::string& path) {
    return std::filesystem::absolute(path).lexically_normal().string();
}

}  // namespace

std::optional<rag::IndexBuildOptions> index_options_from_config(
    const train::TrainConfig& config, const std::filesystem::path& run_dir) {
    const train::IndexConfig& ix = config.index;
    if (ix.docs.empty()) {
        return std::nullopt;
    }
    rag::IndexBuildOptions o;
    o.docs = ix.docs;
    o.out = ix.out.empty() ? run_dir / "index" : std::filesystem::path(ix.out);
    o.params.chunk.max_tokens = static_cast<std::size_t>(ix.chunk_tokens);
    o.params.chunk.overlap = static_cast<std::size_t>(ix.overlap);
    o.params.tokenizer = ix.tokenizer.empty() ? "words" : absolute_path(ix.tokenizer);
    if (!ix.encoder.empty()) {
        o.params.dense.emplace();
        o.params.dense->encoder = absolute_path(ix.encoder);
    }
    o.ann = ix.ann;
    return o;
}

bool build_index_after_train(const train::TrainConfig& config, const std::filesystem::path& run_dir,
                             train::Collective& collective) {
    auto options = index_options_from_config(config, run_dir);
    if (!options) {
        return false;
    }
    // Host-memory embeddings travel over MPI whatever carried the gradients (NCCL wants
    // device buffers).
    std::unique_ptr<parallel::MpiCollective> mpi;
    if (collective.world() > 1) {
        mpi = std::make_unique<parallel::MpiCollective>();
        options->collective = mpi.get();
    }
    const rag::IndexBuildReport r = rag::build_index(*options);
    if (collective.rank() == 0) {
        std::printf("index:             %s (%llu documents, %llu chunks%s)\n",
                    options->out.string().c_str(),
                    static_cast<unsigned long long>(r.manifest.counts.documents),
                    static_cast<unsigned long long>(r.manifest.counts.chunks),
                    r.manifest.params.dense ? ", dense" : "");
    }
    return true;
}

}  // namespace qforge::launcher
