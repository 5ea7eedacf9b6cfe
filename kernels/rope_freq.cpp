// What is here: RoPE's inverse frequencies (default, llama3 and linear scaling) and the cos/sin
// tables, computed on the host once per model. The llama3 branch follows transformers'
// _compute_llama3_parameters line by line (computed here in double, stored as float).
#include <cmath>
#include <numbers>

#include "kernels/rope.h"

namespace qforge::kernels {

void rope_inv_freq(float* inv_freq, int64_t D, float theta, const RopeScaling& scaling) {
    QF_CHECK(D >= 2 && D % 2 == 0, "rope_inv_freq: head_dim D must be even and >= 2, got {}", D);
    QF_CHECK(theta > 0.0f, "rope_inv_freq: rope_theta must be > 0, got {}", theta);
    QF_CHECK(inv_freq != nullptr, "rope_inv_freq: inv_freq must not be null");
    using Type = RopeScaling::Type;
    const double factor = scaling.factor;
    if (scaling.type != Type::kNone) {
        QF_CHECK(factor > 0.0, "rope_inv_freq: rope_scaling.factor must be > 0, got {}", factor);
    }
    const double low = scaling.low_freq_factor;
    const double high = scaling.high_freq_factor;
    const double old_context = static_cast<double>(scaling.original_max_position);
    if (scaling.type == Type::kLlama3) {
        QF_CHECK(low > 0.0 && high > low,
                 "rope_inv_freq: llama3 rope_scaling needs 0 < low_freq_factor < "
                 "high_freq_factor, got low_freq_factor={} high_freq_factor={}",
                 low, high);
        QF_CHECK(old_context > 0.0,
                 "rope_inv_freq: llama3 rope_scaling needs original_max_position_embeddings > 0, "
                 "got {}",
                 scaling.original_max_position);
    }
    const double low_freq_wavelen = old_context / low;
    const double high_freq_wavelen = old_context / high;
    for (int64_t i = 0; i < D / 2; i++) {
        // theta^(-2i/D)
        double f = 1.0 / std::pow(static_cast<double>(theta),
                                  static_cast<double>(2 * i) / static_cast<double>(D));
        if (scaling.type == Type::kLinear) {
            f /= factor;
        } else if (scaling.type == Type::kLlama3) {
            const double wavelen = 2.0 * std::numbers::pi / f;
            if (wavelen > low_freq_wavelen) {
                f /= factor;  // long wavelengths: fully interpolated
            } else if (wavelen >= high_freq_wavelen) {
                // medium band: blend between interpolated and original frequency
                const double smooth = (old_context / wavelen - low) / (high - low);
                f = (1.0 - smooth) * f / factor + smooth * f;
            }  // short wavelengths (< high_freq_wavelen) keep the original frequency
        }
        inv_freq[i] = static_cast<float>(f);
    }
}

void rope_tables(float* cos, float* sin, const float* inv_freq, int64_t T_max, int64_t D) {
    QF_CHECK(D >= 2 && D % 2 == 0, "rope_tables: head_dim D must be even and >= 2, got {}", D);
    QF_CHECK(T_max >= 0, "rope_tables: expected T_max >= 0, got {}", T_max);
    QF_CHECK(cos != nullptr && sin != nullptr && inv_freq != nullptr,
             "rope_tables: cos, sin and inv_freq must not be null");
    const int64_t half = D / 2;
    // cos, sin are (T_max, D/2)
    for (int64_t t = 0; t < T_max; t++) {
        for (int64_t i = 0; i < half; i++) {
            const double angle = static_cast<double>(t) * static_cast<double>(inv_freq[i]);
            cos[t * half + i] = static_cast<float>(std::cos(angle));
            sin[t * half + i] = static_cast<float>(std::sin(angle));
        }
    }
}

}  // namespace qforge::kernels
