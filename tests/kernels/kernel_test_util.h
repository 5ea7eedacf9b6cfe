// What is here: helpers the kernel tests share: a CPU Ctx, random ids, finite-difference
// gradients (4-point stencil, STYLE item 7), relative errors, and an "error mentions" check.
#pragma once

#include <cstdint>
#include <functional>
#include <gtest/gtest.h>
#include <string>
#include <vector>

#include "kernels/common.h"

namespace qforge::test {

inline constexpr kernels::Ctx kCpuCtx{kernels::Device::kCpu, nullptr};

// Tolerance of numeric_gradient against an analytic gradient (norm-wise relative error). The
// forward runs in fp32: each output carries ~6e-8 relative rounding, which the stencil divides
// by h = 1e-2, so agreement is ~1e-5..6e-5 (measured: 2e-6 to 6e-5 over every op here). A wrong
// term in a backward formula gives errors of 1e-2 and up.
inline constexpr double kFdTolerance = 3e-4;

// bf16 bits (kernels/bf16_bits.h) of uniform values in [lo, hi) from random_floats, never zero
// (a value that rounds to zero becomes 2^-7).
std::vector<uint16_t> random_bf16(std::size_t n, float lo, float hi, std::uint64_t salt);

// Uniform integers in [lo, hi) from test_seed() + salt.
std::vector<int32_t> random_ints(std::size_t n, int32_t lo, int32_t hi, std::uint64_t salt = 0);

// d loss / d x[i] for every i, by the 4-point central stencil
//   (8 (f(x+h) - f(x-h)) - (f(x+2h) - f(x-2h))) / 12h,
// whose truncation error is O(h^4); x is perturbed in place and restored.
std::vector<double> numeric_gradient(std::vector<float>& x, const std::function<double()>& loss,
                                     double h = 1e-2);

// ||a - b|| / max(||a||, ||b||, tiny), the norm-wise relative error.
double rel_error(const std::vector<double>& a, const std::vector<double>& b);

// after - before, element by element, in double: what an accumulating (+=) op added.
std::vector<double> added(const std::vector<float>& after, const std::vector<float>& before);

std::vector<double> to_double(const std::vector<float>& x);

// sum_i w[i] * out[i] in double: the scalar loss whose gradient w.r.t. out is w.
double dot(const std::vector<float>& out, const std::vector<float>& w);

// Runs fn, expects a qforge::Error whose message contains every string of `needles`.
void expect_error(const std::function<void()>& fn, const std::vector<std::string>& needles);

}  // namespace qforge::test
