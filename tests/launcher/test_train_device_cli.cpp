// End to end on the GPU: `qforge train` of the shipped stories260K model (NF4, LoRA on all seven
// projections, packing, dropout) with --device cuda follows the CPU run's loss curve step by step
// and ends at the same held-out loss: within TF32 tolerance at matmul_precision tf32, within bf16
// tolerance at bf16 (the fused bf16 path). Skipped without a GPU.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <nlohmann/json.hpp>

#include "kernels/registry.h"
#include "support/test_support.h"

namespace qforge {
namespace {

namespace fs = std::filesystem;

struct Curve {
    std::map<int64_t, double> loss, val_loss;
};

Curve read_curve(const fs::path& metrics) {
    Curve c;
    std::ifstream in(metrics);
    for (std::string line; std::getline(in, line);) {
        const auto j = nlohmann::json::parse(line);
        const auto step = j["step"].get<int64_t>();
        if (j.contains("loss")) {
            c.loss[step] = j["loss"].get<double>();
        }
        if (j.contains("val_loss")) {
            c.val_loss[step] = j["val_loss"].get<double>();
        }
    }
    return c;
}

TEST(TrainDeviceCli, CudaLossCurveFollowsTheCpuOne) {
    if (!kernels::cuda_available()) {
        GTEST_SKIP() << "no GPU present: the GPU training run is checked on the GPU machine";
    }
    const auto data = test::data_dir();
    test::TempDir dir;
    {
        std::ofstream out(dir.path() / "qs.yaml");
        out << "run: {name: qs, output_dir: " << (dir.path() / "runs").string() << ", seed: 5}\n"
            << "model: {path: " << (data / "models/stories260K").string() << ", quantize: nf4}\n"
            << "lora: {r: 8, alpha: 16, dropout: 0.05}\n"
            << "data:\n  train: ["
            << (data / "datasets/dolly-slice/dolly_151_alpaca.jsonl").string()
            << "]\n  seq_len: 256\n  validation_fraction: 0.1\n"
            << "train: {max_steps: 12, micro_batch: 8, lr: 3e-3, warmup_steps: 2, eval_every: 6}\n"
            << "checkpoint: {every: 0, keep_last: 1}\n";
    }

    // the CPU run (the spec), then the GPU at TF32 and at bf16 GEMM operands (the fused path)
    struct Run {
        const char* name;
        const char* args;
        double tolerance;
    };

    const Run runs[3] = {{"cpu", "--device cpu", 0.0},
                         {"cuda-tf32", "--device cuda --set train.matmul_precision=tf32", 5e-3},
                         {"cuda-bf16", "--device cuda --set train.matmul_precision=bf16", 2e-2}};
    Curve curves[3];
    for (int d = 0; d < 3; ++d) {
        const auto r = test::run_command(std::string(QFORGE_BINARY) + " train " +
                                         (dir.path() / "qs.yaml").string() + " " + runs[d].args +
                                         " --set run.name=qs-" + runs[d].name);
        ASSERT_EQ(r.exit_code, 0) << r.err;
        curves[d] =
            read_curve(dir.path() / "runs" / (std::string("qs-") + runs[d].name) / "metrics.jsonl");
        ASSERT_EQ(curves[d].loss.size(), 12u) << runs[d].name;
    }
    for (int d = 1; d < 3; ++d) {
        double worst = 0.0;
        for (const auto& [step, want] : curves[0].loss) {
            const double rel = std::abs(curves[d].loss[step] / want - 1.0);
            worst = std::max(worst, rel);
            EXPECT_LT(rel, runs[d].tolerance) << runs[d].name << ": train loss at step " << step;
        }
        ASSERT_EQ(curves[0].val_loss.size(), curves[d].val_loss.size());
        for (const auto& [step, want] : curves[0].val_loss) {
            const double rel = std::abs(curves[d].val_loss[step] / want - 1.0);
            worst = std::max(worst, rel);
            EXPECT_LT(rel, runs[d].tolerance) << runs[d].name << ": held-out loss at step " << step;
        }
        std::printf("%s vs cpu: largest relative loss difference %.3g\n", runs[d].name, worst);
    }
}

}  // namespace
}  // namespace qforge
