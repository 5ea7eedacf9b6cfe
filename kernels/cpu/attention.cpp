// CPU reference for causal softmax attention with grouped-query heads, a KV-cache offset and
// packing segments: the specification the CUDA (flash-style) kernel is tested against. It keeps
// every score of a row in memory and accumulates in double; nothing is tiled or fused.
// B = batch, T = new query positions, Tk = key positions, Hq/Hkv = query/kv heads, D = head_dim.
//
// For query (b, t, h) at absolute position p = q_pos0 + t, with kv head g = h / (Hq/Hkv):
//   visible keys  s <= p (and seg[b,s] == seg[b,t] when segment ids are given)
//   score_s = (q . k_s) / sqrt(D);  lse = log sum_s exp(score_s);  P_s = exp(score_s - lse)
//   out     = sum_s P_s v_s
// Backward (dout given; P recomputed from the saved lse, as flash-attention does):
//   dP_s = dout . v_s;  Dsum = sum_s P_s dP_s;  dS_s = P_s (dP_s - Dsum)
//   dq += sum_s dS_s k_s / sqrt(D);  dk_s += dS_s q / sqrt(D);  dv_s += P_s dout
// Left out on purpose: dropout, ALiBi, sliding windows, logit soft-capping (Llama uses none).
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/ops.h"
#include "kernels/cpu/parallel.h"

namespace qforge::kernels::cpu {

namespace {

// Element (b, t, h, 0) of q/out/dout, and (b, s, g, 0) of k/v/dk/dv.
int64_t q_offset(const AttnParams& p, int64_t b, int64_t t, int64_t h) {
    return b * p.q_batch_stride + t * p.q_row_stride + h * p.D;
}

int64_t kv_offset(const AttnParams& p, int64_t b, int64_t s, int64_t g) {
    return b * p.kv_batch_stride + s * p.kv_row_stride + g * p.D;
}

bool key_visible(const AttnParams& p, int64_t b, int64_t t, int64_t s) {
    if (s > p.q_pos0 + t) {
        return false;  // causal
    }
    return p.segment_ids == nullptr || p.segment_ids[b * p.T + s] == p.segment_ids[b * p.T + t];
}

// scores[s] = (q . k_s) * scale for every visible key s of query (b, t, h); -inf otherwise.
// Returns the largest visible score.
double row_scores(const AttnParams& p, int64_t b, int64_t t, int64_t h, double scale,
                  std::vector<double>& scores) {
    const int64_t g = h / (p.Hq / p.Hkv);
    const float* q = p.q + q_offset(p, b, t, h);
    const int64_t last = p.q_pos0 + t;  // keys after the query's own position are never visible
    scores.assign(static_cast<size_t>(last + 1), -std::numeric_limits<double>::infinity());
    double max_score = -std::numeric_limits<double>::infinity();
    for (int64_t s = 0; s <= last; s++) {
        if (!key_visible(p, b, t, s)) {
            continue;
        }
        const float* k = p.k + kv_offset(p, b, s, g);
        double dot = 0.0;
        for (int64_t d = 0; d < p.D; d++) {
            dot += static_cast<double>(q[d]) * k[d];
        }
        scores[s] = dot * scale;
        max_score = std::max(max_score, scores[s]);
    }
    return max_score;
}

}  // namespace

void attention_forward(const AttnParams& p) {
    const double scale = 1.0 / std::sqrt(static_cast<double>(p.D));
    const int64_t group = p.Hq / p.Hkv;
    const bool parallel = p.B * p.Hq * p.T * p.Tk * p.D >= kParallelMinWork;
#pragma omp parallel for collapse(3) if (parallel)
    for (int64_t b = 0; b < p.B; b++) {
        for (int64_t h = 0; h < p.Hq; h++) {
            for (int64_t t = 0; t < p.T; t++) {
                std::vector<double> scores;
                // Every query sees at least its own key, so max_score is finite.
                const double max_score = row_scores(p, b, t, h, scale, scores);
                double sum = 0.0;
                std::vector<double> acc(static_cast<size_t>(p.D), 0.0);
                for (size_t s = 0; s < scores.size(); s++) {
                    if (std::isinf(scores[s])) {
                        continue;  // masked
                    }
                    const double w = std::exp(scores[s] - max_score);
                    sum += w;
                    const float* v = p.v + kv_offset(p, b, static_cast<int64_t>(s), h / group);
                    for (int64_t d = 0; d < p.D; d++) {
                        acc[d] += w * v[d];
                    }
                }
                float* out = p.out + q_offset(p, b, t, h);
                for (int64_t d = 0; d < p.D; d++) {
                    out[d] = static_cast<float>(acc[d] / sum);
                }
                if (p.lse != nullptr) {
                    p.lse[(b * p.Hq + h) * p.T + t] = static_cast<float>(max_score + std::log(sum));
                }
            }
        }
    }
}

void attention_backward(const AttnParams& p, float* dq, float* dk, float* dv, const float* dout) {
    const double scale = 1.0 / std::sqrt(static_cast<double>(p.D));
    const int64_t group = p.Hq / p.Hkv;
    const int64_t D = p.D;
    // One task per (batch, kv head): it owns dk/dv of that head and dq of the query heads in its
    // group, so no two threads ever add into the same element.
    const bool parallel = p.B * p.Hq * p.T * p.Tk * p.D >= kParallelMinWork;
#pragma omp parallel for collapse(2) if (parallel)
    for (int64_t b = 0; b < p.B; b++) {
        for (int64_t g = 0; g < p.Hkv; g++) {
            std::vector<double> dk_acc(static_cast<size_t>(p.Tk * D), 0.0);  // (Tk, D)
            std::vector<double> dv_acc(static_cast<size_t>(p.Tk * D), 0.0);
            std::vector<double> scores;
            std::vector<double> prob;
            std::vector<double> dscore;
            std::vector<double> dq_acc(static_cast<size_t>(D));
            for (int64_t h = g * group; h < (g + 1) * group; h++) {
                for (int64_t t = 0; t < p.T; t++) {
                    row_scores(p, b, t, h, scale, scores);
                    const double lse = p.lse[(b * p.Hq + h) * p.T + t];
                    const float* q = p.q + q_offset(p, b, t, h);
                    const float* dy = dout + q_offset(p, b, t, h);
                    const size_t n_keys = scores.size();
                    prob.assign(n_keys, 0.0);
                    dscore.assign(n_keys, 0.0);
                    double dsum = 0.0;  // Dsum = sum_s P_s dP_s
                    for (size_t s = 0; s < n_keys; s++) {
                        if (std::isinf(scores[s])) {
                            continue;
                        }
                        prob[s] = std::exp(scores[s] - lse);
                        const float* v = p.v + kv_offset(p, b, static_cast<int64_t>(s), g);
                        double dp = 0.0;
                        for (int64_t d = 0; d < D; d++) {
                            dp += static_cast<double>(dy[d]) * v[d];
                        }
                        dscore[s] = dp;  // dP_s for now
                        dsum += prob[s] * dp;
                    }
                    std::fill(dq_acc.begin(), dq_acc.end(), 0.0);
                    for (size_t s = 0; s < n_keys; s++) {
                        if (std::isinf(scores[s])) {
                            continue;
                        }
                        const double ds = prob[s] * (dscore[s] - dsum) * scale;
                        const float* k = p.k + kv_offset(p, b, static_cast<int64_t>(s), g);
                        double* dk_row = dk_acc.data() + s * D;
                        double* dv_row = dv_acc.data() + s * D;
                        for (int64_t d = 0; d < D; d++) {
                            dq_acc[d] += ds * k[d];
                            dk_row[d] += ds * q[d];
                            dv_row[d] += prob[s] * dy[d];
                        }
                    }
                    if (dq != nullptr) {
                        float* dq_row = dq + q_offset(p, b, t, h);
                        for (int64_t d = 0; d < D; d++) {
                            dq_row[d] += static_cast<float>(dq_acc[d]);
                        }
                    }
                }
            }
            for (int64_t s = 0; s < p.Tk; s++) {
                for (int64_t d = 0; d < D; d++) {
                    if (dk != nullptr) {
                        dk[kv_offset(p, b, s, g) + d] += static_cast<float>(dk_acc[s * D + d]);
                    }
                    if (dv != nullptr) {
                        dv[kv_offset(p, b, s, g) + d] += static_cast<float>(dv_acc[s * D + d]);
                    }
                }
            }
        }
    }
}

}  // namespace qforge::kernels::cpu
