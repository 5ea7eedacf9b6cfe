// What is here: the per-element formulas of the CPU swiglu and rmsnorm forward, shared by the
// fp32 ops (kernels/cpu/swiglu.cpp, kernels/cpu/rmsnorm.cpp) and their bf16-output twins
// (kernels/cpu/bf16_pointwise.cpp), so a twin's fp32 value is the fp32 op's, bit for bit. Math
// in double, each result rounded once to float (the mixed float/double expressions are the
// reference's, kept as they are).
#pragma once

#include <cmath>
#include <cstdint>

namespace qforge::kernels::cpu {

inline double sigmoid(double x) {
    return 1.0 / (1.0 + std::exp(-x));
}

// silu(g) * u
inline float swiglu_value(float gate, float up) {
    const double g = gate;
    return static_cast<float>(g * sigmoid(g) * up);
}

// The increments of swiglu_backward: dgate = dout * up * silu'(g), dup = dout * silu(g).
struct SwigluGrads {
    float dgate, dup;
};

inline SwigluGrads swiglu_grads(float dout, float gate, float up) {
    const double g = gate;
    const double sg = sigmoid(g);
    return {static_cast<float>(dout * up * sg * (1.0 + g * (1.0 - sg))),
            static_cast<float>(dout * g * sg)};
}

// 1 / sqrt(mean(x^2) + eps) over one row of C values, summed in double.
inline double rmsnorm_row_scale(const float* x, int64_t C, float eps) {
    double sum_sq = 0.0;
    for (int64_t c = 0; c < C; c++) {
        sum_sq += static_cast<double>(x[c]) * x[c];
    }
    return 1.0 / std::sqrt(sum_sq / static_cast<double>(C) + eps);
}

inline float rmsnorm_value(float x, double scale, float weight) {
    return static_cast<float>(x * scale * weight);
}

}  // namespace qforge::kernels::cpu
