// What is here: tests/kernels/kernel_test_util.h.
#include "kernels/kernel_test_util.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "kernels/bf16_bits.h"
#include "support/test_support.h"

namespace qforge::test {

std::vector<uint16_t> random_bf16(std::size_t n, float lo, float hi, std::uint64_t salt) {
    const auto f = random_floats(n, lo, hi, salt);
    std::vector<uint16_t> out(n);
    for (std::size_t i = 0; i < n; i++) {
        out[i] = kernels::f32_to_bf16_bits(f[i]);
        if ((out[i] & 0x7FFFu) == 0) {
            out[i] = 0x3C00;  // 2^-7
        }
    }
    return out;
}

std::vector<int32_t> random_ints(std::size_t n, int32_t lo, int32_t hi, std::uint64_t salt) {
    std::mt19937_64 rng(test_seed() + 0x51ED270Bull + salt);
    std::uniform_int_distribution<int32_t> dist(lo, hi - 1);
    std::vector<int32_t> out(n);
    for (auto& v : out) {
        v = dist(rng);
    }
    return out;
}

std::vector<double> numeric_gradient(std::vector<float>& x, const std::function<double()>& loss,
                                     double h) {
    std::vector<double> grad(x.size());
    for (std::size_t i = 0; i < x.size(); i++) {
        const float saved = x[i];
        auto at = [&](double step) {
            x[i] = static_cast<float>(saved + step);
            return loss();
        };
        const double f1 = at(h) - at(-h);
        const double f2 = at(2 * h) - at(-2 * h);
        x[i] = saved;
        grad[i] = (8.0 * f1 - f2) / (12.0 * h);
    }
    return grad;
}

double rel_error(const std::vector<double>& a, const std::vector<double>& b) {
    EXPECT_EQ(a.size(), b.size());
    double diff = 0.0;
    double na = 0.0;
    double nb = 0.0;
    for (std::size_t i = 0; i < std::min(a.size(), b.size()); i++) {
        diff += (a[i] - b[i]) * (a[i] - b[i]);
        na += a[i] * a[i];
        nb += b[i] * b[i];
    }
    return std::sqrt(diff) / std::max({std::sqrt(na), std::sqrt(nb), 1e-30});
}

std::vector<double> added(const std::vector<float>& after, const std::vector<float>& before) {
    EXPECT_EQ(after.size(), before.size());
    std::vector<double> out(after.size());
    for (std::size_t i = 0; i < out.size(); i++) {
        out[i] = static_cast<double>(after[i]) - before[i];
    }
    return out;
}

std::vector<double> to_double(const std::vector<float>& x) {
    return {x.begin(), x.end()};
}

double dot(const std::vector<float>& out, const std::vector<float>& w) {
    EXPECT_EQ(out.size(), w.size());
    double acc = 0.0;
    for (std::size_t i = 0; i < std::min(out.size(), w.size()); i++) {
        acc += static_cast<double>(out[i]) * w[i];
    }
    return acc;
}

void expect_error(const std::function<void()>& fn, const std::vector<std::string>& needles) {
    try {
        fn();
        ADD_FAILURE() << "expected a qforge::Error, but the call returned normally";
    } catch (const Error& e) {
        const std::string message = e.what();
        for (const auto& needle : needles) {
            EXPECT_NE(message.find(needle), std::string::npos)
                << "error message lacks '" << needle << "': " << message;
        }
    }
}

}  // namespace qforge::test
