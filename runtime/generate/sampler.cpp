// What is here: Sampler (see sampler.h). Order of operations follows transformers'
// generate(): temperature scaling, then top-k, then top-p (keep the smallest set of most
// probable tokens whose mass reaches top_p, always at least one), then a draw from the
// renormalised distribution.
#include "runtime/generate/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "kernels/common.h"

namespace qforge {

Sampler::Sampler(SamplingParams params) : params_(params), rng_(params.seed) {
    QF_CHECK(params.temperature >= 0.0f, "temperature must be >= 0, got {}", params.temperature);
    QF_CHECK(params.top_p > 0.0f && params.top_p <= 1.0f, "top_p must be in (0, 1], got {}",
             params.top_p);
    QF_CHECK(params.top_k >= 0, "top_k must be >= 0, got {}", params.top_k);
}

int32_t argmax(std::span<const float> values) {
    QF_CHECK(!values.empty(), "argmax of an empty row");
    std::size_t best = 0;
    for (std::size_t i = 1; i < values.size(); ++i) {
        if (values[i] > values[best]) {
            best = i;
        }
    }
    return static_cast<int32_t>(best);
}

int32_t Sampler::sample(std::span<float> logits) {
    if (params_.temperature == 0.0f) {
        return argmax(logits);
    }
    const std::size_t V = logits.size();
    std::vector<int32_t> order(V);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
    std::size_t keep = V;
    if (params_.top_k > 0) {
        keep = std::min<std::size_t>(keep, static_cast<std::size_t>(params_.top_k));
    }
    // Softmax over the kept tokens at this temperature (max-subtracted, in double).
    std::vector<double> prob(keep);
    const double top = logits[order[0]] / params_.temperature;
    double sum = 0.0;
    for (std::size_t i = 0; i < keep; ++i) {
        prob[i] = std::exp(logits[order[i]] / params_.temperature - top);
        sum += prob[i];
    }
    if (params_.top_p < 1.0f) {
        double mass = 0.0;
        std::size_t n = 0;
        while (n < keep) {
            mass += prob[n] / sum;
            ++n;
            if (mass >= params_.top_p) {
                break;
            }
        }
        keep = n;
        sum = std::accumulate(prob.begin(), prob.begin() + static_cast<std::ptrdiff_t>(keep), 0.0);
    }
    std::uniform_real_distribution<double> uniform(0.0, sum);
    double r = uniform(rng_);
    for (std::size_t i = 0; i < keep; ++i) {
        r -= prob[i];
        if (r <= 0.0) {
            return order[i];
        }
    }
    return order[keep - 1];
}

}  // namespace qforge
