// What is here: lora_dy_products at Llama-3-8B's projection sizes on the GPU, beside the form it
// replaces in the train step (dU by a bf16-output cuBLASLt GEMM, u staged to bf16, dB by a second
// cuBLASLt GEMM, dy read twice): the two must agree (dU's bf16 words within one ulp, dB's
// increment by relative error), and the times of both are printed. The op's other shapes and its
// CPU twin are covered by the backend-ops harness (backend_op_cases_lora.cpp).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <gtest/gtest.h>
#include <vector>

#include "kernels/bf16.h"
#include "kernels/bf16_bits.h"
#include "kernels/cuda_test_util.h"
#include "kernels/gemm.h"
#include "kernels/kernel_test_util.h"
#include "kernels/lora_grad.h"
#include "support/test_support.h"

namespace qforge::test {
namespace {

#define SKIP_WITHOUT_GPU()                                                           \
    if (!kernels::cuda_available()) {                                                \
        GTEST_SKIP() << "no GPU present: the CUDA op is checked on the GPU machine"; \
    }

struct Outcome {
    std::vector<uint16_t> dy;  // dU in the spare columns
    std::vector<float> dB;
    double ms = 0.0;
};

TEST(LoraDyProductsCuda, LlamaSizedMatchesTheTwoGemmFormAndReportsTimes) {
    SKIP_WITHOUT_GPU();
    constexpr int64_t N = 4096, R = 16;
    constexpr float kScale = 2.0f;
    for (const int64_t Out : {int64_t{1024}, int64_t{4096}, int64_t{14336}}) {
        const int64_t ld = Out + R;
        const auto dy_host = random_bf16(static_cast<size_t>(N * ld), -1.0f, 1.0f, 40);
        const auto sb_host = random_bf16(static_cast<size_t>(Out * R), -0.05f, 0.05f, 41);
        const auto u_host = random_floats(static_cast<size_t>(N * R), -1.0f, 1.0f, 42);
        const auto dB_host = random_floats(static_cast<size_t>(Out * R), -1.0f, 1.0f, 43);
        auto sb = to_device(sb_host), u = to_device(u_host);
        kernels::BackendBuffer du(kCudaCtx, static_cast<size_t>(N * R) * 4),
            us(kCudaCtx, static_cast<size_t>(N * R) * 2);

        auto run = [&](bool fused) {
            auto dy = to_device(dy_host), dB = to_device(dB_host);
            auto* dyp = static_cast<uint16_t*>(dy.data());
            auto* dBp = static_cast<float*>(dB.data());
            const auto* sbp = static_cast<const uint16_t*>(sb.data());
            auto call = [&] {
                if (fused) {
                    kernels::lora_dy_products(
                        kCudaCtx, dyp, ld, sbp, R, static_cast<const float*>(u.data()), R, N, Out,
                        R, kScale, static_cast<float*>(du.data()), dyp + Out, ld, dBp);
                    return;
                }
                auto* usp = static_cast<uint16_t*>(us.data());
                kernels::gemm_bf16_to_bf16(kCudaCtx, false, false, N, R, Out, 1.0f, dyp, ld, sbp, R,
                                           dyp + Out, ld);
                kernels::convert_to_bf16(kCudaCtx, usp, R, static_cast<const float*>(u.data()), R,
                                         N, R, 1.0f);
                kernels::gemm_bf16(kCudaCtx, true, false, Out, R, N, kScale, dyp, ld, usp, R, 1.0f,
                                   dBp, R);
            };
            call();
            Outcome r{from_device<uint16_t>(dy), from_device<float>(dB)};
            r.ms = time_ms(call);  // dB keeps accumulating: only the time is kept
            return r;
        };
        const Outcome fused = run(true), gemms = run(false);

        // dU: each word within one bf16 ulp of the GEMM's, or (a sum that cancels to near zero,
        // where fp32 sums in another order differ by more than its ulp) within 1e-5 of the
        // largest |dU|
        float largest = 0.0f;
        for (int64_t i = 0; i < N * R; i++) {
            const auto at = static_cast<size_t>(i / R * ld + Out + i % R);
            largest = std::max(largest, std::fabs(kernels::bf16_bits_to_f32(gemms.dy[at])));
        }
        int64_t far = 0;
        for (int64_t i = 0; i < N * R; i++) {
            const auto at = static_cast<size_t>(i / R * ld + Out + i % R);
            const float a = kernels::bf16_bits_to_f32(fused.dy[at]);
            const float b = kernels::bf16_bits_to_f32(gemms.dy[at]);
            far += std::fabs(a - b) > std::fabs(b) * 0x1p-7f + 1e-5f * largest ? 1 : 0;
        }
        double num = 0.0, den = 0.0;
        for (size_t k = 0; k < dB_host.size(); k++) {
            const double a = static_cast<double>(fused.dB[k]) - dB_host[k];
            const double b = static_cast<double>(gemms.dB[k]) - dB_host[k];
            num += (a - b) * (a - b);
            den += b * b;
        }
        const double err = std::sqrt(num / den);
        std::printf(
            "lora_dy_products N=%lld Out=%lld R=%lld: %.4f ms (%.0f GB/s of dy) | dU GEMM + u "
            "staging + dB GEMM %.4f ms | %.2fx; dB increment vs the GEMMs %.2e, dU words > 1 ulp "
            "apart: %lld\n",
            static_cast<long long>(N), static_cast<long long>(Out), static_cast<long long>(R),
            fused.ms, static_cast<double>(N * Out * 2) / fused.ms * 1e-6, gemms.ms,
            gemms.ms / fused.ms, err, static_cast<long long>(far));
        EXPECT_EQ(far, 0) << "Out=" << Out;
        EXPECT_LT(err, 1e-5) << "Out=" << Out;
    }
}

TEST(LoraDyProducts, RejectsBadArgumentsNamingTheOp) {
    std::vector<uint16_t> h(64 * 40, 0x3F80);
    std::vector<float> f(64 * 40, 1.0f);
    auto call = [&](int64_t Out, int64_t R, int64_t ld_dy, int64_t ld_u = 16) {
        return [&, Out, R, ld_dy, ld_u] {
            kernels::lora_dy_products(kCpuCtx, h.data(), ld_dy, h.data(), 16, f.data(), ld_u, 2,
                                      Out, R, 1.0f, f.data(), nullptr, 16, f.data());
        };
    };
    expect_error(call(16, 12, 32), {"lora_dy_products", "must be 8, 16, 32 or 64, got 12"});
    expect_error(call(12, 16, 32), {"lora_dy_products", "multiples of 8"});
    expect_error(call(40, 16, 32), {"lora_dy_products", "ld_dy (>= Out)"});
    expect_error(call(16, 16, 32, 8), {"lora_dy_products", "ld_u (>= R)"});
    expect_error(call(16, 16, 32, 18), {"lora_dy_products", "ld_u (18) of 4"});
}

}  // namespace
}  // namespace qforge::test
