// What is here: RoPE frequencies (default, llama3 against values worked out by hand from
// transformers' formula, linear), tables, the rotate_half pairing, forward against an
// HF-style naive formula, and backward (inverse rotation, finite differences); the bf16-row
// twins against the fp32 ops rounded (padding untouched, odd N, several H/D), their argument
// errors, and on a GPU the rows with a negative position.
#include <cmath>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <numbers>
#include <vector>

#include "kernels/bf16_bits.h"
#include "kernels/cuda_test_util.h"
#include "kernels/kernel_test_util.h"
#include "kernels/registry.h"
#include "kernels/rope.h"
#include "support/test_support.h"

namespace qforge::test {
namespace {

using kernels::RopeScaling;

TEST(RopeInvFreq, DefaultIsThetaPower) {
    for (const int64_t D : {6, 64, 128}) {
        std::vector<float> f(D / 2);
        kernels::rope_inv_freq(f.data(), D, 10000.0f, RopeScaling{});
        for (int64_t i = 0; i < D / 2; i++) {
            const double want = std::pow(10000.0, -2.0 * static_cast<double>(i) / D);
            ASSERT_NEAR(f[i], want, 1e-7 * want) << "D=" << D << " i=" << i;
        }
    }
}

// Llama 3.1 settings: factor 8, low 1, high 4, original 8192, theta 500000, D = 128.
RopeScaling llama3_scaling() {
    RopeScaling s;
    s.type = RopeScaling::Type::kLlama3;
    s.factor = 8;
    s.low_freq_factor = 1;
    s.high_freq_factor = 4;
    s.original_max_position = 8192;
    return s;
}

TEST(RopeInvFreq, Llama3MatchesHandComputedValues) {
    std::vector<float> f(64);
    kernels::rope_inv_freq(f.data(), 128, 500000.0f, llama3_scaling());

    // Worked out from transformers' _compute_llama3_parameters in float64:
    // wavelen = 2 pi / inv; < 2048 kept, > 8192 divided by 8, in between blended with
    // smooth = (8192 / wavelen - 1) / 3 as (1 - smooth) * inv / 8 + smooth * inv.
    struct Anchor {
        int i;
        double value;  // band
    };

    const Anchor anchors[] = {
        {0, 1.0},                      // high frequency: unchanged
        {28, 0.0032114459947525913},   // wavelen 1956.5 < 2048: unchanged
        {29, 0.002166570763503359},    // wavelen 2401.7: smooth 0.8036
        {32, 0.0005248461609929547},   // wavelen 4442.9: smooth 0.2813
        {34, 0.00017850781276799638},  // wavelen 6695.1: smooth 0.0745
        {35, 9.556212353964683e-05},   // wavelen 8218.7 > 8192: divided by 8
        {63, 3.068925988914511e-07},   // lowest frequency: divided by 8
    };
    for (const auto& a : anchors) {
        EXPECT_NEAR(f[a.i], a.value, 2e-7 * a.value) << "i=" << a.i;
    }
    // Every entry against the same formula written out here in double.
    for (int i = 0; i < 64; i++) {
        const double inv = std::pow(500000.0, -2.0 * i / 128.0);
        const double wavelen = 2 * std::numbers::pi / inv;
        double want = inv;
        if (wavelen > 8192.0) {
            want = inv / 8;
        } else if (wavelen >= 2048.0) {
            const double smooth = (8192.0 / wavelen - 1.0) / 3.0;
            want = (1 - smooth) * inv / 8 + smooth * inv;
        }
        ASSERT_NEAR(f[i], want, 2e-7 * want) << "i=" << i;
    }
}

TEST(RopeInvFreq, LinearDividesByFactor) {
    RopeScaling s;
    s.type = RopeScaling::Type::kLinear;
    s.factor = 4;
    std::vector<float> plain(32), scaled(32);
    kernels::rope_inv_freq(plain.data(), 64, 10000.0f, RopeScaling{});
    kernels::rope_inv_freq(scaled.data(), 64, 10000.0f, s);
    for (int i = 0; i < 32; i++) {
        EXPECT_FLOAT_EQ(scaled[i], plain[i] / 4) << "i=" << i;
    }
}

TEST(RopeInvFreq, RejectsBadSettings) {
    std::vector<float> f(64);
    expect_error([&] { kernels::rope_inv_freq(f.data(), 7, 10000.0f, RopeScaling{}); },
                 {"rope_inv_freq", "even", "7"});
    auto s = llama3_scaling();
    s.high_freq_factor = s.low_freq_factor;
    expect_error([&] { kernels::rope_inv_freq(f.data(), 128, 500000.0f, s); },
                 {"low_freq_factor", "high_freq_factor"});
}

TEST(RopeTables, AnglesArePositionTimesFrequency) {
    const int64_t D = 6, T = 40;
    std::vector<float> f(D / 2), cos(T * D / 2), sin(T * D / 2);
    kernels::rope_inv_freq(f.data(), D, 10000.0f, RopeScaling{});
    kernels::rope_tables(cos.data(), sin.data(), f.data(), T, D);
    for (int64_t t = 0; t < T; t++) {
        for (int64_t i = 0; i < D / 2; i++) {
            const double angle = static_cast<double>(t) * f[i];
            ASSERT_NEAR(cos[t * 3 + i], std::cos(angle), 1e-7) << "t=" << t << " i=" << i;
            ASSERT_NEAR(sin[t * 3 + i], std::sin(angle), 1e-7) << "t=" << t << " i=" << i;
        }
    }
}

// Naive Hugging Face apply_rotary_pos_emb for one head: x * cos_full + rotate_half(x) * sin_full,
// where cos_full = cat(cos, cos) and rotate_half(x) = cat(-x2, x1).
std::vector<double> hf_rope_head(const float* x, const float* cos, const float* sin, int64_t D) {
    const int64_t half = D / 2;
    std::vector<double> rotated(D), out(D);
    for (int64_t j = 0; j < D; j++) {
        rotated[j] = j < half ? -static_cast<double>(x[j + half]) : x[j - half];
    }
    for (int64_t j = 0; j < D; j++) {
        const int64_t i = j % half;
        out[j] = x[j] * static_cast<double>(cos[i]) + rotated[j] * sin[i];
    }
    return out;
}

struct RopeShape {
    int64_t N, H, D;
};

void PrintTo(const RopeShape& s, std::ostream* os) {
    *os << fmt::format("N={},H={},D={}", s.N, s.H, s.D);
}

class RopeShapes : public ::testing::TestWithParam<RopeShape> {
protected:
    void SetUp() override {
        const auto s = GetParam();
        std::vector<float> f(s.D / 2);
        kernels::rope_inv_freq(f.data(), s.D, 10000.0f, RopeScaling{});
        cos_.resize(kTmax * s.D / 2);
        sin_.resize(kTmax * s.D / 2);
        kernels::rope_tables(cos_.data(), sin_.data(), f.data(), kTmax, s.D);
        pos_ = random_ints(s.N, 0, kTmax, 7);
    }

    static constexpr int64_t kTmax = 50;
    std::vector<float> cos_, sin_;
    std::vector<int32_t> pos_;
};

TEST_P(RopeShapes, ForwardMatchesHfFormula) {
    const auto s = GetParam();
    const auto x0 = random_floats(s.N * s.H * s.D, -1, 1, 1);
    auto x = x0;
    kernels::rope_forward(kCpuCtx, x.data(), pos_.data(), cos_.data(), sin_.data(), s.N, s.H, s.D);
    for (int64_t n = 0; n < s.N; n++) {
        for (int64_t h = 0; h < s.H; h++) {
            const int64_t off = (n * s.H + h) * s.D;
            const auto want = hf_rope_head(x0.data() + off, cos_.data() + pos_[n] * s.D / 2,
                                           sin_.data() + pos_[n] * s.D / 2, s.D);
            for (int64_t d = 0; d < s.D; d++) {
                ASSERT_NEAR(x[off + d], want[d], 3e-7) << "n=" << n << " h=" << h << " d=" << d;
            }
        }
    }
}

TEST_P(RopeShapes, BackwardIsInverseAndMatchesFiniteDifferences) {
    const auto s = GetParam();
    // R^T R = I: backward undoes forward.
    const auto x0 = random_floats(s.N * s.H * s.D, -1, 1, 1);
    auto x = x0;
    kernels::rope_forward(kCpuCtx, x.data(), pos_.data(), cos_.data(), sin_.data(), s.N, s.H, s.D);
    kernels::rope_backward(kCpuCtx, x.data(), pos_.data(), cos_.data(), sin_.data(), s.N, s.H, s.D);
    EXPECT_LT(rel_error(to_double(x), to_double(x0)), 1e-6);

    // d(sum w * rope(x))/dx by finite differences equals rope_backward(w).
    auto xin = x0;
    const auto w = random_floats(x0.size(), -1, 1, 2);
    auto loss = [&] {
        auto y = xin;
        kernels::rope_forward(kCpuCtx, y.data(), pos_.data(), cos_.data(), sin_.data(), s.N, s.H,
                              s.D);
        return dot(y, w);
    };
    auto grad = w;
    kernels::rope_backward(kCpuCtx, grad.data(), pos_.data(), cos_.data(), sin_.data(), s.N, s.H,
                           s.D);
    EXPECT_LT(rel_error(to_double(grad), numeric_gradient(xin, loss)), kFdTolerance);
}

INSTANTIATE_TEST_SUITE_P(Rope, RopeShapes,
                         ::testing::Values(RopeShape{5, 3, 6}, RopeShape{5, 4, 8},
                                           RopeShape{7, 2, 70}),
                         [](const auto& param_info) {
                             return fmt::format("N{}_H{}_D{}", param_info.param.N,
                                                param_info.param.H, param_info.param.D);
                         });

TEST(Rope, PairsElementWithElementPlusHalf) {
    // A unit vector at element i of a head lands on elements i and i + D/2 only (rotate_half),
    // never on 2i+1 (the interleaved convention).
    const int64_t D = 8, T = 4;
    std::vector<float> f(D / 2), cos(T * D / 2), sin(T * D / 2);
    kernels::rope_inv_freq(f.data(), D, 10000.0f, RopeScaling{});
    kernels::rope_tables(cos.data(), sin.data(), f.data(), T, D);
    const std::vector<int32_t> pos = {3};
    for (int64_t i = 0; i < D / 2; i++) {
        std::vector<float> x(D, 0.0f);
        x[i] = 1.0f;
        kernels::rope_forward(kCpuCtx, x.data(), pos.data(), cos.data(), sin.data(), 1, 1, D);
        for (int64_t j = 0; j < D; j++) {
            if (j == i) {
                EXPECT_FLOAT_EQ(x[j], cos[3 * 4 + i]);
            } else if (j == i + D / 2) {
                EXPECT_FLOAT_EQ(x[j], sin[3 * 4 + i]);
            } else {
                EXPECT_EQ(x[j], 0.0f) << "i=" << i << " leaked into j=" << j;
            }
        }
    }
}

TEST(Rope, RejectsOddHeadDimAndNegativePositions) {
    std::vector<float> x(70, 0.5f), table(100, 0.5f);
    std::vector<int32_t> pos = {0, -3};
    expect_error(
        [&] {
            kernels::rope_forward(kCpuCtx, x.data(), pos.data(), table.data(), table.data(), 2, 5,
                                  7);
        },
        {"rope_forward", "even", "7"});
    expect_error(
        [&] {
            kernels::rope_backward(kCpuCtx, x.data(), pos.data(), table.data(), table.data(), 2, 1,
                                   6);
        },
        {"rope_backward", "pos[1] = -3"});
}

// ---- bf16 rows --------------------------------------------------------------------------------

struct RopeBf16Shape {
    int64_t N, H, D, ld;
};

// Tables for head size D over T positions (default frequencies).
void make_tables(int64_t D, int64_t T, std::vector<float>& cos, std::vector<float>& sin) {
    std::vector<float> f(D / 2);
    kernels::rope_inv_freq(f.data(), D, 10000.0f, RopeScaling{});
    cos.resize(T * D / 2);
    sin.resize(T * D / 2);
    kernels::rope_tables(cos.data(), sin.data(), f.data(), T, D);
}

// N rows of stride ld: H*D random non-zero bf16 values, the padding a recognisable pattern.
std::vector<uint16_t> padded_rows(const RopeBf16Shape& s, uint64_t salt) {
    const auto values = random_bf16(s.N * s.H * s.D, -2.0f, 2.0f, salt);
    std::vector<uint16_t> rows(s.N * s.ld, 0x7BCD);
    for (int64_t n = 0; n < s.N; n++) {
        std::copy_n(values.begin() + n * s.H * s.D, s.H * s.D, rows.begin() + n * s.ld);
    }
    return rows;
}

class RopeBf16Shapes : public ::testing::TestWithParam<RopeBf16Shape> {};

TEST_P(RopeBf16Shapes, ForwardIsTheFp32OpRounded) {
    const auto s = GetParam();
    constexpr int64_t kT = 41;
    std::vector<float> cos, sin;
    make_tables(s.D, kT, cos, sin);
    const auto pos = random_ints(s.N, 0, kT, 3);
    const auto rows0 = padded_rows(s, 4);
    // the fp32 op on the widened values
    std::vector<float> x(s.N * s.H * s.D);
    for (int64_t n = 0; n < s.N; n++) {
        for (int64_t c = 0; c < s.H * s.D; c++) {
            x[n * s.H * s.D + c] = kernels::bf16_bits_to_f32(rows0[n * s.ld + c]);
        }
    }
    kernels::rope_forward(kCpuCtx, x.data(), pos.data(), cos.data(), sin.data(), s.N, s.H, s.D);
    auto rows = rows0;
    kernels::rope_forward_bf16(kCpuCtx, rows.data(), s.ld, pos.data(), cos.data(), sin.data(), s.N,
                               s.H, s.D);
    for (int64_t n = 0; n < s.N; n++) {
        for (int64_t c = 0; c < s.ld; c++) {
            const uint16_t want = c < s.H * s.D ? kernels::f32_to_bf16_bits(x[n * s.H * s.D + c])
                                                : rows0[n * s.ld + c];
            ASSERT_EQ(rows[n * s.ld + c], want) << "row " << n << " column " << c;
        }
    }
}

TEST_P(RopeBf16Shapes, BackwardToBf16IsRopeBackwardRounded) {
    const auto s = GetParam();
    constexpr int64_t kT = 41;
    std::vector<float> cos, sin;
    make_tables(s.D, kT, cos, sin);
    const auto pos = random_ints(s.N, 0, kT, 5);
    const auto dx = random_floats(s.N * s.H * s.D, -2, 2, 6);
    auto want = dx;
    kernels::rope_backward(kCpuCtx, want.data(), pos.data(), cos.data(), sin.data(), s.N, s.H, s.D);
    const auto rows0 = padded_rows(s, 7);
    auto rows = rows0;
    const auto dx_in = dx;
    kernels::rope_backward_to_bf16(kCpuCtx, rows.data(), s.ld, dx_in.data(), pos.data(), cos.data(),
                                   sin.data(), s.N, s.H, s.D);
    EXPECT_EQ(dx_in, dx) << "dx must not be modified";
    for (int64_t n = 0; n < s.N; n++) {
        for (int64_t c = 0; c < s.ld; c++) {
            const uint16_t expect = c < s.H * s.D
                                        ? kernels::f32_to_bf16_bits(want[n * s.H * s.D + c])
                                        : rows0[n * s.ld + c];
            ASSERT_EQ(rows[n * s.ld + c], expect) << "row " << n << " column " << c;
        }
    }
    // and it is (close to) the inverse of the forward: R^T R x = x up to two bf16 roundings
    std::vector<float> back(s.N * s.H * s.D);
    auto fwd = rows0;
    kernels::rope_forward_bf16(kCpuCtx, fwd.data(), s.ld, pos.data(), cos.data(), sin.data(), s.N,
                               s.H, s.D);
    std::vector<double> x0, x1;
    for (int64_t n = 0; n < s.N; n++) {
        for (int64_t c = 0; c < s.H * s.D; c++) {
            back[n * s.H * s.D + c] = kernels::bf16_bits_to_f32(fwd[n * s.ld + c]);
            x0.push_back(kernels::bf16_bits_to_f32(rows0[n * s.ld + c]));
        }
    }
    kernels::rope_backward(kCpuCtx, back.data(), pos.data(), cos.data(), sin.data(), s.N, s.H, s.D);
    EXPECT_LT(rel_error(to_double(back), x0), 4e-3);
}

INSTANTIATE_TEST_SUITE_P(Rope, RopeBf16Shapes,
                         ::testing::Values(RopeBf16Shape{1, 1, 2, 2}, RopeBf16Shape{7, 3, 6, 21},
                                           RopeBf16Shape{5, 4, 8, 32}, RopeBf16Shape{3, 2, 70, 141},
                                           RopeBf16Shape{9, 2, 128, 264}),
                         [](const auto& param_info) {
                             const auto& p = param_info.param;
                             return fmt::format("N{}_H{}_D{}_ld{}", p.N, p.H, p.D, p.ld);
                         });

TEST(RopeBf16, RejectsShortRowsNullsAndNegativePositions) {
    std::vector<uint16_t> rows(64, 0x3F80);
    std::vector<float> dx(64, 0.5f), table(100, 0.5f);
    std::vector<int32_t> pos = {0, -3};
    expect_error(
        [&] {
            kernels::rope_forward_bf16(kCpuCtx, rows.data(), 15, pos.data(), table.data(),
                                       table.data(), 2, 2, 8);
        },
        {"rope_forward_bf16", "ld", "16", "15"});
    expect_error(
        [&] {
            kernels::rope_backward_to_bf16(kCpuCtx, nullptr, 16, dx.data(), pos.data(),
                                           table.data(), table.data(), 2, 2, 8);
        },
        {"rope_backward_to_bf16", "dst"});
    expect_error(
        [&] {
            kernels::rope_backward_to_bf16(kCpuCtx, rows.data(), 16, dx.data(), pos.data(),
                                           table.data(), table.data(), 2, 2, 7);
        },
        {"rope_backward_to_bf16", "even", "7"});
    expect_error(
        [&] {
            kernels::rope_forward_bf16(kCpuCtx, rows.data(), 16, pos.data(), table.data(),
                                       table.data(), 2, 2, 8);
        },
        {"rope_forward_bf16", "pos[1] = -3"});
}

// On CUDA a negative position is not checked (it would need a sync): the forward leaves the row
// alone and the backward stores dx unrotated, as the fp32 kernel leaves both. Every other row is
// the CPU's, bit for bit.
TEST(RopeBf16, CudaLeavesNegativePositionRowsUnrotated) {
    if (!kernels::cuda_available()) {
        GTEST_SKIP() << "no GPU present";
    }
    const RopeBf16Shape s{5, 4, 64, 264};
    constexpr int64_t kT = 41;
    std::vector<float> cos, sin;
    make_tables(s.D, kT, cos, sin);
    auto pos = random_ints(s.N, 0, kT, 9);
    const auto rows0 = padded_rows(s, 10);
    const auto dx = random_floats(s.N * s.H * s.D, -2, 2, 11);
    auto cpu_fwd = rows0, cpu_bwd = rows0;
    kernels::rope_forward_bf16(kCpuCtx, cpu_fwd.data(), s.ld, pos.data(), cos.data(), sin.data(),
                               s.N, s.H, s.D);
    kernels::rope_backward_to_bf16(kCpuCtx, cpu_bwd.data(), s.ld, dx.data(), pos.data(), cos.data(),
                                   sin.data(), s.N, s.H, s.D);
    pos[2] = -1;
    const auto d_pos = to_device(pos), d_cos = to_device(cos), d_sin = to_device(sin);
    const auto d_fwd = to_device(rows0), d_bwd = to_device(rows0), d_dx = to_device(dx);
    kernels::rope_forward_bf16(kCudaCtx, static_cast<uint16_t*>(d_fwd.data()), s.ld,
                               static_cast<const int32_t*>(d_pos.data()),
                               static_cast<const float*>(d_cos.data()),
                               static_cast<const float*>(d_sin.data()), s.N, s.H, s.D);
    kernels::rope_backward_to_bf16(kCudaCtx, static_cast<uint16_t*>(d_bwd.data()), s.ld,
                                   static_cast<const float*>(d_dx.data()),
                                   static_cast<const int32_t*>(d_pos.data()),
                                   static_cast<const float*>(d_cos.data()),
                                   static_cast<const float*>(d_sin.data()), s.N, s.H, s.D);
    kernels::stream_synchronize(kCudaCtx);
    const auto fwd = from_device<uint16_t>(d_fwd), bwd = from_device<uint16_t>(d_bwd);
    for (int64_t n = 0; n < s.N; n++) {
        for (int64_t c = 0; c < s.ld; c++) {
            const int64_t e = n * s.ld + c;
            const bool value = c < s.H * s.D;
            const uint16_t want_fwd = n == 2 ? rows0[e] : cpu_fwd[e];
            const uint16_t want_bwd =
                n == 2 && value ? kernels::f32_to_bf16_bits(dx[n * s.H * s.D + c]) : cpu_bwd[e];
            ASSERT_EQ(fwd[e], want_fwd) << "forward row " << n << " column " << c;
            ASSERT_EQ(bwd[e], want_bwd) << "backward row " << n << " column " << c;
        }
    }
}

}  // namespace
}  // namespace qforge::test
