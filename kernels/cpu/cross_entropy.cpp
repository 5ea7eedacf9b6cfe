// CPU reference for softmax cross-entropy over the vocabulary: the specification the fused
// CUDA kernel is tested against. Each row is reduced in double with the max subtracted first,
// so logits of any magnitude stay finite. N = token rows, V = vocab.
//   forward:  lse = log sum_v exp(logits_v);  loss = lse - logits[target]   (0 when ignored)
//   backward: dlogits_v = (exp(logits_v - lse) - [v == target]) * dloss     (WRITES, not +=:
//             it starts the backward chain; ignored rows are written as 0)
// Left out on purpose: label smoothing, z-loss, and the mean over rows (the caller divides by
// the number of counted tokens, which it knows across ranks).
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/bf16_bits.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/parallel.h"

namespace qforge::kernels::cpu {

namespace {

// log sum_v exp(row[v]) for a row of V logits, in double
double row_logsumexp(const float* row, int64_t V) {
    double max_logit = row[0];
    for (int64_t v = 1; v < V; v++) {
        max_logit = std::max<double>(max_logit, row[v]);
    }
    double sum = 0.0;
    for (int64_t v = 0; v < V; v++) {
        sum += std::exp(row[v] - max_logit);
    }
    return max_logit + std::log(sum);
}

void check_targets(const int32_t* targets, int64_t N, int64_t V, int32_t ignore_index,
                   const char* op) {
    for (int64_t n = 0; n < N; n++) {
        const int32_t t = targets[n];
        QF_CHECK(t == ignore_index || (t >= 0 && t < V),
                 "{}: targets[{}] = {} is neither ignore_index ({}) nor in [0, V={})", op, n, t,
                 ignore_index, V);
    }
}

}  // namespace

// losses, lse, targets are (N); logits is (N,V); lse may be nullptr
void cross_entropy_forward(float* losses, float* lse, const float* logits, const int32_t* targets,
                           int64_t N, int64_t V, int32_t ignore_index) {
    check_targets(targets, N, V, ignore_index, "cross_entropy_forward");
#pragma omp parallel for if (N * V >= kParallelMinWork)
    for (int64_t n = 0; n < N; n++) {
        const float* row = logits + n * V;
        const double row_lse = row_logsumexp(row, V);
        if (lse != nullptr) {
            lse[n] = static_cast<float>(row_lse);
        }
        const int32_t t = targets[n];
        losses[n] = t == ignore_index ? 0.0f : static_cast<float>(row_lse - row[t]);
    }
}

// dlogits, logits are (N,V), dlogits written; lse (N) from the forward or nullptr; dloss is (N)
void cross_entropy_backward(float* dlogits, const float* logits, const float* lse,
                            const int32_t* targets, const float* dloss, int64_t N, int64_t V,
                            int32_t ignore_index) {
    check_targets(targets, N, V, ignore_index, "cross_entropy_backward");
#pragma omp parallel for if (N * V >= kParallelMinWork)
    for (int64_t n = 0; n < N; n++) {
        const float* row = logits + n * V;
        float* drow = dlogits + n * V;
        const int32_t t = targets[n];
        if (t == ignore_index) {
            for (int64_t v = 0; v < V; v++) {
                drow[v] = 0.0f;
            }
            continue;
        }
        const double row_lse = lse != nullptr ? lse[n] : row_logsumexp(row, V);
        const double g = dloss[n];
        for (int64_t v = 0; v < V; v++) {
            const double prob = std::exp(row[v] - row_lse);
            drow[v] = static_cast<float>((prob - (v == t ? 1.0 : 0.0)) * g);
        }
    }
}

// cross_entropy_backward into an fp32 row, then each value rounded (kernels/bf16_bits.h).
void cross_entropy_backward_bf16(uint16_t* dlogits, int64_t ld, const float* logits,
                                 const float* lse, const int32_t* targets, const float* dloss,
                                 int64_t N, int64_t V, int32_t ignore_index) {
    std::vector<float> row(static_cast<size_t>(V));
    for (int64_t n = 0; n < N; n++) {
        cross_entropy_backward(row.data(), logits + n * V, lse != nullptr ? lse + n : nullptr,
                               targets + n, dloss + n, 1, V, ignore_index);
        for (int64_t v = 0; v < V; v++) {
            dlogits[n * ld + v] = f32_to_bf16_bits(row[static_cast<size_t>(v)]);
        }
    }
}

}  // namespace qforge::kernels::cpu
