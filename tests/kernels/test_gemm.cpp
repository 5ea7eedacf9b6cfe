// What is here: GEMM (OpenBLAS on the CPU) against naive double loops for all four transpose
// combinations, padded leading dimensions, and the BLAS corner cases (beta == 0, K == 0).
#include <cmath>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/gemm.h"
#include "kernels/kernel_test_util.h"
#include "support/test_support.h"

namespace qforge::test {
namespace {

using kernels::gemm;

struct GemmShape {
    int64_t M, N, K;
};

void PrintTo(const GemmShape& s, std::ostream* os) {
    *os << fmt::format("M={},N={},K={}", s.M, s.N, s.K);
}

// Naive row-major C = alpha * op(A) @ op(B) + beta * C in double, and per element the bound
// |alpha| sum_k |a||b| + |beta||c| that scales its rounding error.
void naive_gemm(bool ta, bool tb, const GemmShape& s, double alpha, const std::vector<float>& A,
                int64_t lda, const std::vector<float>& B, int64_t ldb, double beta,
                const std::vector<float>& C, int64_t ldc, std::vector<double>& out,
                std::vector<double>& magnitude) {
    out.assign(C.size(), 0.0);
    magnitude.assign(C.size(), 0.0);
    for (int64_t m = 0; m < s.M; m++) {
        for (int64_t n = 0; n < s.N; n++) {
            double acc = 0.0;
            double mag = 0.0;
            for (int64_t k = 0; k < s.K; k++) {
                const double a = ta ? A[k * lda + m] : A[m * lda + k];
                const double b = tb ? B[n * ldb + k] : B[k * ldb + n];
                acc += a * b;
                mag += std::abs(a * b);
            }
            const double c = C[m * ldc + n];
            out[m * ldc + n] = alpha * acc + beta * c;
            magnitude[m * ldc + n] = std::abs(alpha) * mag + std::abs(beta * c);
        }
    }
}

class GemmTransposes : public ::testing::TestWithParam<std::tuple<bool, bool, GemmShape>> {};

TEST_P(GemmTransposes, MatchesNaiveLoops) {
    const auto [ta, tb, s] = GetParam();
    // Padded leading dimensions: the ops must honour lda/ldb/ldc, not assume dense rows.
    const int64_t lda = (ta ? s.M : s.K) + 3;
    const int64_t ldb = (tb ? s.K : s.N) + 5;
    const int64_t ldc = s.N + 2;
    const auto A = random_floats(static_cast<size_t>((ta ? s.K : s.M) * lda), -1, 1, 1);
    const auto B = random_floats(static_cast<size_t>((tb ? s.N : s.K) * ldb), -1, 1, 2);
    const auto C0 = random_floats(static_cast<size_t>(s.M * ldc), -1, 1, 3);
    const float alpha = 0.75f;
    const float beta = -0.5f;
    std::vector<double> want;
    std::vector<double> magnitude;
    naive_gemm(ta, tb, s, alpha, A, lda, B, ldb, beta, C0, ldc, want, magnitude);

    auto C = C0;
    gemm(kCpuCtx, ta, tb, s.M, s.N, s.K, alpha, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
    // fp32 accumulation over K terms: |error| <= K * 2^-24 * magnitude (the gamma_K bound).
    const double unit = std::ldexp(1.0, -24);
    for (int64_t m = 0; m < s.M; m++) {
        for (int64_t n = 0; n < ldc; n++) {
            const int64_t i = m * ldc + n;
            if (n >= s.N) {
                ASSERT_EQ(C[i], C0[i]) << "padding column " << n << " of row " << m << " written";
                continue;
            }
            const double tol = 2.0 * static_cast<double>(s.K + 2) * unit * magnitude[i] + 1e-30;
            ASSERT_NEAR(C[i], want[i], tol) << "C[" << m << "," << n << "]";
        }
    }
}

std::string gemm_name(const ::testing::TestParamInfo<GemmTransposes::ParamType>& info) {
    const auto& [ta, tb, s] = info.param;
    return fmt::format("{}{}_M{}_N{}_K{}", ta ? "T" : "N", tb ? "T" : "N", s.M, s.N, s.K);
}

INSTANTIATE_TEST_SUITE_P(Gemm, GemmTransposes,
                         ::testing::Combine(::testing::Bool(), ::testing::Bool(),
                                            ::testing::Values(GemmShape{17, 33, 65},
                                                              GemmShape{1, 129, 7},
                                                              GemmShape{64, 1, 257})),
                         gemm_name);

TEST(Gemm, BetaZeroWritesWithoutReadingC) {
    const int64_t M = 9, N = 13, K = 11;
    const auto A = random_floats(M * K, -1, 1, 1);
    const auto B = random_floats(K * N, -1, 1, 2);
    std::vector<float> C(M * N, std::numeric_limits<float>::quiet_NaN());
    gemm(kCpuCtx, false, false, M, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f, C.data(), N);
    for (int64_t m = 0; m < M; m++) {
        for (int64_t n = 0; n < N; n++) {
            double want = 0.0;
            for (int64_t k = 0; k < K; k++) {
                want += static_cast<double>(A[m * K + k]) * B[k * N + n];
            }
            ASSERT_NEAR(C[m * N + n], want, 1e-5) << "C[" << m << "," << n << "]";
        }
    }
}

TEST(Gemm, KZeroScalesC) {
    const int64_t M = 3, N = 5;
    const auto C0 = random_floats(M * N, -1, 1, 3);
    auto C = C0;
    gemm(kCpuCtx, false, false, M, N, 0, 1.0f, nullptr, 1, nullptr, N, 2.0f, C.data(), N);
    for (size_t i = 0; i < C.size(); i++) {
        EXPECT_EQ(C[i], 2.0f * C0[i]);
    }
    std::vector<float> garbage(M * N, std::numeric_limits<float>::quiet_NaN());
    gemm(kCpuCtx, true, true, M, N, 0, 1.0f, nullptr, M, nullptr, 1, 0.0f, garbage.data(), N);
    for (float c : garbage) {
        EXPECT_EQ(c, 0.0f);
    }
}

TEST(Gemm, RejectsShortLeadingDimensions) {
    std::vector<float> A(64, 0.5f), B(64, 0.5f), C(64, 0.5f);
    expect_error(
        [&] { gemm(kCpuCtx, false, false, 4, 4, 4, 1, A.data(), 3, B.data(), 4, 0, C.data(), 4); },
        {"gemm", "lda >= 4"});
    expect_error(
        [&] { gemm(kCpuCtx, false, true, 4, 4, 5, 1, A.data(), 5, B.data(), 4, 0, C.data(), 4); },
        {"ldb >= 5"});
    expect_error(
        [&] { gemm(kCpuCtx, false, false, 4, 6, 2, 1, A.data(), 2, B.data(), 6, 0, C.data(), 5); },
        {"ldc >= 6"});
    expect_error(
        [&] { gemm(kCpuCtx, false, false, -1, 4, 4, 1, A.data(), 4, B.data(), 4, 0, C.data(), 4); },
        {"M >= 0", "-1"});
}

}  // namespace
}  // namespace qforge::test
