// CPU reference for AdamW over a flat fp32 buffer (torch.optim.AdamW, decoupled weight decay)
// and for the sum of squares behind global-norm clipping. Plain loops, double where it sums.
#include <cmath>

#include "kernels/cpu/ops.h"

namespace qforge::kernels::cpu {

// param, grad, m, v are (n)
void adamw_update(float* param, const float* grad, float* m, float* v, int64_t n,
                  const AdamWParams& p) {
    const double bc1 = 1.0 - std::pow(static_cast<double>(p.beta1), static_cast<double>(p.step));
    const double bc2 = 1.0 - std::pow(static_cast<double>(p.beta2), static_cast<double>(p.step));
#pragma omp parallel for if (n > 32768)
    for (int64_t i = 0; i < n; i++) {
        const double g = static_cast<double>(grad[i]) * p.grad_scale;
        const double mi = p.beta1 * static_cast<double>(m[i]) + (1.0 - p.beta1) * g;
        const double vi = p.beta2 * static_cast<double>(v[i]) + (1.0 - p.beta2) * g * g;
        m[i] = static_cast<float>(mi);
        v[i] = static_cast<float>(vi);
        double w =
            static_cast<double>(param[i]) * (1.0 - static_cast<double>(p.lr) * p.weight_decay);
        w -= p.lr * (mi / bc1) / (std::sqrt(vi / bc2) + p.eps);
        param[i] = static_cast<float>(w);
    }
}

double sum_of_squares(const float* x, int64_t n) {
    double sum = 0.0;
#pragma omp parallel for reduction(+ : sum) if (n > 32768)
    for (int64_t i = 0; i < n; i++) {
        sum += static_cast<double>(x[i]) * x[i];
    }
    return sum;
}

}  // namespace qforge::kernels::cpu
