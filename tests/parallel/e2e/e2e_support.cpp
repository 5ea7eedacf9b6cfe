// What is here: tests/parallel/e2e/e2e_support.h.
#include "parallel/e2e/e2e_support.h"

#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace qforge::test {

std::string qforge_job(int np, const std::string& args) {
    std::string cmd = "QFORGE_DATA='" + data_dir().string() +
                      "' OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 ";
    if (np > 0) {
        cmd += std::string(QFORGE_MPIEXEC) + " -np " + std::to_string(np) + " --oversubscribe ";
    }
    return cmd + QFORGE_BINARY + " " + args;
}

std::string tiny_train_args(const std::filesystem::path& dir, const std::string& name,
                            const std::vector<std::string>& extra) {
    std::string args = "train " + std::string(QFORGE_SOURCE_DIR) + "/configs/quickstart.yaml";
    std::vector<std::string> sets = {"run.output_dir=" + dir.string(),
                                     "run.name=" + name,
                                     "data.seq_len=64",
                                     "lora.dropout=0",
                                     "data.train_on_responses_only=false",
                                     "train.warmup_steps=1",
                                     "train.eval_every=0"};
    sets.insert(sets.end(), extra.begin(), extra.end());
    for (const auto& s : sets) {
        args += " --set " + s;
    }
    return args;
}

Metrics read_metrics(const std::filesystem::path& run_dir) {
    Metrics m;
    std::ifstream in(run_dir / "metrics.jsonl");
    EXPECT_TRUE(in.good()) << (run_dir / "metrics.jsonl");
    std::string line;
    while (std::getline(in, line)) {
        const auto j = nlohmann::json::parse(line);
        const auto step = j.at("step").get<int64_t>();
        if (j.contains("val_loss")) {
            m.val_loss[step] = j["val_loss"].get<double>();
        } else {
            m.loss[step] = j.at("loss").get<double>();
        }
    }
    return m;
}

}  // namespace qforge::test
