// What is here: lora_down_bf16 and lora_grad_bf16 (kernels/lora_thin.h) against double loops
// written here over the widened bf16 values. The CPU reference on odd shapes, both w layouts,
// padded and odd strides (y16 = the nearest-even rounding of y, padding untouched, K = 0 writes
// zeros, N = 0 leaves out alone); argument errors naming the op and the field. With a GPU: the
// CUDA kernels on the same shapes plus unaligned pointers, R = 1 .. 64, splits of the sum (N or K
// long enough), R = 80 (the cuBLASLt path) and the Llama-3-8B shapes (N = 4096, K or M = 4096 and
// 14336, R = 16), each element within the fp32 summation bound of the double sum
// (4 (K + 2) 2^-24 sum |terms|, as for gemm_bf16 on cuBLASLt), y16 equal to bf16(y) bit for bit,
// and lora_grad_bf16 giving the same bits on a second run.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <limits>
#include <vector>

#include "kernels/bf16_bits.h"
#include "kernels/cuda_test_util.h"
#include "kernels/kernel_test_util.h"
#include "kernels/lora_thin.h"
#include "kernels/memory.h"
#include "support/test_support.h"

namespace qforge::test {
namespace {

using kernels::bf16_bits_to_f32;
using kernels::f32_to_bf16_bits;

constexpr float kPadY = 1234.5f;
constexpr uint16_t kPadY16 = 0xBEEF;

#define SKIP_WITHOUT_GPU()                \
    if (!kernels::cuda_available()) {     \
        GTEST_SKIP() << "no GPU present"; \
    }

// One lora_down_bf16 call: x (N, K) at x_off in rows of ldx; w (R, K) as rows (w_stride_r =
// K + w_pad, w_stride_k = 1) or as columns of a (K, R + w_pad) matrix (1, R + w_pad).
struct DownShape {
    int64_t N, K, R, ldx, x_off;
    bool w_rows;
    int64_t w_pad;
    bool want_y, want_y16;

    int64_t wsr() const { return w_rows ? K + w_pad : 1; }

    int64_t wsk() const { return w_rows ? 1 : R + w_pad; }

    int64_t w_size() const { return std::max<int64_t>(1, w_rows ? R * wsr() : K * wsk()); }

    int64_t ldy() const { return R + 2; }

    int64_t ldy16() const { return R + 3; }

    std::string str() const {
        return fmt::format("N={} K={} R={} ldx={} x_off={} w={} y={} y16={}", N, K, R, ldx, x_off,
                           w_rows ? "rows" : "cols", want_y ? 1 : 0, want_y16 ? 1 : 0);
    }
};

struct DownResult {
    std::vector<float> y;
    std::vector<uint16_t> y16;
};

// Runs the op on ctx (device copies on CUDA); outputs start as padding sentinels (y as NaN in the
// used columns: it must be written).
DownResult run_down(const kernels::Ctx& ctx, const DownShape& s, const std::vector<uint16_t>& x,
                    const std::vector<uint16_t>& w, float alpha) {
    DownResult r;
    r.y.assign(static_cast<size_t>(s.N * s.ldy()), kPadY);
    r.y16.assign(static_cast<size_t>(s.N * s.ldy16()), kPadY16);
    for (int64_t n = 0; n < s.N; n++) {
        for (int64_t j = 0; j < s.R; j++) {
            r.y[n * s.ldy() + j] = std::numeric_limits<float>::quiet_NaN();
        }
    }
    if (ctx.device == kernels::Device::kCpu) {
        kernels::lora_down_bf16(ctx, s.N, s.K, s.R, x.data() + s.x_off, s.ldx, w.data(), s.wsr(),
                                s.wsk(), alpha, s.want_y ? r.y.data() : nullptr, s.ldy(),
                                s.want_y16 ? r.y16.data() : nullptr, s.ldy16());
        return r;
    }
    auto dx = to_device(x), dw = to_device(w), dy = to_device(r.y), dy16 = to_device(r.y16);
    kernels::lora_down_bf16(ctx, s.N, s.K, s.R, static_cast<const uint16_t*>(dx.data()) + s.x_off,
                            s.ldx, static_cast<const uint16_t*>(dw.data()), s.wsr(), s.wsk(), alpha,
                            s.want_y ? static_cast<float*>(dy.data()) : nullptr, s.ldy(),
                            s.want_y16 ? static_cast<uint16_t*>(dy16.data()) : nullptr, s.ldy16());
    kernels::stream_synchronize(ctx);
    r.y = from_device<float>(dy);
    r.y16 = from_device<uint16_t>(dy16);
    return r;
}

// Places on the bf16 number line (+0 and -0 alike).
int64_t ordinal(uint16_t w) {
    const int64_t v = w & 0x7FFF;
    return (w & 0x8000) != 0 ? -v : v;
}

// Checks rows n % row_step == 0 (and the last) of a lora_down result against double sums.
void check_down(const kernels::Ctx& ctx, const DownShape& s, int64_t row_step = 1) {
    const float alpha = 0.75f;
    const auto x = random_bf16(static_cast<size_t>(s.x_off + std::max<int64_t>(1, s.N * s.ldx)),
                               -1.0f, 1.0f, 11);
    const auto w = random_bf16(static_cast<size_t>(s.w_size()), -1.0f, 1.0f, 12);
    const DownResult r = run_down(ctx, s, x, w, alpha);
    const double slack = 4.0 * static_cast<double>(s.K + 2);
    for (int64_t n = 0; n < s.N; n++) {
        if (n % row_step != 0 && n != s.N - 1) {
            continue;
        }
        for (int64_t j = 0; j < s.ldy16(); j++) {
            if (j >= s.R) {
                if (j < s.ldy()) {
                    ASSERT_EQ(r.y[n * s.ldy() + j], kPadY) << "y padding written, " << s.str();
                }
                ASSERT_EQ(r.y16[n * s.ldy16() + j], kPadY16) << "y16 padding written, " << s.str();
                continue;
            }
            double want = 0.0, mag = 0.0;
            for (int64_t k = 0; k < s.K; k++) {
                const double a = bf16_bits_to_f32(x[s.x_off + n * s.ldx + k]);
                const double b = bf16_bits_to_f32(w[j * s.wsr() + k * s.wsk()]);
                want += a * b;
                mag += std::fabs(a * b);
            }
            want *= alpha;
            mag *= alpha;
            const double bound = slack * std::ldexp(1.0, -24) * mag + 1e-30;
            if (s.want_y) {
                const float got = r.y[n * s.ldy() + j];
                ASSERT_LE(std::fabs(got - want), bound)
                    << "y[" << n << "][" << j << "] = " << got << ", want " << want << ", "
                    << s.str() << ", " << kernels::device_name(ctx.device);
                if (s.want_y16) {
                    ASSERT_EQ(r.y16[n * s.ldy16() + j], f32_to_bf16_bits(got))
                        << "y16 is not bf16(y) at [" << n << "][" << j << "], " << s.str();
                }
            } else {
                const uint16_t got = r.y16[n * s.ldy16() + j];
                const uint16_t want_bits = f32_to_bf16_bits(static_cast<float>(want));
                const double g = bf16_bits_to_f32(got);
                ASSERT_TRUE(std::abs(ordinal(got) - ordinal(want_bits)) <= 1 ||
                            std::fabs(g - want) <= bound + std::ldexp(std::fabs(want), -8))
                    << "y16[" << n << "][" << j << "] = " << g << ", want " << want << ", "
                    << s.str() << ", " << kernels::device_name(ctx.device);
            }
        }
    }
}

// One lora_grad_bf16 call: d (N, R) in rows of ldd at d_off, x (N, M) in rows of ldx at x_off;
// out (R, M) row-major with row stride M + 3 (out_rows) or (M, R) with row stride R + 2.
struct GradShape {
    int64_t N, M, R, ldd, d_off, ldx, x_off;
    bool out_rows;

    int64_t osr() const { return out_rows ? M + 3 : 1; }

    int64_t osm() const { return out_rows ? 1 : R + 2; }

    int64_t out_size() const { return out_rows ? R * osr() : M * osm(); }

    std::string str() const {
        return fmt::format("N={} M={} R={} ldd={} d_off={} ldx={} x_off={} out={}", N, M, R, ldd,
                           d_off, ldx, x_off, out_rows ? "(R,M)" : "(M,R)");
    }
};

std::vector<float> run_grad(const kernels::Ctx& ctx, const GradShape& s,
                            const std::vector<uint16_t>& d, const std::vector<uint16_t>& x,
                            const std::vector<float>& out0, float alpha) {
    std::vector<float> out = out0;
    if (ctx.device == kernels::Device::kCpu) {
        kernels::lora_grad_bf16(ctx, s.N, s.M, s.R, d.data() + s.d_off, s.ldd, x.data() + s.x_off,
                                s.ldx, alpha, out.data(), s.osr(), s.osm());
        return out;
    }
    auto dd = to_device(d), dx = to_device(x), dout = to_device(out);
    kernels::lora_grad_bf16(ctx, s.N, s.M, s.R, static_cast<const uint16_t*>(dd.data()) + s.d_off,
                            s.ldd, static_cast<const uint16_t*>(dx.data()) + s.x_off, s.ldx, alpha,
                            static_cast<float*>(dout.data()), s.osr(), s.osm());
    kernels::stream_synchronize(ctx);
    return from_device<float>(dout);
}

// Checks columns m % col_step == 0 (and the last) against out0 + alpha * (double sums); on CUDA
// also that a second run gives the same bits.
void check_grad(const kernels::Ctx& ctx, const GradShape& s, int64_t col_step = 1) {
    const float alpha = -0.625f;
    const auto d = random_bf16(static_cast<size_t>(s.d_off + std::max<int64_t>(1, s.N * s.ldd)),
                               -1.0f, 1.0f, 21);
    const auto x = random_bf16(static_cast<size_t>(s.x_off + std::max<int64_t>(1, s.N * s.ldx)),
                               -1.0f, 1.0f, 22);
    auto out0 = random_floats(static_cast<size_t>(s.out_size()), -1.0f, 1.0f, 23);
    const std::vector<float> out = run_grad(ctx, s, d, x, out0, alpha);
    if (ctx.device == kernels::Device::kCuda) {
        const std::vector<float> again = run_grad(ctx, s, d, x, out0, alpha);
        ASSERT_EQ(std::memcmp(out.data(), again.data(), out.size() * sizeof(float)), 0)
            << "two runs differ: " << s.str();
    }
    std::vector<bool> used(out.size(), false);
    const double slack = 4.0 * static_cast<double>(s.N + 2);
    for (int64_t m = 0; m < s.M; m++) {
        for (int64_t j = 0; j < s.R; j++) {
            const size_t at = static_cast<size_t>(j * s.osr() + m * s.osm());
            used[at] = true;
            if (m % col_step != 0 && m != s.M - 1) {
                continue;
            }
            double sum = 0.0, mag = 0.0;
            for (int64_t n = 0; n < s.N; n++) {
                const double a = bf16_bits_to_f32(d[s.d_off + n * s.ldd + j]);
                const double b = bf16_bits_to_f32(x[s.x_off + n * s.ldx + m]);
                sum += a * b;
                mag += std::fabs(a * b);
            }
            const double want = out0[at] + alpha * sum;
            mag = std::fabs(alpha) * mag + std::fabs(out0[at]);
            const double bound = slack * std::ldexp(1.0, -24) * mag + 1e-30;
            ASSERT_LE(std::fabs(out[at] - want), bound)
                << "out[j " << j << "][m " << m << "] = " << out[at] << ", want " << want << ", "
                << s.str() << ", " << kernels::device_name(ctx.device);
        }
    }
    for (size_t i = 0; i < out.size(); i++) {
        if (!used[i]) {
            ASSERT_EQ(std::memcmp(&out[i], &out0[i], sizeof(float)), 0)
                << "out padding " << i << " written, " << s.str();
        }
    }
}

// Odd sizes (scalar paths), 8-aligned strides (vector paths with tails), both w layouts.
std::vector<DownShape> down_shapes(bool with_offsets) {
    std::vector<DownShape> shapes;
    for (const int64_t R : {1, 7, 16, 24, 64}) {
        for (const bool w_rows : {true, false}) {
            shapes.push_back({33, 17, R, 18, 0, w_rows, 1, true, true});    // odd ldx: scalar
            shapes.push_back({33, 40, R, 48, 0, w_rows, 8, true, false});   // vector, k tail
            shapes.push_back({130, 64, R, 64, 0, w_rows, 0, false, true});  // two row tiles
            if (with_offsets) {
                shapes.push_back({33, 40, R, 48, 1, w_rows, 3, true, true});  // unaligned x, w
            }
        }
    }
    shapes.push_back({9, 0, 5, 1, 0, true, 1, true, true});           // K = 0: zeros
    shapes.push_back({33, 3000, 16, 3008, 0, true, 0, true, true});   // splits over K
    shapes.push_back({33, 3000, 16, 3001, 0, false, 0, true, true});  // splits, scalar
    return shapes;
}

std::vector<GradShape> grad_shapes(bool with_offsets) {
    std::vector<GradShape> shapes;
    for (const int64_t R : {1, 7, 16, 24, 64}) {
        for (const bool out_rows : {true, false}) {
            shapes.push_back({33, 17, R, R + 3, 0, 18, 0, out_rows});              // odd: scalar
            shapes.push_back({40, 130, R, (R + 7) / 8 * 8, 0, 136, 0, out_rows});  // vector
            if (with_offsets) {
                shapes.push_back({33, 40, R, R + 8, 1, 48, 1, out_rows});  // unaligned d, x
            }
        }
    }
    shapes.push_back({1000, 130, 16, 16, 0, 136, 0, true});   // splits over N
    shapes.push_back({1000, 130, 16, 19, 0, 131, 0, false});  // splits, scalar
    return shapes;
}

TEST(LoraDownBf16, CpuMatchesDoubleSums) {
    for (const auto& s : down_shapes(true)) {
        check_down(kCpuCtx, s);
    }
}

TEST(LoraGradBf16, CpuMatchesDoubleSumsAndAccumulates) {
    for (const auto& s : grad_shapes(true)) {
        check_grad(kCpuCtx, s);
    }
    // N = 0: out unchanged (null inputs allowed).
    std::vector<float> out(6, 0.5f);
    kernels::lora_grad_bf16(kCpuCtx, 0, 3, 2, nullptr, 2, nullptr, 3, 1.0f, out.data(), 3, 1);
    EXPECT_EQ(out, std::vector<float>(6, 0.5f));
}

TEST(LoraThin, RejectBadArgumentsNamingTheOpAndField) {
    std::vector<uint16_t> h(256, 0x3F80);
    std::vector<float> f(256, 0.0f);
    using kernels::lora_down_bf16;
    using kernels::lora_grad_bf16;
    expect_error(
        [&] {
            lora_down_bf16(kCpuCtx, 2, 8, 4, h.data(), 4, h.data(), 8, 1, 1.0f, f.data(), 4,
                           nullptr, 4);
        },
        {"lora_down_bf16", "ldx (>= K)"});
    expect_error(
        [&] {
            lora_down_bf16(kCpuCtx, 2, 8, 0, h.data(), 8, h.data(), 8, 1, 1.0f, f.data(), 4,
                           nullptr, 4);
        },
        {"lora_down_bf16", "R >= 1"});
    expect_error(
        [&] {
            lora_down_bf16(kCpuCtx, 2, 8, 4, h.data(), 8, h.data(), 8, 1, 1.0f, nullptr, 4, nullptr,
                           4);
        },
        {"lora_down_bf16", "at least one output"});
    expect_error(
        [&] {
            lora_down_bf16(kCpuCtx, 2, 8, 4, h.data(), 8, h.data(), 8, 1, 1.0f, f.data(), 3,
                           nullptr, 4);
        },
        {"lora_down_bf16", "ldy (>= R)"});
    expect_error(
        [&] {
            lora_down_bf16(kCpuCtx, 2, 8, 4, h.data(), 8, h.data(), 8, 1, 1.0f, nullptr, 4,
                           h.data(), 2);
        },
        {"lora_down_bf16", "ldy16 (>= R)"});
    expect_error(
        [&] {
            lora_down_bf16(kCpuCtx, 2, 8, 4, h.data(), 8, nullptr, 8, 1, 1.0f, f.data(), 4, nullptr,
                           4);
        },
        {"lora_down_bf16", "w must not be null"});
    expect_error(
        [&] {
            lora_down_bf16(kCpuCtx, 2, 8, 4, h.data(), 8, h.data(), 0, 1, 1.0f, f.data(), 4,
                           nullptr, 4);
        },
        {"lora_down_bf16", "w_stride_r"});
    expect_error(
        [&] { lora_grad_bf16(kCpuCtx, 2, 8, 4, h.data(), 3, h.data(), 8, 1.0f, f.data(), 8, 1); },
        {"lora_grad_bf16", "ldd (>= R)"});
    expect_error(
        [&] { lora_grad_bf16(kCpuCtx, 2, 8, 4, h.data(), 4, h.data(), 7, 1.0f, f.data(), 8, 1); },
        {"lora_grad_bf16", "ldx (>= M)"});
    expect_error(
        [&] { lora_grad_bf16(kCpuCtx, 2, 8, 4, h.data(), 4, h.data(), 8, 1.0f, nullptr, 8, 1); },
        {"lora_grad_bf16", "out must not be null"});
    expect_error(
        [&] { lora_grad_bf16(kCpuCtx, -1, 8, 4, h.data(), 4, h.data(), 8, 1.0f, f.data(), 8, 1); },
        {"lora_grad_bf16", "N >= 0"});
    expect_error(
        [&] { lora_grad_bf16(kCpuCtx, 2, 8, 4, h.data(), 4, h.data(), 8, 1.0f, f.data(), 8, 0); },
        {"lora_grad_bf16", "out_stride_m"});
}

TEST(LoraDownBf16Cuda, MatchesDoubleSumsOnOddAndSplitShapes) {
    SKIP_WITHOUT_GPU();
    auto shapes = down_shapes(true);
    shapes.push_back({33, 40, 80, 48, 0, true, 0, true, true});    // R > 64: cuBLASLt
    shapes.push_back({33, 40, 80, 48, 0, false, 0, false, true});  // cuBLASLt, y16 only
    for (const auto& s : shapes) {
        check_down(kCudaCtx, s);
    }
}

TEST(LoraGradBf16Cuda, MatchesDoubleSumsOnOddAndSplitShapesDeterministically) {
    SKIP_WITHOUT_GPU();
    auto shapes = grad_shapes(true);
    shapes.push_back({40, 130, 80, 80, 0, 136, 0, true});   // R > 64: cuBLASLt
    shapes.push_back({40, 130, 80, 80, 0, 136, 0, false});  // cuBLASLt, (M, R) out
    for (const auto& s : shapes) {
        check_grad(kCudaCtx, s);
    }
}

// The Llama-3-8B shapes of one projection at N = 4096 tokens, R = 16, strides as the fused path
// lays them out (bf16_row_stride(cols + r)); every 7th row / column is checked.
TEST(LoraThinCuda, LlamaShapesMatchDoubleSums) {
    SKIP_WITHOUT_GPU();
    for (const int64_t K : {4096, 14336}) {
        check_down(kCudaCtx, {4096, K, 16, K + 16, 0, true, 16, true, true}, 7);    // u = x A^T
        check_down(kCudaCtx, {4096, K, 16, K + 16, 0, false, 16, false, true}, 7);  // dU = dy sB
        check_grad(kCudaCtx, {4096, K, 16, K + 16, 0, K + 16, 0, true}, 7);         // dA += dU^T x
        check_grad(kCudaCtx, {4096, K, 16, 16, 0, K + 16, 0, false}, 7);  // dB += s dy^T u
    }
}

}  // namespace
}  // namespace qforge::test
