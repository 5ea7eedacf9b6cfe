// What is here: pool_hidden_states (mean or [CLS] pooling, then optional L2 normalization),
// accumulated in double.
#include "runtime/encoder/pooling.h"

#include <algorithm>
#include <cmath>

namespace qforge {

std::vector<std::vector<float>> pool_hidden_states(const Tensor& hidden, const int32_t* mask,
                                                   Pooling pooling, bool normalize) {
    QF_CHECK(hidden.ndim() == 3 && hidden.dtype() == DType::kF32 && hidden.is_contiguous(),
             "pool_hidden_states: expected contiguous f32 hidden states (B,T,H), got {} {}",
             dtype_name(hidden.dtype()), hidden.shape_str());
    const int64_t B = hidden.dim(0), T = hidden.dim(1), H = hidden.dim(2);
    QF_CHECK(mask != nullptr || pooling == Pooling::kCls,
             "pool_hidden_states: mean pooling needs "
             "the attention mask");
    const float* h = hidden.data<float>();
    std::vector<std::vector<float>> out(static_cast<std::size_t>(B));
    std::vector<double> acc(static_cast<std::size_t>(H));
    for (int64_t b = 0; b < B; b++) {
        std::fill(acc.begin(), acc.end(), 0.0);
        if (pooling == Pooling::kCls) {
            for (int64_t c = 0; c < H; c++) {
                acc[c] = h[b * T * H + c];
            }
        } else {
            int64_t count = 0;
            for (int64_t t = 0; t < T; t++) {
                if (mask[b * T + t] == 0) {
                    continue;
                }
                count++;
                for (int64_t c = 0; c < H; c++) {
                    acc[c] += h[(b * T + t) * H + c];
                }
            }
            for (double& a : acc) {
                a /= static_cast<double>(std::max<int64_t>(count, 1));
            }
        }
        double scale = 1.0;
        if (normalize) {
            double sum_sq = 0.0;
            for (double a : acc) {
                sum_sq += a * a;
            }
            scale = 1.0 / std::max(std::sqrt(sum_sq), 1e-12);
        }
        auto& v = out[static_cast<std::size_t>(b)];
        v.resize(static_cast<std::size_t>(H));
        for (int64_t c = 0; c < H; c++) {
            v[c] = static_cast<float>(acc[c] * scale);
        }
    }
    return out;
}

}  // namespace qforge
