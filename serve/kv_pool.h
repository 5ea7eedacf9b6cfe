// What is here: KvPool, the serving KV cache: a fixed number of sequence slots of max_len
// positions each, allocated once at start-up (memory is bounded by slots x max_len) and
// handed out to requests and taken back when they finish, fail or are cancelled. The cache
// lives on one device (host memory for the CPU, GPU memory for CUDA).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "kernels/common.h"
#include "runtime/io/hf_config.h"
#include "runtime/tensor/device_array.h"

namespace qforge::serve {

class KvPool {
public:
    // k[l], v[l] are (slots, max_len, Hkv, D) fp32 on ctx.device, zeroed.
    KvPool(const io::LlamaConfig& config, int64_t slots, int64_t max_len,
           const kernels::Ctx& ctx = {});

    const kernels::Ctx& ctx() const { return ctx_; }

    int64_t slots() const { return slots_; }

    int64_t max_len() const { return max_len_; }

    std::size_t bytes() const;

    // A free slot, or nothing when every slot is in use.
    std::optional<int64_t> acquire();
    void release(int64_t slot);

    int64_t in_use() const { return slots_ - static_cast<int64_t>(free_.size()); }

    // Keys/values of layer l, slot s, position 0 (a pointer on ctx().device): rows of Hkv*D
    // floats follow.
    float* k(int64_t l, int64_t s) { return at(k_, l, s); }

    float* v(int64_t l, int64_t s) { return at(v_, l, s); }

    int64_t row_floats() const { return row_; }

private:
    float* at(std::vector<DeviceArray<float>>& t, int64_t l, int64_t s);

    kernels::Ctx ctx_;
    int64_t slots_, max_len_, row_;
    std::vector<DeviceArray<float>> k_, v_;
    std::vector<int64_t> free_;  // a stack: the most recently released slot is reused first
    std::vector<bool> used_;
};

}  // namespace qforge::serve
