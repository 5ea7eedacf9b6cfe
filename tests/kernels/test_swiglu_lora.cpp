// What is here: swiglu_backward_bf16_lora, the bf16 SwiGLU backward that also sums the down
// projection's LoRA A-gradient dA += dU^T h with h = swiglu_forward_bf16(gate, up) never stored.
// On the CPU: dgate / dup are swiglu_backward_bf16's bits and dA matches a double-precision sum
// over the widened bf16 h; with a GPU: dgate / dup are the CUDA swiglu_backward_bf16's bits, and
// dA's increment matches the CPU op's by relative error (fp32 sums in another order, and CUDA's
// expf may put an h one bf16 step apart), on odd shapes, both column paths and ranks 1..32, and
// once at the Llama-3-8B MLP size with its time beside swiglu_backward_bf16's.
#include <cmath>
#include <cstdio>
#include <gtest/gtest.h>
#include <utility>
#include <vector>

#include "kernels/bf16_bits.h"
#include "kernels/cuda_test_util.h"
#include "kernels/kernel_test_util.h"
#include "kernels/memory.h"
#include "kernels/swiglu.h"
#include "support/test_support.h"

namespace qforge::test {
namespace {

using kernels::bf16_bits_to_f32;
using kernels::f32_to_bf16_bits;

struct Shape {
    int64_t N, F, ld, R, ld_du, ld_a;
};

struct Inputs {
    std::vector<uint16_t> dh, gate, up, du;
    std::vector<float> dA;  // the accumulator dA starts from (random, non-zero)
};

Inputs make_inputs(const Shape& s, uint64_t salt) {
    const auto NF = static_cast<size_t>(s.N * s.F);
    Inputs in;
    in.dh = random_bf16(NF, -1.0f, 1.0f, salt);
    in.gate = random_bf16(NF, -4.0f, 4.0f, salt + 1);
    in.up = random_bf16(NF, -2.0f, 2.0f, salt + 2);
    in.du = random_bf16(static_cast<size_t>(s.N * s.ld_du), -1.0f, 1.0f, salt + 3);
    in.dA = random_floats(static_cast<size_t>(s.R * s.ld_a), -1.0f, 1.0f, salt + 4);
    return in;
}

// The double sum the op approximates, and the sum of |terms| per entry (its rounding scale).
void reference_dA(const Shape& s, const Inputs& in, std::vector<double>& want,
                  std::vector<double>& mag) {
    want.assign(static_cast<size_t>(s.R * s.F), 0.0);
    mag.assign(want.size(), 0.0);
    for (int64_t r = 0; r < s.N; r++) {
        for (int64_t c = 0; c < s.F; c++) {
            const size_t i = static_cast<size_t>(r * s.F + c);
            const float g = bf16_bits_to_f32(in.gate[i]), u = bf16_bits_to_f32(in.up[i]);
            const float h = bf16_bits_to_f32(f32_to_bf16_bits(g / (1.0f + std::exp(-g)) * u));
            for (int64_t j = 0; j < s.R; j++) {
                const double t = static_cast<double>(bf16_bits_to_f32(
                                     in.du[static_cast<size_t>(r * s.ld_du + j)])) *
                                 h;
                want[static_cast<size_t>(j * s.F + c)] += t;
                mag[static_cast<size_t>(j * s.F + c)] += std::fabs(t);
            }
        }
    }
}

struct Outputs {
    std::vector<uint16_t> dgate, dup;
    std::vector<float> dA;
};

Outputs run_cpu(const Shape& s, const Inputs& in) {
    Outputs o{std::vector<uint16_t>(static_cast<size_t>(s.N * s.ld), 0xBEEF),
              std::vector<uint16_t>(static_cast<size_t>(s.N * s.ld), 0xBEEF), in.dA};
    kernels::swiglu_backward_bf16_lora(kCpuCtx, o.dgate.data(), o.dup.data(), s.ld, in.dh.data(),
                                       in.gate.data(), in.up.data(), s.N, s.F, in.du.data(),
                                       s.ld_du, s.R, o.dA.data(), s.ld_a, nullptr);
    return o;
}

const std::vector<Shape>& shapes() {
    static const std::vector<Shape> all = {
        {33, 65, 72, 7, 9, 70},        // odd F: one column per thread
        {300, 128, 136, 16, 24, 128},  // two row blocks on CUDA, four columns per thread
        {17, 12, 16, 1, 1, 12},       {260, 48, 48, 32, 40, 52}, {5, 20, 20, 24, 24, 20},
    };
    return all;
}

TEST(SwigluLora, CpuIsTheBf16BackwardPlusTheDownProjectionsAGradient) {
    for (const Shape& s : shapes()) {
        const Inputs in = make_inputs(s, 10);
        const Outputs got = run_cpu(s, in);
        std::vector<uint16_t> dgate(got.dgate.size(), 0xBEEF), dup(got.dup.size(), 0xBEEF);
        kernels::swiglu_backward_bf16(kCpuCtx, dgate.data(), dup.data(), s.ld, in.dh.data(),
                                      in.gate.data(), in.up.data(), s.N, s.F);
        EXPECT_EQ(got.dgate, dgate) << "N=" << s.N << " F=" << s.F;
        EXPECT_EQ(got.dup, dup) << "N=" << s.N << " F=" << s.F;
        std::vector<double> want, mag;
        reference_dA(s, in, want, mag);
        for (int64_t j = 0; j < s.R; j++) {
            for (int64_t c = 0; c < s.ld_a; c++) {
                const auto at = static_cast<size_t>(j * s.ld_a + c);
                if (c >= s.F) {
                    ASSERT_EQ(got.dA[at], in.dA[at]) << "padding of dA row " << j << " written";
                    continue;
                }
                const auto k = static_cast<size_t>(j * s.F + c);
                const double bound = (static_cast<double>(s.N) + 2) * 6e-8 * (mag[k] + 1.0);
                ASSERT_NEAR(got.dA[at], in.dA[at] + want[k], bound)
                    << "N=" << s.N << " F=" << s.F << " R=" << s.R << " dA[" << j << "][" << c
                    << "]";
            }
        }
    }
}

TEST(SwigluLora, RejectsBadArgumentsNamingTheOp) {
    std::vector<uint16_t> h(64, 0x3F80);
    std::vector<float> a(64 * 40, 1.0f);
    // N = 2 rows of F = 8; what varies: dU's row stride, the rank, dA
    auto call = [&](int64_t ld_du, int64_t R, float* dA) {
        return [&h, ld_du, R, dA] {
            kernels::swiglu_backward_bf16_lora(kCpuCtx, h.data(), h.data(), 8, h.data(), h.data(),
                                               h.data(), 2, 8, h.data(), ld_du, R, dA, 8, nullptr);
        };
    };
    expect_error(call(40, 33, a.data()),
                 {"swiglu_backward_bf16_lora", "R (the LoRA rank) must be <= 32"});
    expect_error(call(4, 8, a.data()), {"swiglu_backward_bf16_lora", "ld_du"});
    expect_error(call(8, 8, nullptr), {"swiglu_backward_bf16_lora", "dA must not be null"});
}

#define SKIP_WITHOUT_GPU()                                                           \
    if (!kernels::cuda_available()) {                                                \
        GTEST_SKIP() << "no GPU present: the CUDA op is checked on the GPU machine"; \
    }

// The CUDA op on device copies; the partials buffer sized by swiglu_lora_partials.
Outputs run_cuda(const Shape& s, const Inputs& in, double* ms = nullptr) {
    auto dh = to_device(in.dh), gate = to_device(in.gate), up = to_device(in.up),
         du = to_device(in.du), dA = to_device(in.dA);
    auto dgate = to_device(std::vector<uint16_t>(static_cast<size_t>(s.N * s.ld), 0xBEEF));
    auto dup = to_device(std::vector<uint16_t>(static_cast<size_t>(s.N * s.ld), 0xBEEF));
    kernels::BackendBuffer partials(
        kCudaCtx, static_cast<size_t>(kernels::swiglu_lora_partials(s.N, s.F, s.R)) * 4);
    auto call = [&] {
        kernels::swiglu_backward_bf16_lora(
            kCudaCtx, static_cast<uint16_t*>(dgate.data()), static_cast<uint16_t*>(dup.data()),
            s.ld, static_cast<const uint16_t*>(dh.data()),
            static_cast<const uint16_t*>(gate.data()), static_cast<const uint16_t*>(up.data()), s.N,
            s.F, static_cast<const uint16_t*>(du.data()), s.ld_du, s.R,
            static_cast<float*>(dA.data()), s.ld_a, static_cast<float*>(partials.data()));
    };
    call();
    Outputs o{from_device<uint16_t>(dgate), from_device<uint16_t>(dup), from_device<float>(dA)};
    if (ms != nullptr) {
        *ms = time_ms(call);
    }
    return o;
}

// The plain CUDA bf16 backward's dgate / dup, which the op must equal bit for bit.
std::pair<std::vector<uint16_t>, std::vector<uint16_t>> plain_cuda(const Shape& s,
                                                                   const Inputs& in) {
    auto dh = to_device(in.dh), gate = to_device(in.gate), up = to_device(in.up);
    auto dgate = to_device(std::vector<uint16_t>(static_cast<size_t>(s.N * s.ld), 0xBEEF));
    auto dup = to_device(std::vector<uint16_t>(static_cast<size_t>(s.N * s.ld), 0xBEEF));
    kernels::swiglu_backward_bf16(
        kCudaCtx, static_cast<uint16_t*>(dgate.data()), static_cast<uint16_t*>(dup.data()), s.ld,
        static_cast<const uint16_t*>(dh.data()), static_cast<const uint16_t*>(gate.data()),
        static_cast<const uint16_t*>(up.data()), s.N, s.F);
    return {from_device<uint16_t>(dgate), from_device<uint16_t>(dup)};
}

// Norm-wise relative error of got's increment over `start` against want's.
double increment_error(const std::vector<float>& got, const std::vector<float>& want,
                       const std::vector<float>& start) {
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < got.size(); i++) {
        const double g = static_cast<double>(got[i]) - start[i];
        const double w = static_cast<double>(want[i]) - start[i];
        num += (g - w) * (g - w);
        den += w * w;
    }
    return std::sqrt(num / den);
}

void expect_cuda_matches(const Shape& s, const Inputs& in, const Outputs& cpu,
                         const Outputs& cuda) {
    const auto [dgate, dup] = plain_cuda(s, in);
    EXPECT_EQ(cuda.dgate, dgate) << "dgate, N=" << s.N << " F=" << s.F;
    EXPECT_EQ(cuda.dup, dup) << "dup, N=" << s.N << " F=" << s.F;
    const double err = increment_error(cuda.dA, cpu.dA, in.dA);
    std::printf("N=%lld F=%lld R=%lld: dA increment vs the CPU %.2e (relative)\n",
                static_cast<long long>(s.N), static_cast<long long>(s.F),
                static_cast<long long>(s.R), err);
    EXPECT_LT(err, 1e-4) << "dA, N=" << s.N << " F=" << s.F << " R=" << s.R;
}

TEST(SwigluLoraCuda, MatchesTheCpuOnOddShapes) {
    SKIP_WITHOUT_GPU();
    for (const Shape& s : shapes()) {
        const Inputs in = make_inputs(s, 20);
        expect_cuda_matches(s, in, run_cpu(s, in), run_cuda(s, in));
    }
}

// Llama-3-8B's MLP at 4,096 tokens, r = 16.
TEST(SwigluLoraCuda, LlamaSizedMatchesAndReportsTime) {
    SKIP_WITHOUT_GPU();
    const Shape s{4096, 14336, 14352, 16, 4112, 14336};
    const Inputs in = make_inputs(s, 30);
    double ms = 0.0;
    const Outputs cuda = run_cuda(s, in, &ms);
    expect_cuda_matches(s, in, run_cpu(s, in), cuda);
    auto dh = to_device(in.dh), gate = to_device(in.gate), up = to_device(in.up);
    kernels::BackendBuffer dgate(kCudaCtx, static_cast<size_t>(s.N * s.ld) * 2),
        dup(kCudaCtx, static_cast<size_t>(s.N * s.ld) * 2),
        h(kCudaCtx, static_cast<size_t>(s.N * s.ld) * 2);
    const double plain_ms = time_ms([&] {
        kernels::swiglu_backward_bf16(kCudaCtx, static_cast<uint16_t*>(dgate.data()),
                                      static_cast<uint16_t*>(dup.data()), s.ld,
                                      static_cast<const uint16_t*>(dh.data()),
                                      static_cast<const uint16_t*>(gate.data()),
                                      static_cast<const uint16_t*>(up.data()), s.N, s.F);
    });
    const double fwd_ms = time_ms([&] {
        kernels::swiglu_forward_bf16(kCudaCtx, static_cast<uint16_t*>(h.data()), s.ld,
                                     static_cast<const uint16_t*>(gate.data()),
                                     static_cast<const uint16_t*>(up.data()), s.N, s.F);
    });
    std::printf(
        "swiglu_backward_bf16_lora 4096 x 14336, r 16: %.3f ms; swiglu_backward_bf16 %.3f "
        "ms + swiglu_forward_bf16 (the recompute it replaces) %.3f ms\n",
        ms, plain_ms, fwd_ms);
}

}  // namespace
}  // namespace qforge::test
