// What is here: RMSNorm forward against the formula in double, backward against finite
// differences of the forward (dinp and dweight, += convention, frozen weight); on a GPU, the
// CUDA kernels' every path (the register path with 1, 2, 4 and 8 float4 per thread, partial
// blocks, the striding fallback for wide rows and misaligned rows) against the CPU, the bf16
// forward's rstd and values against the fp32 forward's bit for bit, and determinism.
#include <cmath>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <vector>

#include "kernels/bf16_bits.h"
#include "kernels/cuda_test_util.h"
#include "kernels/kernel_test_util.h"
#include "kernels/registry.h"
#include "kernels/rmsnorm.h"
#include "support/test_support.h"

namespace qforge::test {
namespace {

using kernels::rmsnorm_backward;
using kernels::rmsnorm_forward;

constexpr float kEps = 1e-5f;

class RmsnormShapes : public ::testing::TestWithParam<std::pair<int64_t, int64_t>> {};

TEST_P(RmsnormShapes, ForwardMatchesFormula) {
    const auto [N, C] = GetParam();
    const auto inp = random_floats(N * C, -2, 2, 1);
    const auto weight = random_floats(C, 0.5f, 1.5f, 2);
    std::vector<float> out(N * C), rstd(N);
    rmsnorm_forward(kCpuCtx, out.data(), rstd.data(), inp.data(), weight.data(), N, C, kEps);
    for (int64_t n = 0; n < N; n++) {
        double ms = 0.0;
        for (int64_t c = 0; c < C; c++) {
            ms += static_cast<double>(inp[n * C + c]) * inp[n * C + c];
        }
        const double r = 1.0 / std::sqrt(ms / static_cast<double>(C) + kEps);
        ASSERT_NEAR(rstd[n], r, 1e-6 * r) << "row " << n;
        for (int64_t c = 0; c < C; c++) {
            const double want = inp[n * C + c] * r * weight[c];
            ASSERT_NEAR(out[n * C + c], want, 2e-7 * std::abs(want) + 1e-12)
                << "out[" << n << "," << c << "]";
        }
    }
    // rstd is optional in the forward.
    std::vector<float> out2(N * C);
    rmsnorm_forward(kCpuCtx, out2.data(), nullptr, inp.data(), weight.data(), N, C, kEps);
    EXPECT_EQ(out2, out);
}

TEST_P(RmsnormShapes, InPlaceMatchesSeparateOutput) {
    const auto [N, C] = GetParam();
    auto inp = random_floats(N * C, -2, 2, 1);
    const auto weight = random_floats(C, 0.5f, 1.5f, 2);
    std::vector<float> out(N * C);
    rmsnorm_forward(kCpuCtx, out.data(), nullptr, inp.data(), weight.data(), N, C, kEps);
    rmsnorm_forward(kCpuCtx, inp.data(), nullptr, inp.data(), weight.data(), N, C, kEps);
    EXPECT_EQ(inp, out);
}

TEST_P(RmsnormShapes, BackwardMatchesFiniteDifferences) {
    const auto [N, C] = GetParam();
    auto inp = random_floats(N * C, -2, 2, 1);
    auto weight = random_floats(C, 0.5f, 1.5f, 2);
    const auto w = random_floats(N * C, -1, 1, 3);
    std::vector<float> out(N * C), rstd(N);
    auto loss = [&] {
        rmsnorm_forward(kCpuCtx, out.data(), nullptr, inp.data(), weight.data(), N, C, kEps);
        return dot(out, w);
    };
    rmsnorm_forward(kCpuCtx, out.data(), rstd.data(), inp.data(), weight.data(), N, C, kEps);
    const auto dinp0 = random_floats(N * C, -1, 1, 4);
    const auto dweight0 = random_floats(C, -1, 1, 5);
    auto dinp = dinp0, dweight = dweight0;
    rmsnorm_backward(kCpuCtx, dinp.data(), dweight.data(), w.data(), inp.data(), weight.data(),
                     rstd.data(), N, C);
    EXPECT_LT(rel_error(added(dinp, dinp0), numeric_gradient(inp, loss)), kFdTolerance);
    EXPECT_LT(rel_error(added(dweight, dweight0), numeric_gradient(weight, loss)), kFdTolerance);

    auto dinp_frozen = dinp0;  // frozen weight: dweight nullptr, same dinp
    rmsnorm_backward(kCpuCtx, dinp_frozen.data(), nullptr, w.data(), inp.data(), weight.data(),
                     rstd.data(), N, C);
    EXPECT_EQ(dinp_frozen, dinp);
}

INSTANTIATE_TEST_SUITE_P(Rmsnorm, RmsnormShapes,
                         ::testing::Values(std::pair<int64_t, int64_t>{1, 33},
                                           std::pair<int64_t, int64_t>{5, 33},
                                           std::pair<int64_t, int64_t>{3, 132}),
                         [](const auto& param_info) {
                             return fmt::format("N{}_C{}", param_info.param.first,
                                                param_info.param.second);
                         });

TEST(Rmsnorm, BackwardNeedsSavedRstd) {
    std::vector<float> buf(33, 0.5f);
    expect_error(
        [&] {
            rmsnorm_backward(kCpuCtx, buf.data(), nullptr, buf.data(), buf.data(), buf.data(),
                             nullptr, 1, 33);
        },
        {"rmsnorm_backward", "rstd"});
    expect_error(
        [&] {
            rmsnorm_forward(kCpuCtx, buf.data(), nullptr, buf.data(), buf.data(), 1, 33, -1.0f);
        },
        {"eps"});
}

// ---- CUDA against the CPU, every kernel path ---------------------------------------------------

struct CudaRmsnormShape {
    int64_t N, C;
    int64_t offset;  // rows start this many floats into their buffers (1: misaligned)
};

class RmsnormCuda : public ::testing::TestWithParam<CudaRmsnormShape> {
protected:
    void SetUp() override {
        if (!kernels::cuda_available()) {
            GTEST_SKIP() << "no GPU present";
        }
    }
};

// A device copy of host with `offset` leading floats (the op gets data() + offset).
kernels::BackendBuffer offset_copy(const std::vector<float>& host, int64_t offset) {
    std::vector<float> padded(offset, 0.25f);
    padded.insert(padded.end(), host.begin(), host.end());
    return to_device(padded);
}

std::vector<float> offset_back(const kernels::BackendBuffer& buf, int64_t offset) {
    const auto all = from_device<float>(buf);
    return {all.begin() + offset, all.end()};
}

TEST_P(RmsnormCuda, ForwardAndBackwardMatchCpu) {
    const auto [N, C, off] = GetParam();
    const auto inp = random_floats(N * C, -2, 2, 1);
    const auto weight = random_floats(C, 0.5f, 1.5f, 2);
    const auto dout = random_floats(N * C, -1, 1, 3);
    const auto dinp0 = random_floats(N * C, -1, 1, 4);
    std::vector<float> out(N * C), rstd(N);
    rmsnorm_forward(kCpuCtx, out.data(), rstd.data(), inp.data(), weight.data(), N, C, kEps);
    auto dinp = dinp0;
    std::vector<float> dweight(C, 0.5f);
    rmsnorm_backward(kCpuCtx, dinp.data(), dweight.data(), dout.data(), inp.data(), weight.data(),
                     rstd.data(), N, C);

    const auto d_inp = offset_copy(inp, off), d_w = offset_copy(weight, off);
    const auto d_out = offset_copy(out, off), d_dout = offset_copy(dout, off);
    const auto d_dinp = offset_copy(dinp0, off), d_dw = to_device(std::vector<float>(C, 0.5f));
    const auto d_rstd = to_device(std::vector<float>(N));
    auto fp = [&](const kernels::BackendBuffer& b) {
        return static_cast<float*>(b.data()) + off;
    };
    rmsnorm_forward(kCudaCtx, fp(d_out), static_cast<float*>(d_rstd.data()), fp(d_inp), fp(d_w), N,
                    C, kEps);
    // the backward from the GPU's rstd, so that each stage's error is its own
    rmsnorm_backward(kCudaCtx, fp(d_dinp), static_cast<float*>(d_dw.data()), fp(d_dout), fp(d_inp),
                     fp(d_w), static_cast<const float*>(d_rstd.data()), N, C);
    kernels::stream_synchronize(kCudaCtx);
    const auto g_out = offset_back(d_out, off), g_dinp = offset_back(d_dinp, off);
    const auto g_rstd = from_device<float>(d_rstd), g_dw = from_device<float>(d_dw);
    EXPECT_LT(rel_error(to_double(g_rstd), to_double(rstd)), 1e-6);
    EXPECT_LT(rel_error(to_double(g_out), to_double(out)), 1e-6);
    EXPECT_LT(rel_error(added(g_dinp, dinp0), added(dinp, dinp0)), 1e-5);
    EXPECT_LT(rel_error(added(g_dw, std::vector<float>(C, 0.5f)),
                        added(dweight, std::vector<float>(C, 0.5f))),
              1e-5);

    // In place (out == inp) gives the same bits; the bf16 forward is the fp32 forward rounded,
    // rstd included, bit for bit; the backward without dweight gives the same dinp, and a second
    // run the same bits (deterministic).
    const auto d_x = offset_copy(inp, off);
    rmsnorm_forward(kCudaCtx, fp(d_x), nullptr, fp(d_x), fp(d_w), N, C, kEps);
    const int64_t ld = C + 3;
    kernels::BackendBuffer d_b16(kCudaCtx, static_cast<size_t>(N * ld + 1) * 2);
    const auto d_rstd16 = to_device(std::vector<float>(N));
    auto* b16 = static_cast<uint16_t*>(d_b16.data()) + off;
    rmsnorm_forward_bf16(kCudaCtx, b16, ld, static_cast<float*>(d_rstd16.data()), fp(d_inp),
                         fp(d_w), N, C, kEps);
    const auto d_dinp2 = offset_copy(dinp0, off);
    rmsnorm_backward(kCudaCtx, fp(d_dinp2), nullptr, fp(d_dout), fp(d_inp), fp(d_w),
                     static_cast<const float*>(d_rstd.data()), N, C);
    kernels::stream_synchronize(kCudaCtx);
    EXPECT_EQ(offset_back(d_x, off), g_out) << "in place";
    EXPECT_EQ(from_device<float>(d_rstd16), g_rstd) << "bf16 forward's rstd";
    const auto words = from_device<uint16_t>(d_b16);
    for (int64_t n = 0; n < N; n++) {
        for (int64_t c = 0; c < C; c++) {
            ASSERT_EQ(words[off + n * ld + c], kernels::f32_to_bf16_bits(g_out[n * C + c]))
                << "bf16 out[" << n << "," << c << "]";
        }
    }
    EXPECT_EQ(offset_back(d_dinp2, off), g_dinp) << "dinp without dweight, second run";
}

// C: 12 (1 float4 a thread, one partial warp), 132 (1, 64 threads), 2048 (2, 256 threads), 2052
// (4, a partial last block row), 4096 (the 8B width: 4), 8196 (8, 288 threads), 16384 (8, 512
// threads: the widest register row), 16388 (wider: the striding kernels), 33 (odd: striding),
// 4096 misaligned (striding).
INSTANTIATE_TEST_SUITE_P(
    Rmsnorm, RmsnormCuda,
    ::testing::Values(CudaRmsnormShape{3, 12, 0}, CudaRmsnormShape{5, 132, 0},
                      CudaRmsnormShape{7, 2048, 0}, CudaRmsnormShape{3, 2052, 0},
                      CudaRmsnormShape{9, 4096, 0}, CudaRmsnormShape{3, 8196, 0},
                      CudaRmsnormShape{3, 16384, 0}, CudaRmsnormShape{2, 16388, 0},
                      CudaRmsnormShape{5, 33, 0}, CudaRmsnormShape{3, 4096, 1}),
    [](const auto& param_info) {
        const auto& p = param_info.param;
        return fmt::format("N{}_C{}_offset{}", p.N, p.C, p.offset);
    });

}  // namespace
}  // namespace qforge::test
