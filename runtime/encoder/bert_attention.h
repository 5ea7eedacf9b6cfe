// What is here: bidirectional multi-head softmax attention with a key padding mask, the
// attention of a BERT encoder layer, written with kernels::gemm calls and a plain masked softmax.
#pragma once

#include <cstdint>

#include "kernels/common.h"

namespace qforge {

// q, k, v, out are (B,T,NH,D) rows of width C = NH*D (the layout nn.Linear writes); mask (B,T)
// is 1 for a real key, 0 for padding; scores (T,T) is scratch. Every query row, padded ones
// included, attends to all real keys of its sequence with scale 1/sqrt(D): the same numbers
// as Hugging Face's eager BertSelfAttention, whose additive mask of finfo.min gives padding
// keys an exact 0 weight. A sequence with no real key gets zeros.
void bert_attention_forward(const kernels::Ctx& ctx, float* out, float* scores, const float* q,
                            const float* k, const float* v, const int32_t* mask, int64_t B,
                            int64_t T, int64_t NH, int64_t D);

}  // namespace qforge
