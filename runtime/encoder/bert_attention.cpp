// What is here: bert_attention_forward: per (batch, head), scores = Q K^T / sqrt(D) by gemm,
// a masked softmax over keys (max-subtracted, sums in double), then out = P V by gemm.
// Why not kernels/attention: that op is causal by construction (KV cache, packing segments);
// an encoder needs every query to see every real key.
#include "runtime/encoder/bert_attention.h"

#include <cmath>
#include <limits>

#include "kernels/gemm.h"

namespace qforge {

void bert_attention_forward(const kernels::Ctx& ctx, float* out, float* scores, const float* q,
                            const float* k, const float* v, const int32_t* mask, int64_t B,
                            int64_t T, int64_t NH, int64_t D) {
    const int64_t C = NH * D;
    const auto scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(D)));
    for (int64_t b = 0; b < B; b++) {
        const int32_t* m = mask + b * T;
        for (int64_t h = 0; h < NH; h++) {
            const int64_t off = b * T * C + h * D;
            // scores (T,T) = scale * q_bh (T,D) @ k_bh (T,D)^T
            kernels::gemm(ctx, false, true, T, T, D, scale, q + off, C, k + off, C, 0.0f, scores,
                          T);
            for (int64_t t = 0; t < T; t++) {
                float* row = scores + t * T;
                float max = -std::numeric_limits<float>::infinity();
                for (int64_t s = 0; s < T; s++) {
                    if (m[s] != 0 && row[s] > max) {
                        max = row[s];
                    }
                }
                double sum = 0.0;
                for (int64_t s = 0; s < T; s++) {
                    const double e = m[s] != 0 ? std::exp(static_cast<double>(row[s]) - max) : 0.0;
                    row[s] = static_cast<float>(e);
                    sum += e;
                }
                const double inv = sum > 0.0 ? 1.0 / sum : 0.0;
                for (int64_t s = 0; s < T; s++) {
                    row[s] = static_cast<float>(row[s] * inv);
                }
            }
            // out_bh (T,D) = P (T,T) @ v_bh (T,D)
            kernels::gemm(ctx, false, false, T, D, T, 1.0f, scores, T, v + off, C, 0.0f, out + off,
                          C);
        }
    }
}

}  // namespace qforge
