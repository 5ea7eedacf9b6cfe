// What is here: LocalJudge (see local_judge.h).
#include "evaluation/judge/local_judge.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "evaluation/judge/geval.h"
#include "kernels/common.h"
#include "runtime/generate/generate.h"

namespace qforge::eval {

LocalJudge::LocalJudge(const LlamaModel& model, const Tokenizer& tok, std::string name)
    : model_(model), tok_(tok), name_(std::move(name)) {
    const int64_t V = std::min(model_.config().vocab_size, tok_.vocab_size());
    for (int32_t id = 0; id < V; id++) {
        const int32_t one[1] = {id};
        if (geval_score_digit(tok_.decode(one, false)) > 0) {
            digit_ids_.push_back(id);
        }
    }
}

std::vector<int32_t> LocalJudge::encode_prompt(const std::string& prompt) const {
    std::vector<int32_t> ids = tok_.encode(prompt, true);
    QF_CHECK(!ids.empty(), "local judge {}: the prompt encodes to no tokens", name_);
    const int64_t ctx = model_.config().max_position_embeddings;
    if (static_cast<int64_t>(ids.size()) >= ctx) {  // keep the end: it holds the form to fill
        ids.erase(ids.begin(), ids.end() - (ctx - 1));
    }
    return ids;
}

std::string LocalJudge::complete(const std::string& prompt, int64_t max_tokens) {
    GenerateOptions options;
    options.max_new_tokens = max_tokens;
    options.stop_ids = model_.config().eos_token_ids;
    if (auto eos = tok_.eos_id()) {
        options.stop_ids.push_back(*eos);
    }
    const GenerateResult r = generate(model_, encode_prompt(prompt), options);
    return tok_.decode(r.tokens, true);
}

std::vector<TokenLogprob> LocalJudge::next_token_logprobs(const std::string& prompt, int top_k) {
    const std::vector<int32_t> ids = encode_prompt(prompt);
    const auto T = static_cast<int64_t>(ids.size());
    KVCache cache = model_.make_cache(1, T);
    const Tensor logits = model_.forward(ids, 1, T, cache, /*last_only=*/true);
    const int64_t V = model_.config().vocab_size;
    const float* row = logits.data<float>();
    double mx = row[0];
    for (int64_t v = 1; v < V; v++) {
        mx = std::max(mx, static_cast<double>(row[v]));
    }
    double sum = 0.0;
    for (int64_t v = 0; v < V; v++) {
        sum += std::exp(static_cast<double>(row[v]) - mx);
    }
    const double lse = mx + std::log(sum);
    const auto k = static_cast<std::size_t>(std::clamp<int64_t>(top_k, 0, V));
    std::vector<int32_t> order(static_cast<std::size_t>(V));
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(
        order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
        [&](int32_t a, int32_t b) { return row[a] > row[b] || (row[a] == row[b] && a < b); });
    order.resize(k);
    for (int32_t id : digit_ids_) {
        if (std::find(order.begin(), order.end(), id) == order.end()) {
            order.push_back(id);
        }
    }
    std::vector<TokenLogprob> out;
    for (int32_t id : order) {
        const int32_t one[1] = {id};
        out.push_back({tok_.decode(one, false), static_cast<double>(row[id]) - lse});
    }
    return out;
}

}  // namespace qforge::eval
