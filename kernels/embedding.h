// What is here: token embedding lookup (forward) and its scatter-add gradient (backward).
#pragma once

#include <cstdint>

#include "kernels/common.h"

namespace qforge::kernels {

// out (N,C) row n = table (V,C) row ids[n]. Throws qforge::Error when an id is outside [0,V)
// (on CUDA the ids are checked on the device and the call waits for the stream, unless the
// caller checked them: IndexCheck::kCheckedByCaller, where a bad id's row is left unwritten).
void embedding_forward(const Ctx& ctx, float* out, const int32_t* ids, const float* table,
                       int64_t N, int64_t C, int64_t V, IndexCheck check = IndexCheck::kWait);

// dtable (V,C) row ids[n] += dout (N,C) row n, for every n (repeated ids add up, in row order on
// both backends: deterministic, no atomics). dtable may be nullptr (a frozen table).
void embedding_backward(const Ctx& ctx, float* dtable, const float* dout, const int32_t* ids,
                        int64_t N, int64_t C);

}  // namespace qforge::kernels
