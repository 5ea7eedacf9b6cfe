// What is here: BatchForward on a GPU against the CPU on the shipped stories260K model: steps
// mixing prefills and decodes at different positions, on the base and two adapters, give the
// same logits (within 2e-3 relative with exact fp32 GEMMs; within 2e-2 with the default TF32
// tensor-core GEMMs, whose operands keep 10 mantissa bits) and the same greedy completion;
// adapters leave the GPU once no row uses them. Skipped (with the reason) without a GPU.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <gtest/gtest.h>
#include <vector>

#include "kernels/common.h"
#include "kernels/gemm.h"
#include "runtime/model/llama.h"
#include "runtime/model/lora.h"
#include "serve/batch_forward.h"
#include "serve/kv_pool.h"
#include "serve/serve_test_util.h"
#include "support/test_support.h"

namespace qforge {
namespace {

double rel_err(std::span<const float> a, std::span<const float> b) {
    double num = 0, den = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
        den += double(b[i]) * b[i];
    }
    return std::sqrt(num / std::max(den, 1e-30));
}

class BatchForwardDevice : public ::testing::Test {
protected:
    void SetUp() override {
        if (!kernels::cuda_available()) {
            GTEST_SKIP() << "no CUDA GPU in this build/machine: BatchForward on CUDA not tested";
        }
        if (!test::have_stories()) {
            GTEST_SKIP() << "shipped data not found (set QFORGE_DATA)";
        }
    }
};

class GemmMathScope {  // sets the CUDA GEMM math for one scope
public:
    explicit GemmMathScope(kernels::GemmMath m) : saved_(kernels::cuda_gemm_math()) {
        kernels::set_cuda_gemm_math(m);
    }

    ~GemmMathScope() { kernels::set_cuda_gemm_math(saved_); }

    GemmMathScope(const GemmMathScope&) = delete;
    GemmMathScope& operator=(const GemmMathScope&) = delete;

private:
    kernels::GemmMath saved_;
};

struct Side {  // one device's pool and forward

    Side(const LlamaModel& model, kernels::Device device)
        : pool(model.config(), 4, 48, kernels::Ctx{device, nullptr}), fwd(model, pool) {}

    serve::KvPool pool;
    serve::BatchForward fwd;
};

void mixed_steps(kernels::GemmMath math, double tol) {
    const GemmMathScope scope(math);
    const LlamaModel model = LlamaModel::load(test::stories_dir());
    test::TempDir d1, d2;
    test::write_adapter(d1.path(), test::test_seed());
    test::write_adapter(d2.path(), test::test_seed() + 1);
    const LoraAdapter a1 = LoraAdapter::load_peft(d1.path(), model.config());
    const LoraAdapter a2 = LoraAdapter::load_peft(d2.path(), model.config());
    const int64_t V = model.config().vocab_size;
    Side cpu(model, kernels::Device::kCpu), gpu(model, kernels::Device::kCuda);

    const std::vector<int32_t> p0 = {1, 403, 407, 261, 378, 29, 72};
    const std::vector<int32_t> p1 = {1, 319, 93, 118, 409};
    const std::vector<int32_t> p2 = {1, 72, 261};
    std::vector<int32_t> next = {0, 0, 0};
    auto compare = [&](const std::vector<serve::BatchRow>& rows, const char* what) {
        std::vector<int64_t> fc, fg;
        const auto lc = cpu.fwd.run(rows, fc);
        const std::vector<float> lcv(lc.begin(), lc.end());
        const auto lg = gpu.fwd.run(rows, fg);
        EXPECT_EQ(fc, fg) << what;
        EXPECT_EQ(lcv.size(), lg.size()) << what;
        const double err = rel_err(lg, lcv);
        std::printf("%s GEMMs, %s: logits relative error %.3g\n",
                    math == kernels::GemmMath::kFp32 ? "fp32" : "tf32", what, err);
        EXPECT_LT(err, tol) << what;
        // Each row's greedy next token (from its last logit row), as the engine would take.
        for (std::size_t i = 0; i < rows.size(); ++i) {
            const int64_t last =
                fc[i] + (rows[i].all_logits ? static_cast<int64_t>(rows[i].tokens.size()) - 1 : 0);
            const float* row = lcv.data() + last * V;
            next[i] = static_cast<int32_t>(std::max_element(row, row + V) - row);
        }
    };
    // Step 1: two prefills (base; adapter 1 with every position's logits).
    compare({{0, 0, p0, nullptr, false}, {1, 0, p1, &a1, true}}, "step 1");
    EXPECT_EQ(gpu.fwd.adapters_on_device(), 1);
    // Step 2: both decode beside a third sequence's prefill on adapter 2.
    std::vector<int32_t> t0 = {next[0]}, t1 = {next[1]};
    compare({{0, 7, t0, nullptr, false}, {1, 5, t1, &a1, false}, {2, 0, p2, &a2, false}}, "step 2");
    EXPECT_EQ(gpu.fwd.adapters_on_device(), 2);
    // Step 3: three decodes, rows in another order than their adapters' groups.
    std::vector<int32_t> u0 = {next[0]}, u1 = {next[1]}, u2 = {next[2]};
    compare({{2, 3, u2, &a2, false}, {0, 8, u0, nullptr, false}, {1, 6, u1, &a1, false}}, "step 3");
    // Step 4: only the base: both adapters leave the GPU.
    std::vector<int32_t> w0 = {next[1]};
    compare({{0, 9, w0, nullptr, false}}, "step 4");
    EXPECT_EQ(gpu.fwd.adapters_on_device(), 0);
}

TEST_F(BatchForwardDevice, CudaMatchesCpuWithMixedPositionsAndAdapters) {
    mixed_steps(kernels::GemmMath::kFp32, 2e-3);
}

TEST_F(BatchForwardDevice, CudaWithTf32GemmsStaysCloseToCpu) {
    mixed_steps(kernels::GemmMath::kTf32, 2e-2);
}

// A short greedy completion of three sequences (base, adapter 1, adapter 2) decoded together
// gives identical tokens on both devices.
TEST_F(BatchForwardDevice, GreedyCompletionIsIdenticalOnCudaAndCpu) {
    const LlamaModel model = LlamaModel::load(test::stories_dir());
    test::TempDir d1, d2;
    test::write_adapter(d1.path(), test::test_seed() + 2);
    test::write_adapter(d2.path(), test::test_seed() + 3);
    const LoraAdapter a1 = LoraAdapter::load_peft(d1.path(), model.config());
    const LoraAdapter a2 = LoraAdapter::load_peft(d2.path(), model.config());
    const int64_t V = model.config().vocab_size;
    const std::vector<std::vector<int32_t>> prompts = {
        {1, 403, 407, 261}, {1, 319, 93, 118, 409, 72}, {1, 72}};
    const std::vector<const LoraAdapter*> adapters = {nullptr, &a1, &a2};
    auto complete = [&](kernels::Device device) {
        Side s(model, device);
        std::vector<std::vector<int32_t>> out(3);
        std::vector<int32_t> last(3);
        for (int step = 0; step < 16; ++step) {
            std::vector<serve::BatchRow> rows;
            for (std::size_t i = 0; i < 3; ++i) {
                const auto P = static_cast<int64_t>(prompts[i].size());
                if (step == 0) {
                    rows.push_back({static_cast<int64_t>(i), 0, prompts[i], adapters[i], false});
                } else {
                    rows.push_back(
                        {static_cast<int64_t>(i), P + step - 1, {&last[i], 1}, adapters[i], false});
                }
            }
            std::vector<int64_t> first;
            const auto logits = s.fwd.run(rows, first);
            for (std::size_t i = 0; i < 3; ++i) {
                const float* row = logits.data() + first[i] * V;
                last[i] = static_cast<int32_t>(std::max_element(row, row + V) - row);
                out[i].push_back(last[i]);
            }
        }
        return out;
    };
    const auto cpu = complete(kernels::Device::kCpu);
    const auto gpu = complete(kernels::Device::kCuda);
    EXPECT_EQ(cpu, gpu);
    EXPECT_NE(cpu[0], cpu[1]);  // the adapters change the completion
}

}  // namespace
}  // namespace qforge
