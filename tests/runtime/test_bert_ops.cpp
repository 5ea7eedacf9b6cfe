// The encoder's new ops on the CPU backend (kernels/layernorm, kernels/gelu): forward against
// independent arithmetic, backward against central finite differences of the forward, and
// masked attention against a direct double-precision evaluation. Tiny odd shapes throughout.
#include <cmath>
#include <gtest/gtest.h>
#include <vector>

#include "kernels/gelu.h"
#include "kernels/layernorm.h"
#include "runtime/encoder/bert_attention.h"
#include "support/test_support.h"

namespace qforge {
namespace {

constexpr kernels::Ctx kCpu{};

TEST(BertOps, LayernormForwardNormalizesRows) {
    const int64_t N = 5, C = 37;
    auto x = test::random_floats(N * C, -3.0f, 5.0f);
    const auto w = test::random_floats(C, 0.5f, 1.5f, 1);
    const auto b = test::random_floats(C, -0.5f, 0.5f, 2);
    std::vector<float> y(N * C), mean(N), rstd(N);
    kernels::layernorm_forward(kCpu, y.data(), mean.data(), rstd.data(), x.data(), w.data(),
                               b.data(), N, C, 1e-5f);
    for (int64_t n = 0; n < N; n++) {
        double m = 0, v = 0;
        for (int64_t c = 0; c < C; c++) {
            m += x[n * C + c];
        }
        m /= C;
        for (int64_t c = 0; c < C; c++) {
            v += (x[n * C + c] - m) * (x[n * C + c] - m);
        }
        v /= C;
        EXPECT_NEAR(mean[n], m, 1e-6);
        EXPECT_NEAR(rstd[n], 1.0 / std::sqrt(v + 1e-5), 1e-5);
        for (int64_t c = 0; c < C; c++) {
            const double expect = (x[n * C + c] - m) / std::sqrt(v + 1e-5) * w[c] + b[c];
            EXPECT_NEAR(y[n * C + c], expect, 1e-5) << n << "," << c;
        }
    }
    // In place gives the same numbers.
    kernels::layernorm_forward(kCpu, x.data(), nullptr, nullptr, x.data(), w.data(), b.data(), N, C,
                               1e-5f);
    EXPECT_EQ(x, y);
}

TEST(BertOps, LayernormBackwardMatchesFiniteDifferences) {
    const int64_t N = 3, C = 7;
    auto x = test::random_floats(N * C, -2.0f, 2.0f);
    auto w = test::random_floats(C, 0.5f, 1.5f, 1);
    auto b = test::random_floats(C, -0.5f, 0.5f, 2);
    const auto g = test::random_floats(N * C, -1.0f, 1.0f, 3);  // loss = sum(g * y)
    auto loss = [&] {
        std::vector<float> y(N * C);
        kernels::layernorm_forward(kCpu, y.data(), nullptr, nullptr, x.data(), w.data(), b.data(),
                                   N, C, 1e-5f);
        double s = 0;
        for (int64_t i = 0; i < N * C; i++) {
            s += static_cast<double>(g[i]) * y[i];
        }
        return s;
    };
    std::vector<float> y(N * C), mean(N), rstd(N);
    kernels::layernorm_forward(kCpu, y.data(), mean.data(), rstd.data(), x.data(), w.data(),
                               b.data(), N, C, 1e-5f);
    // Gradients accumulate: start from a known non-zero value and subtract it afterwards.
    std::vector<float> dx(N * C, 0.25f), dw(C, 0.25f), db(C, 0.25f);
    kernels::layernorm_backward(kCpu, dx.data(), dw.data(), db.data(), g.data(), x.data(), w.data(),
                                mean.data(), rstd.data(), N, C);
    auto check = [&](std::vector<float>& param, const std::vector<float>& grad, const char* what) {
        for (std::size_t i = 0; i < param.size(); i++) {
            const float keep = param[i], h = 1e-2f;
            param[i] = keep + h;
            const double up = loss();
            param[i] = keep - h;
            const double down = loss();
            param[i] = keep;
            EXPECT_NEAR(grad[i] - 0.25f, (up - down) / (2.0 * h), 2e-3) << what << "[" << i << "]";
        }
    };
    check(x, dx, "dx");
    check(w, dw, "dw");
    check(b, db, "db");
}

TEST(BertOps, GeluForwardAndBackward) {
    // Exact erf GELU values (from the closed form, computed independently).
    const std::vector<float> x = {-3.0f, -1.0f, -0.5f, 0.25f, 0.5f, 1.0f, 2.5f};
    std::vector<float> y(x.size());
    kernels::gelu_forward(kCpu, y.data(), x.data(), static_cast<int64_t>(x.size()));
    const std::vector<double> expect = {-0.0040496941, -0.1586552539, -0.1542687694, 0.1496765814,
                                        0.3457312306,  0.8413447461,  2.4844758367};
    for (std::size_t i = 0; i < x.size(); i++) {
        EXPECT_NEAR(y[i], expect[i], 2e-6) << x[i];
    }
    auto r = test::random_floats(101, -4.0f, 4.0f);
    const auto dout = test::random_floats(101, -1.0f, 1.0f, 1);
    std::vector<float> dx(101, 0.0f);
    kernels::gelu_backward(kCpu, dx.data(), dout.data(), r.data(), 101);
    for (std::size_t i = 0; i < r.size(); i++) {
        const double h = 1e-3, xi = r[i];
        auto f = [](double v) {
            return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
        };
        EXPECT_NEAR(dx[i], dout[i] * (f(xi + h) - f(xi - h)) / (2 * h), 1e-5) << xi;
    }
}

TEST(BertOps, MaskedAttentionMatchesDirectEvaluation) {
    const int64_t B = 2, T = 5, NH = 3, D = 7, C = NH * D;
    const auto q = test::random_floats(B * T * C, -1.0f, 1.0f, 1);
    const auto k = test::random_floats(B * T * C, -1.0f, 1.0f, 2);
    const auto v = test::random_floats(B * T * C, -1.0f, 1.0f, 3);
    const std::vector<int32_t> mask = {1, 1, 1, 1, 1, 1, 1, 0, 0, 0};
    std::vector<float> out(B * T * C), scores(T * T);
    bert_attention_forward(kCpu, out.data(), scores.data(), q.data(), k.data(), v.data(),
                           mask.data(), B, T, NH, D);
    for (int64_t b = 0; b < B; b++) {
        for (int64_t h = 0; h < NH; h++) {
            for (int64_t t = 0; t < T; t++) {
                std::vector<double> p(T, 0.0);
                double sum = 0;
                for (int64_t s = 0; s < T; s++) {
                    if (mask[b * T + s] == 0) {
                        continue;
                    }
                    double dot = 0;
                    for (int64_t d = 0; d < D; d++) {
                        dot += static_cast<double>(q[(b * T + t) * C + h * D + d]) *
                               k[(b * T + s) * C + h * D + d];
                    }
                    p[s] = std::exp(dot / std::sqrt(static_cast<double>(D)));
                    sum += p[s];
                }
                for (int64_t d = 0; d < D; d++) {
                    double o = 0;
                    for (int64_t s = 0; s < T; s++) {
                        o += p[s] / sum * v[(b * T + s) * C + h * D + d];
                    }
                    EXPECT_NEAR(out[(b * T + t) * C + h * D + d], o, 1e-5);
                }
            }
        }
    }
}

}  // namespace
}  // namespace qforge
