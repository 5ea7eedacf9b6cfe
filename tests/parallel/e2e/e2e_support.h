// What is here: helpers for the whole-job tests of distributed training: the `qforge` and
// `mpirun` command lines (with the data path and the run-as-root variables CI needs), a tiny
// training config, and metrics.jsonl read back.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace qforge::test {

// `QFORGE_DATA=... [mpirun -np <np> --oversubscribe] qforge <args>`; np = 0: no mpirun.
std::string qforge_job(int np, const std::string& args);

// configs/quickstart.yaml shrunk to a fraction of a second a step: seq_len 64 (the loss on
// every token: the prompts alone fill 64 tokens), no dropout, the run in
// <dir>/<name>. `extra` is appended as further --set options.
std::string tiny_train_args(const std::filesystem::path& dir, const std::string& name,
                            const std::vector<std::string>& extra);

struct Metrics {
    std::map<int64_t, double> loss;      // step -> training loss
    std::map<int64_t, double> val_loss;  // step -> validation loss
};

Metrics read_metrics(const std::filesystem::path& run_dir);

}  // namespace qforge::test
