// What is here: a tiny random-weight Llama (odd sizes, GQA, head_dim 4) built in memory for
// gradient checks and trainer tests that need no files.
#pragma once

#include <cstdint>

#include "runtime/model/llama.h"

namespace qforge::test {

struct TinyLlamaShape {
    int64_t C = 12, F = 20, L = 2, Hq = 3, Hkv = 1, D = 4, V = 37, max_pos = 64;
    bool tie = false;
};

// Weights ~ U(-0.3, 0.3) (norm weights 1 +- 0.2) from `seed`; projections dense fp32 or NF4.
LlamaModel make_tiny_llama(const TinyLlamaShape& shape, uint64_t seed, bool nf4 = false);

}  // namespace qforge::test
