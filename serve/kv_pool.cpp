// What is here: KvPool (see kv_pool.h).
#include "serve/kv_pool.h"

#include "kernels/common.h"

namespace qforge::serve {

KvPool::KvPool(const io::LlamaConfig& config, int64_t slots, int64_t max_len,
               const kernels::Ctx& ctx)
    : ctx_(ctx),
      slots_(slots),
      max_len_(max_len),
      row_(config.num_key_value_heads * config.head_dim) {
    QF_CHECK(slots >= 1, "serve: --max-batch must be >= 1, got {}", slots);
    QF_CHECK(max_len >= 2 && max_len <= config.max_position_embeddings,
             "serve: --max-len must be in [2, {}] (the model's max_position_embeddings), got {}",
             config.max_position_embeddings, max_len);
    for (int64_t l = 0; l < config.num_hidden_layers; ++l) {
        const int64_t n = slots * max_len * row_;
        for (auto* t : {&k_, &v_}) {
            t->emplace_back(ctx, n);
            t->back().zero();
        }
    }
    for (int64_t s = slots - 1; s >= 0; --s) {
        free_.push_back(s);
    }
    used_.assign(static_cast<std::size_t>(slots), false);
}

std::size_t KvPool::bytes() const {
    std::size_t n = 0;
    for (std::size_t l = 0; l < k_.size(); ++l) {
        n += static_cast<std::size_t>(k_[l].size() + v_[l].size()) * sizeof(float);
    }
    return n;
}

std::optional<int64_t> KvPool::acquire() {
    if (free_.empty()) {
        return std::nullopt;
    }
    const int64_t s = free_.back();
    free_.pop_back();
    used_[static_cast<std::size_t>(s)] = true;
    return s;
}

void KvPool::release(int64_t slot) {
    QF_CHECK(slot >= 0 && slot < slots_ && used_[static_cast<std::size_t>(slot)],
             "KvPool: slot {} released twice or never acquired", slot);
    used_[static_cast<std::size_t>(slot)] = false;
    free_.push_back(slot);
}

float* KvPool::at(std::vector<DeviceArray<float>>& t, int64_t l, int64_t s) {
    return t[static_cast<std::size_t>(l)].data() + s * max_len_ * row_;
}

}  // namespace qforge::serve
