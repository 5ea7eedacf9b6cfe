// What is here: the bf16 operand ops against references written here. The CPU rounding rule
// (kernels/bf16_bits.h) on known bit patterns and against an independent nearest-value search
// in double; convert_to_bf16 and nf4_dequantize_bf16 on the CPU, padding columns untouched;
// convert_from_bf16 widening all 65536 bf16 patterns bit for bit (NaN payloads too) and the round
// trip convert_from_bf16 -> convert_to_bf16 -> convert_from_bf16 exact for every non-NaN value;
// gemm_bf16 on the CPU against double dot products of the widened values (every transpose pair,
// padded leading dimensions, beta 0 with a NaN C, K = 0); gemm_bf16_to_bf16 on the CPU against the
// same double dot products rounded to bf16 (within one bf16 ulp); argument errors. With a GPU:
// gemm_bf16 and gemm_bf16_to_bf16 on cuBLASLt against the same double references (padded
// strides), and the ops at Llama-3-8B MLP size (bit-exact against the CPU for the conversions
// both ways, sampled dots for the GEMM), with timings.
#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <gtest/gtest.h>
#include <limits>
#include <random>
#include <vector>

#include "kernels/bf16.h"
#include "kernels/bf16_bits.h"
#include "kernels/cuda_test_util.h"
#include "kernels/gemm.h"
#include "kernels/kernel_test_util.h"
#include "kernels/memory.h"
#include "kernels/nf4.h"
#include "support/test_support.h"

namespace qforge::test {
namespace {

using kernels::bf16_bits_to_f32;
using kernels::f32_to_bf16_bits;

constexpr uint16_t kPad = 0xBEEF;  // what padding columns hold before and must hold after

// Round to nearest even by search: the two bf16 neighbours of |x| (truncated, and one up) and
// the nearer in double; a tie goes to the even one; past the largest bf16 the upper neighbour
// is inf, weighed as 2^128 (IEEE's overflow threshold). NaN -> 0x7FFF.
uint16_t reference_round(float x) {
    if (std::isnan(x)) {
        return 0x7FFF;
    }
    const uint32_t bits = std::bit_cast<uint32_t>(x);
    const auto lo = static_cast<uint16_t>(bits >> 16);  // truncation: toward zero
    if ((bits & 0xFFFFu) == 0) {
        return lo;
    }
    const auto hi = static_cast<uint16_t>(lo + 1);  // next magnitude, same sign
    const double ax = std::fabs(static_cast<double>(x));
    const double vlo = std::fabs(static_cast<double>(bf16_bits_to_f32(lo)));
    const double vhi = (hi & 0x7FFFu) == 0x7F80u
                           ? std::ldexp(1.0, 128)
                           : std::fabs(static_cast<double>(bf16_bits_to_f32(hi)));
    const double dlo = ax - vlo, dhi = vhi - ax;
    if (dlo != dhi) {
        return dlo < dhi ? lo : hi;
    }
    return (lo & 1u) == 0 ? lo : hi;
}

float from_bits(uint32_t bits) {
    return std::bit_cast<float>(bits);
}

TEST(Bf16Bits, RoundsKnownValuesToNearestEven) {
    const std::vector<std::pair<uint32_t, uint16_t>> cases = {
        {0x3F800000u, 0x3F80},  // 1
        {0x3F808000u, 0x3F80},  // 1 + 2^-8: tie, even is down
        {0x3F818000u, 0x3F82},  // tie, even is up
        {0x3F808001u, 0x3F81},  // past the tie
        {0x3F807FFFu, 0x3F80},  // below the tie
        {0xBF818000u, 0xBF82},  // negative tie
        {0x7F7FFFFFu, 0x7F80},  // FLT_MAX rounds to inf
        {0x7F7F7FFFu, 0x7F7F},  // stays the largest bf16
        {0x7F800000u, 0x7F80},  // inf
        {0xFF800000u, 0xFF80},  // -inf
        {0x00000000u, 0x0000},  // +0
        {0x80000000u, 0x8000},  // -0
        {0x00008000u, 0x0000},  // subnormal tie to even (0)
        {0x00018000u, 0x0002},  // subnormal tie to even (up)
        {0x007FFFFFu, 0x0080},  // the largest subnormal rounds up to the smallest normal
        {0x7FC00000u, 0x7FFF},  // NaN: the canonical NaN, as CUDA's cvt.rn.bf16.f32
        {0xFFC00001u, 0x7FFF},
        {0x7F800001u, 0x7FFF},  // a signalling NaN whose payload truncation would lose
    };
    for (const auto& [in, want] : cases) {
        EXPECT_EQ(f32_to_bf16_bits(from_bits(in)), want) << std::hex << "input 0x" << in;
        EXPECT_EQ(reference_round(from_bits(in)), want) << std::hex << "reference, input 0x" << in;
    }
    // Widening is exact: the bits land in the top half.
    EXPECT_EQ(bf16_bits_to_f32(0x3F80), 1.0f);
    EXPECT_EQ(bf16_bits_to_f32(0xC049), -3.140625f);
    EXPECT_EQ(std::bit_cast<uint32_t>(bf16_bits_to_f32(0x0001)), 0x00010000u);
}

TEST(Bf16Bits, AgreesWithANearestValueSearchOnRandomBitPatterns) {
    std::mt19937_64 rng(test_seed());
    std::uniform_int_distribution<uint32_t> dist;
    for (int k = 0; k < 200000; k++) {
        const uint32_t bits = dist(rng);
        ASSERT_EQ(f32_to_bf16_bits(from_bits(bits)), reference_round(from_bits(bits)))
            << std::hex << "input 0x" << bits;
    }
}

TEST(ConvertToBf16, CpuRoundsScaledValuesAndLeavesPadding) {
    const int64_t rows = 7, cols = 33, ld_in = 37, ld_out = 40;
    const float scale = 0.37f;
    const auto in = random_floats(static_cast<size_t>(rows * ld_in), -4.0f, 4.0f);
    std::vector<uint16_t> out(static_cast<size_t>(rows * ld_out), kPad);
    kernels::convert_to_bf16(kCpuCtx, out.data(), ld_out, in.data(), ld_in, rows, cols, scale);
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t c = 0; c < ld_out; c++) {
            const uint16_t got = out[r * ld_out + c];
            const uint16_t want = c < cols ? reference_round(scale * in[r * ld_in + c]) : kPad;
            ASSERT_EQ(got, want) << "row " << r << ", column " << c;
        }
    }
    kernels::convert_to_bf16(kCpuCtx, nullptr, 1, nullptr, 1, 0, 0, 1.0f);  // no work
}

// Every bf16 pattern, as a (256, 256) matrix with padded rows: convert_from_bf16 widens each to
// the fp32 whose bits are its bits << 16 (the NaNs' sign and payload too), leaving padding;
// convert_to_bf16 (scale 1) of those gives the pattern back (every NaN the canonical 0x7FFF),
// and widening that again gives the same fp32 bits.
TEST(ConvertFromBf16, CpuWidensEveryPatternExactlyAndRoundTrips) {
    const int64_t rows = 256, cols = 256, ld16 = 259, ld32 = 260;
    constexpr uint32_t kPad32 = 0xDEADBEEFu;
    std::vector<uint16_t> in(static_cast<size_t>(rows * ld16), kPad);
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t c = 0; c < cols; c++) {
            in[r * ld16 + c] = static_cast<uint16_t>(r * cols + c);
        }
    }
    std::vector<float> wide(static_cast<size_t>(rows * ld32), std::bit_cast<float>(kPad32));
    kernels::convert_from_bf16(kCpuCtx, wide.data(), ld32, in.data(), ld16, rows, cols);
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t c = 0; c < ld32; c++) {
            const uint32_t got = std::bit_cast<uint32_t>(wide[r * ld32 + c]);
            const uint32_t want = c < cols ? static_cast<uint32_t>(r * cols + c) << 16 : kPad32;
            ASSERT_EQ(got, want) << std::hex << "widened pattern 0x" << r * cols + c;
        }
    }

    std::vector<uint16_t> back(static_cast<size_t>(rows * ld16), kPad);
    kernels::convert_to_bf16(kCpuCtx, back.data(), ld16, wide.data(), ld32, rows, cols, 1.0f);
    std::vector<float> again(static_cast<size_t>(rows * ld32), std::bit_cast<float>(kPad32));
    kernels::convert_from_bf16(kCpuCtx, again.data(), ld32, back.data(), ld16, rows, cols);
    int64_t nans = 0;
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t c = 0; c < cols; c++) {
            const auto pattern = static_cast<uint16_t>(r * cols + c);
            const bool nan = (pattern & 0x7FFFu) > 0x7F80u;
            nans += nan ? 1 : 0;
            ASSERT_EQ(back[r * ld16 + c], nan ? kernels::kBf16CanonicalNan : pattern)
                << std::hex << "round trip of pattern 0x" << pattern;
            ASSERT_EQ(std::bit_cast<uint32_t>(again[r * ld32 + c]),
                      nan ? 0x7FFF0000u : uint32_t{pattern} << 16)
                << std::hex << "second widening of pattern 0x" << pattern;
        }
        for (int64_t c = cols; c < ld32; c++) {
            ASSERT_EQ(std::bit_cast<uint32_t>(again[r * ld32 + c]), kPad32) << "padding, row " << r;
        }
    }
    EXPECT_EQ(nans, 2 * 127);  // 0x7F81..0x7FFF and 0xFF81..0xFFFF
    kernels::convert_from_bf16(kCpuCtx, nullptr, 1, nullptr, 1, 0, 0);  // no work
}

// Weights (rows, cols) quantized to NF4, returned with their storage.
struct Nf4Weights {
    std::vector<uint8_t> packed, absmax_q;
    std::vector<float> nested_absmax;
    float offset = 0.0f;
    int64_t numel = 0;

    kernels::Nf4View view() const {
        return kernels::Nf4View{
            .packed = packed.data(),
            .absmax_q = absmax_q.data(),
            .nested_absmax = nested_absmax.data(),
            .nested_code = kernels::dynamic_map_signed(),
            .code = kernels::nf4_code_table(),
            .offset = offset,
            .numel = numel,
        };
    }
};

Nf4Weights quantize(int64_t numel, uint64_t salt) {
    Nf4Weights q;
    q.numel = numel;
    const auto sizes = kernels::nf4_storage_sizes(numel);
    q.packed.resize(static_cast<size_t>(sizes.packed_bytes));
    q.absmax_q.resize(static_cast<size_t>(sizes.blocks));
    q.nested_absmax.resize(static_cast<size_t>(sizes.nested_blocks));
    const auto w = random_floats(static_cast<size_t>(numel), -0.05f, 0.05f, salt);
    kernels::nf4_quantize(w.data(), numel, q.packed.data(), q.absmax_q.data(),
                          q.nested_absmax.data(), &q.offset);
    return q;
}

TEST(Nf4DequantizeBf16, CpuIsTheRoundedFp32DequantizationInStridedRows) {
    for (const auto& [rows, cols, ld_out] : {std::tuple<int64_t, int64_t, int64_t>{7, 33, 40},
                                             {12, 20, 24},
                                             {3, 64, 64},
                                             {1, 129, 131}}) {
        const Nf4Weights q = quantize(rows * cols, static_cast<uint64_t>(cols));
        std::vector<float> f32(static_cast<size_t>(rows * cols));
        kernels::nf4_dequantize(kCpuCtx, f32.data(), q.view());
        std::vector<uint16_t> out(static_cast<size_t>(rows * ld_out), kPad);
        kernels::nf4_dequantize_bf16(kCpuCtx, out.data(), ld_out, q.view(), rows, cols);
        for (int64_t r = 0; r < rows; r++) {
            for (int64_t c = 0; c < ld_out; c++) {
                const uint16_t want = c < cols ? reference_round(f32[r * cols + c]) : kPad;
                ASSERT_EQ(out[r * ld_out + c], want) << rows << "x" << cols << " ld_out " << ld_out
                                                     << ": row " << r << ", column " << c;
            }
        }
    }
}

struct GemmShape {
    bool ta, tb;
    int64_t M, N, K;
    float alpha, beta;
    int64_t lda, ldb, ldc;
};

// Row m of op(A) times column n of op(B), the bf16 values widened, in double; mag gets the sum
// of the products' magnitudes (the scale of the fp32 summation error).
double widened_dot(const GemmShape& s, const std::vector<uint16_t>& A,
                   const std::vector<uint16_t>& B, int64_t m, int64_t n, double& mag) {
    double dot = 0.0;
    mag = 0.0;
    for (int64_t k = 0; k < s.K; k++) {
        const double a = bf16_bits_to_f32(s.ta ? A[k * s.lda + m] : A[m * s.lda + k]);
        const double b = bf16_bits_to_f32(s.tb ? B[n * s.ldb + k] : B[k * s.ldb + n]);
        dot += a * b;
        mag += std::fabs(a * b);
    }
    return dot;
}

// Runs gemm_bf16 on ctx over random operands and checks every element of C against double dot
// products of the widened values: |got - want| <= slack * 2^-24 * (sum |alpha a b| + |beta c|),
// and C's padding columns unchanged. With beta == 0, C starts as NaN (it must not be read).
void check_gemm_bf16(const kernels::Ctx& ctx, const GemmShape& s, double slack) {
    const int64_t a_rows = s.ta ? s.K : s.M, b_rows = s.tb ? s.N : s.K;
    const auto A =
        random_bf16(static_cast<size_t>(std::max<int64_t>(1, a_rows * s.lda)), -1.0f, 1.0f, 1);
    const auto B =
        random_bf16(static_cast<size_t>(std::max<int64_t>(1, b_rows * s.ldb)), -1.0f, 1.0f, 2);
    auto C0 = random_floats(static_cast<size_t>(s.M * s.ldc), -1.0f, 1.0f, 3);
    for (int64_t m = 0; m < s.M; m++) {
        for (int64_t n = 0; n < s.ldc; n++) {
            float& c = C0[m * s.ldc + n];
            c = n >= s.N ? 1234.5f : (s.beta == 0.0f ? std::numeric_limits<float>::quiet_NaN() : c);
        }
    }
    std::vector<float> C = C0;
    if (ctx.device == kernels::Device::kCpu) {
        kernels::gemm_bf16(ctx, s.ta, s.tb, s.M, s.N, s.K, s.alpha, A.data(), s.lda, B.data(),
                           s.ldb, s.beta, C.data(), s.ldc);
    } else {
        kernels::BackendBuffer dA(ctx, A.size() * 2), dB(ctx, B.size() * 2), dC(ctx, C.size() * 4);
        kernels::buffer_upload(ctx, dA.data(), A.data(), A.size() * 2);
        kernels::buffer_upload(ctx, dB.data(), B.data(), B.size() * 2);
        kernels::buffer_upload(ctx, dC.data(), C.data(), C.size() * 4);
        kernels::gemm_bf16(ctx, s.ta, s.tb, s.M, s.N, s.K, s.alpha,
                           static_cast<const uint16_t*>(dA.data()), s.lda,
                           static_cast<const uint16_t*>(dB.data()), s.ldb, s.beta,
                           static_cast<float*>(dC.data()), s.ldc);
        kernels::buffer_download(ctx, C.data(), dC.data(), C.size() * 4);
    }
    for (int64_t m = 0; m < s.M; m++) {
        for (int64_t n = 0; n < s.ldc; n++) {
            const float got = C[m * s.ldc + n];
            if (n >= s.N) {
                ASSERT_EQ(got, 1234.5f) << "padding column " << n << " of row " << m << " written";
                continue;
            }
            double mag = 0.0;
            const double dot = widened_dot(s, A, B, m, n, mag);
            double want = s.alpha * dot;
            mag *= std::fabs(s.alpha);
            if (s.beta != 0.0f) {
                want += s.beta * static_cast<double>(C0[m * s.ldc + n]);
                mag += std::fabs(s.beta * static_cast<double>(C0[m * s.ldc + n]));
            }
            const double bound = slack * std::ldexp(1.0, -24) * mag + 1e-30;
            ASSERT_LE(std::fabs(got - want), bound)
                << "C[" << m << "][" << n << "] = " << got << ", want " << want << " (op "
                << (s.ta ? 'T' : 'N') << (s.tb ? 'T' : 'N') << ", M " << s.M << " N " << s.N
                << " K " << s.K << ", beta " << s.beta << ")";
        }
    }
}

// Runs gemm_bf16_to_bf16 on ctx (alpha, M, N, K and strides of s; beta is not used) and checks
// every element of C against the double dot product of the widened values, rounded: within one
// bf16 ulp of bf16(want), or, for a sum that cancels, within the fp32 summation bound of
// check_gemm_bf16 plus the bf16 rounding (2^-8 relative). Padding columns of C keep their bits.
void check_gemm_bf16_to_bf16(const kernels::Ctx& ctx, const GemmShape& s, double slack) {
    constexpr uint16_t kPadBits = 0xBEEF;
    const int64_t a_rows = s.ta ? s.K : s.M, b_rows = s.tb ? s.N : s.K;
    const auto A =
        random_bf16(static_cast<size_t>(std::max<int64_t>(1, a_rows * s.lda)), -1.0f, 1.0f, 4);
    const auto B =
        random_bf16(static_cast<size_t>(std::max<int64_t>(1, b_rows * s.ldb)), -1.0f, 1.0f, 5);
    std::vector<uint16_t> C(static_cast<size_t>(s.M * s.ldc), kPadBits);
    if (ctx.device == kernels::Device::kCpu) {
        kernels::gemm_bf16_to_bf16(ctx, s.ta, s.tb, s.M, s.N, s.K, s.alpha, A.data(), s.lda,
                                   B.data(), s.ldb, C.data(), s.ldc);
    } else {
        kernels::BackendBuffer dA(ctx, A.size() * 2), dB(ctx, B.size() * 2), dC(ctx, C.size() * 2);
        kernels::buffer_upload(ctx, dA.data(), A.data(), A.size() * 2);
        kernels::buffer_upload(ctx, dB.data(), B.data(), B.size() * 2);
        kernels::buffer_upload(ctx, dC.data(), C.data(), C.size() * 2);
        kernels::gemm_bf16_to_bf16(ctx, s.ta, s.tb, s.M, s.N, s.K, s.alpha,
                                   static_cast<const uint16_t*>(dA.data()), s.lda,
                                   static_cast<const uint16_t*>(dB.data()), s.ldb,
                                   static_cast<uint16_t*>(dC.data()), s.ldc);
        kernels::buffer_download(ctx, C.data(), dC.data(), C.size() * 2);
    }
    for (int64_t m = 0; m < s.M; m++) {
        for (int64_t n = 0; n < s.ldc; n++) {
            const uint16_t got = C[m * s.ldc + n];
            if (n >= s.N) {
                ASSERT_EQ(got, kPadBits) << "padding column " << n << " of row " << m << " written";
                continue;
            }
            double mag = 0.0;
            const double dot = widened_dot(s, A, B, m, n, mag);
            const double want = s.alpha * dot;
            mag *= std::fabs(s.alpha);
            const uint16_t want_bits = f32_to_bf16_bits(static_cast<float>(want));
            // Places on the number line in ulps (+0 and -0 alike).
            auto ordinal = [](uint16_t w) {
                const int64_t v = w & 0x7FFF;
                return (w & 0x8000) != 0 ? -v : v;
            };
            const double g = bf16_bits_to_f32(got);
            const bool ok = std::abs(ordinal(got) - ordinal(want_bits)) <= 1 ||
                            std::fabs(g - want) <= slack * std::ldexp(1.0, -24) * mag +
                                                       std::ldexp(std::fabs(want), -8);
            ASSERT_TRUE(ok) << "C[" << m << "][" << n << "] = " << g << " (bits " << got
                            << "), want " << want << " (bits " << want_bits << ") (op "
                            << (s.ta ? 'T' : 'N') << (s.tb ? 'T' : 'N') << ", M " << s.M << " N "
                            << s.N << " K " << s.K << ", ldc " << s.ldc << ")";
        }
    }
}

std::vector<GemmShape> gemm_shapes() {
    std::vector<GemmShape> shapes;
    for (const bool ta : {false, true}) {
        for (const bool tb : {false, true}) {
            for (const float beta : {0.0f, 0.5f}) {
                const int64_t M = 9, N = 13, K = 37;
                shapes.push_back(
                    {ta, tb, M, N, K, 0.75f, beta, (ta ? M : K) + 3, (tb ? K : N) + 2, N + 5});
            }
        }
    }
    shapes.push_back({false, true, 5, 7, 0, 1.0f, 0.5f, 1, 1, 8});  // K = 0: C = beta C
    shapes.push_back({true, false, 5, 7, 0, 1.0f, 0.0f, 5, 7, 7});  // K = 0, beta 0: zeros
    return shapes;
}

TEST(GemmBf16, CpuMatchesDoubleDotProductsOfTheWidenedValues) {
    for (const auto& s : gemm_shapes()) {
        // fp32 BLAS on exact products: (K + 2) roundings of the sum at most.
        check_gemm_bf16(kCpuCtx, s, static_cast<double>(s.K + 2));
    }
    kernels::gemm_bf16(kCpuCtx, false, false, 0, 0, 0, 1.0f, nullptr, 1, nullptr, 1, 0.0f, nullptr,
                       1);  // no work
}

// gemm_bf16_add is gemm_bf16 with beta 1 on a copy of R, bit for bit; R is left as it is, and so
// are D's padding columns.
TEST(GemmBf16Add, CpuIsGemmBf16WithBetaOneOnACopyOfR) {
    for (const auto& s : gemm_shapes()) {
        const int64_t a_rows = s.ta ? s.K : s.M, b_rows = s.tb ? s.N : s.K;
        const auto A =
            random_bf16(static_cast<size_t>(std::max<int64_t>(1, a_rows * s.lda)), -1.0f, 1.0f, 7);
        const auto B =
            random_bf16(static_cast<size_t>(std::max<int64_t>(1, b_rows * s.ldb)), -1.0f, 1.0f, 8);
        const auto R = random_floats(static_cast<size_t>(s.M * s.ldc), -1.0f, 1.0f, 9);
        std::vector<float> want = R;
        kernels::gemm_bf16(kCpuCtx, s.ta, s.tb, s.M, s.N, s.K, s.alpha, A.data(), s.lda, B.data(),
                           s.ldb, 1.0f, want.data(), s.ldc);
        std::vector<float> D(R.size(), std::numeric_limits<float>::quiet_NaN());
        for (int64_t m = 0; m < s.M; m++) {
            for (int64_t n = s.N; n < s.ldc; n++) {
                D[m * s.ldc + n] = want[m * s.ldc + n] = 1234.5f;
            }
        }
        const std::vector<float> R0 = R;
        kernels::gemm_bf16_add(kCpuCtx, s.ta, s.tb, s.M, s.N, s.K, s.alpha, A.data(), s.lda,
                               B.data(), s.ldb, R.data(), D.data(), s.ldc);
        ASSERT_EQ(std::memcmp(D.data(), want.data(), D.size() * sizeof(float)), 0)
            << "M " << s.M << " N " << s.N << " K " << s.K;
        ASSERT_EQ(R, R0);
    }
}

// The gemm_shapes() with beta 0 (gemm_bf16_to_bf16 has none): every transpose pair with padded
// leading dimensions, and K = 0 (zeros).
std::vector<GemmShape> gemm_to_bf16_shapes() {
    std::vector<GemmShape> shapes;
    for (const auto& s : gemm_shapes()) {
        if (s.beta == 0.0f) {
            shapes.push_back(s);
        }
    }
    return shapes;
}

TEST(GemmBf16ToBf16, CpuMatchesDoubleDotProductsRoundedToBf16) {
    for (const auto& s : gemm_to_bf16_shapes()) {
        check_gemm_bf16_to_bf16(kCpuCtx, s, static_cast<double>(s.K + 2));
    }
    kernels::gemm_bf16_to_bf16(kCpuCtx, false, false, 0, 0, 0, 1.0f, nullptr, 1, nullptr, 1,
                               nullptr, 1);  // no work
}

TEST(Bf16Ops, RejectBadArgumentsNamingTheOp) {
    std::vector<float> f(64, 0.5f);
    std::vector<uint16_t> h(64, 0);
    expect_error([&] { kernels::convert_to_bf16(kCpuCtx, h.data(), 4, f.data(), 8, 2, 8, 1.0f); },
                 {"convert_to_bf16", "ld_out"});
    expect_error([&] { kernels::convert_to_bf16(kCpuCtx, h.data(), 8, f.data(), 4, 2, 8, 1.0f); },
                 {"convert_to_bf16", "ld_in"});
    expect_error([&] { kernels::convert_to_bf16(kCpuCtx, h.data(), 8, f.data(), 8, -1, 8, 1.0f); },
                 {"convert_to_bf16", "rows >= 0"});
    expect_error([&] { kernels::convert_to_bf16(kCpuCtx, nullptr, 8, f.data(), 8, 2, 8, 1.0f); },
                 {"convert_to_bf16", "out must not be null"});
    // a batch checks every conversion: the second one's stride is short
    const std::vector<kernels::Bf16Conversion> batch{{h.data(), 8, f.data(), 8, 2, 8, 1.0f},
                                                     {h.data() + 16, 4, f.data(), 8, 2, 8, 1.0f}};
    expect_error([&] { kernels::convert_to_bf16_batch(kCpuCtx, batch); },
                 {"convert_to_bf16_batch", "ld_out"});
    expect_error([&] { kernels::convert_from_bf16(kCpuCtx, f.data(), 4, h.data(), 8, 2, 8); },
                 {"convert_from_bf16", "ld_out"});
    expect_error([&] { kernels::convert_from_bf16(kCpuCtx, f.data(), 8, h.data(), 4, 2, 8); },
                 {"convert_from_bf16", "ld_in"});
    expect_error([&] { kernels::convert_from_bf16(kCpuCtx, f.data(), 8, h.data(), 8, 2, -1); },
                 {"convert_from_bf16", "cols >= 0"});
    expect_error([&] { kernels::convert_from_bf16(kCpuCtx, f.data(), 8, nullptr, 8, 2, 8); },
                 {"convert_from_bf16", "in must not be null"});
    const Nf4Weights q = quantize(64, 0);
    expect_error([&] { kernels::nf4_dequantize_bf16(kCpuCtx, h.data(), 8, q.view(), 8, 9); },
                 {"nf4_dequantize_bf16", "rows * cols == numel"});
    expect_error([&] { kernels::nf4_dequantize_bf16(kCpuCtx, h.data(), 4, q.view(), 8, 8); },
                 {"nf4_dequantize_bf16", "ld_out"});
    expect_error(
        [&] {
            kernels::gemm_bf16(kCpuCtx, false, false, 2, 2, 8, 1.0f, h.data(), 4, h.data(), 2, 0.0f,
                               f.data(), 2);
        },
        {"gemm_bf16", "lda >= 8"});
    expect_error(
        [&] {
            kernels::gemm_bf16(kCpuCtx, false, true, 2, 2, 8, 1.0f, h.data(), 8, nullptr, 8, 0.0f,
                               f.data(), 2);
        },
        {"gemm_bf16", "B must not be null"});
    expect_error(
        [&] {
            kernels::gemm_bf16_to_bf16(kCpuCtx, false, false, 2, 8, 8, 1.0f, h.data(), 8, h.data(),
                                       8, h.data(), 4);
        },
        {"gemm_bf16_to_bf16", "ldc >= 8"});
    expect_error(
        [&] {
            kernels::gemm_bf16_to_bf16(kCpuCtx, false, false, 2, 2, 8, 1.0f, h.data(), 8, h.data(),
                                       2, nullptr, 2);
        },
        {"gemm_bf16_to_bf16", "C must not be null"});
}

#define SKIP_WITHOUT_GPU()                \
    if (!kernels::cuda_available()) {     \
        GTEST_SKIP() << "no GPU present"; \
    }

TEST(GemmBf16Cuda, MatchesDoubleDotProductsWithPaddedStrides) {
    SKIP_WITHOUT_GPU();
    std::vector<GemmShape> shapes = gemm_shapes();
    // 8-element (16-byte) aligned rows: the tensor-core kernels' shapes.
    shapes.push_back({false, true, 128, 96, 512, 1.0f, 0.0f, 512, 512, 104});
    shapes.push_back({true, false, 64, 200, 136, -0.5f, 1.0f, 64, 200, 200});
    for (const auto& s : shapes) {
        // Products are exact; tensor cores add in fp32 in their own order (bound 4x the CPU's).
        check_gemm_bf16(kCudaCtx, s, 4.0 * static_cast<double>(s.K + 2));
    }
}

TEST(GemmBf16ToBf16Cuda, MatchesDoubleDotProductsRoundedWithPaddedStrides) {
    SKIP_WITHOUT_GPU();
    std::vector<GemmShape> shapes = gemm_to_bf16_shapes();
    // 8-element (16-byte) aligned rows: the tensor-core kernels' shapes, C padded and dense.
    shapes.push_back({false, true, 128, 96, 512, 1.0f, 0.0f, 512, 512, 104});
    shapes.push_back({true, false, 64, 200, 136, -0.5f, 0.0f, 64, 200, 200});
    shapes.push_back({false, false, 33, 65, 17, 0.75f, 0.0f, 17, 66, 67});  // odd ldc
    for (const auto& s : shapes) {
        check_gemm_bf16_to_bf16(kCudaCtx, s, 4.0 * static_cast<double>(s.K + 2));
    }
}

// The Llama-3-8B MLP weight (14336, 4096) and a 4096-token activation: the sizes these ops run
// at every step. Conversions are checked bit for bit against the CPU, the GEMM on sampled dots.
TEST(Bf16Cuda, LlamaSizedOpsMatchTheCpuAndReportTimes) {
    SKIP_WITHOUT_GPU();
    const int64_t rows = 14336, cols = 4096, ld_out = 4096 + 64, numel = rows * cols;

    // convert_to_bf16 (float4 path), into a wider destination.
    const auto in = random_floats(static_cast<size_t>(numel), -2.0f, 2.0f, 7);
    std::vector<uint16_t> want(static_cast<size_t>(rows * ld_out), kPad);
    kernels::convert_to_bf16(kCpuCtx, want.data(), ld_out, in.data(), cols, rows, cols, 0.5f);
    const auto d_in = to_device(in);
    auto d_out = to_device(std::vector<uint16_t>(want.size(), kPad));
    auto* out_ptr = static_cast<uint16_t*>(d_out.data());
    const double conv_ms = time_ms([&] {
        kernels::convert_to_bf16(kCudaCtx, out_ptr, ld_out, static_cast<const float*>(d_in.data()),
                                 cols, rows, cols, 0.5f);
    });
    std::vector<uint16_t> got(want.size());
    kernels::buffer_download(kCudaCtx, got.data(), d_out.data(), got.size() * 2);
    ASSERT_TRUE(got == want) << "convert_to_bf16: CUDA differs from the CPU";

    // convert_from_bf16 (8-byte loads, 16-byte stores) of that bf16 matrix back to dense fp32.
    std::vector<float> wide_want(static_cast<size_t>(numel));
    kernels::convert_from_bf16(kCpuCtx, wide_want.data(), cols, want.data(), ld_out, rows, cols);
    kernels::BackendBuffer d_wide(kCudaCtx, wide_want.size() * 4);
    const double widen_ms = time_ms([&] {
        kernels::convert_from_bf16(kCudaCtx, static_cast<float*>(d_wide.data()), cols, out_ptr,
                                   ld_out, rows, cols);
    });
    std::vector<float> wide_got(wide_want.size());
    kernels::buffer_download(kCudaCtx, wide_got.data(), d_wide.data(), wide_got.size() * 4);
    ASSERT_EQ(std::memcmp(wide_got.data(), wide_want.data(), wide_got.size() * 4), 0)
        << "convert_from_bf16: CUDA differs from the CPU";

    // nf4_dequantize_bf16 (16-byte stores) of the same shape.
    const Nf4Weights q = quantize(numel, 8);
    std::fill(want.begin(), want.end(), kPad);
    kernels::nf4_dequantize_bf16(kCpuCtx, want.data(), ld_out, q.view(), rows, cols);
    const auto d_packed = to_device(q.packed), d_absmax = to_device(q.absmax_q);
    const auto d_nested = to_device(q.nested_absmax);
    const auto d_ncode = to_device(
        std::vector<float>(kernels::dynamic_map_signed(), kernels::dynamic_map_signed() + 256));
    const auto d_code =
        to_device(std::vector<float>(kernels::nf4_code_table(), kernels::nf4_code_table() + 16));
    kernels::buffer_upload(kCudaCtx, d_out.data(), std::vector<uint16_t>(want.size(), kPad).data(),
                           want.size() * 2);
    const kernels::Nf4View view{
        .packed = static_cast<const uint8_t*>(d_packed.data()),
        .absmax_q = static_cast<const uint8_t*>(d_absmax.data()),
        .nested_absmax = static_cast<const float*>(d_nested.data()),
        .nested_code = static_cast<const float*>(d_ncode.data()),
        .code = static_cast<const float*>(d_code.data()),
        .offset = q.offset,
        .numel = numel,
    };
    const double nf4_ms =
        time_ms([&] { kernels::nf4_dequantize_bf16(kCudaCtx, out_ptr, ld_out, view, rows, cols); });
    kernels::buffer_download(kCudaCtx, got.data(), d_out.data(), got.size() * 2);
    ASSERT_TRUE(got == want) << "nf4_dequantize_bf16: CUDA differs from the CPU";

    // gemm_bf16: activations (T, 4096) times the weight^T -> (T, 14336), the fused path's shape.
    const int64_t T = 4096;
    const auto x = random_bf16(static_cast<size_t>(T * cols), -1.0f, 1.0f, 9);
    const auto d_x = to_device(x);
    kernels::BackendBuffer d_y(kCudaCtx, static_cast<size_t>(T * rows) * 4);
    const double gemm_ms = time_ms([&] {
        kernels::gemm_bf16(kCudaCtx, false, true, T, rows, cols, 1.0f,
                           static_cast<const uint16_t*>(d_x.data()), cols, out_ptr, ld_out, 0.0f,
                           static_cast<float*>(d_y.data()), rows);
    });
    std::vector<float> y(static_cast<size_t>(T * rows));
    kernels::buffer_download(kCudaCtx, y.data(), d_y.data(), y.size() * 4);
    std::mt19937_64 rng(test_seed());
    for (int k = 0; k < 64; k++) {
        const int64_t t = std::uniform_int_distribution<int64_t>(0, T - 1)(rng);
        const int64_t o = std::uniform_int_distribution<int64_t>(0, rows - 1)(rng);
        double dot = 0.0, mag = 0.0;
        for (int64_t c = 0; c < cols; c++) {
            const double p = static_cast<double>(bf16_bits_to_f32(x[t * cols + c])) *
                             bf16_bits_to_f32(want[o * ld_out + c]);
            dot += p;
            mag += std::fabs(p);
        }
        ASSERT_LE(std::fabs(y[t * rows + o] - dot), 4.0 * (cols + 2) * std::ldexp(mag, -24))
            << "gemm_bf16 y[" << t << "][" << o << "]";
    }

    const double conv_gb = static_cast<double>(numel) * 6.0 / 1e9;  // 4 bytes in, 2 out (or back)
    const double nf4_gb = static_cast<double>(numel) * (0.5 + 2.0) / 1e9;
    const double flop = 2.0 * static_cast<double>(T) * rows * cols;
    std::printf(
        "[bf16 ops, %lldx%lld] convert_to_bf16 %.3f ms (%.0f GB/s), convert_from_bf16 %.3f ms "
        "(%.0f GB/s), nf4_dequantize_bf16 %.3f ms (%.0f GB/s), gemm_bf16 %lldx%lldx%lld %.3f ms "
        "(%.0f TFLOP/s)\n",
        static_cast<long long>(rows), static_cast<long long>(cols), conv_ms,
        conv_gb / conv_ms * 1e3, widen_ms, conv_gb / widen_ms * 1e3, nf4_ms, nf4_gb / nf4_ms * 1e3,
        static_cast<long long>(T), static_cast<long long>(rows), static_cast<long long>(cols),
        gemm_ms, flop / gemm_ms / 1e9);
}

}  // namespace
}  // namespace qforge::test
