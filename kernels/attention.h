// What is here: causal softmax attention with grouped-query heads, a KV cache offset and
// optional packing segments, as one plain params struct (flash-attention's Flash_fwd_params).
#pragma once

#include <cstdint>

#include "kernels/common.h"

namespace qforge::kernels {

// Queries are T new positions q_pos0 .. q_pos0+T-1; keys are positions 0..Tk-1 (KV cache:
// Tk = q_pos0 + T; keys past the last query are never seen). The query at absolute position p
// sees keys s <= p and, when segment_ids is given (packing; requires Tk == T and q_pos0 == 0),
// only keys with its own segment id. Query head h uses kv head h / (Hq/Hkv); scale 1/sqrt(D).
struct AttnParams {
    float* out;  // (B,T,Hq,D), same strides as q
    float* lse;  // (B,Hq,T) contiguous: log-sum-exp of the scaled scores; may be nullptr in forward
    const float* q;
    const float* k;
    const float* v;
    const int32_t* segment_ids;  // (B,T) or nullptr
    int64_t B, T, Tk, Hq, Hkv, D, q_pos0;
    int64_t q_batch_stride, q_row_stride;  // in floats: q/out (b,t,h,d) at b*qbs + t*qrs + h*D + d
    // k/v (b,s,h,d) at b*kvbs + s*kvrs + h*D + d (lets k/v live in a bigger KV-cache buffer)
    int64_t kv_batch_stride, kv_row_stride;
};

// Params for densely packed q/out (B,T,Hq,D) and k/v (B,T,Hkv,D), no KV cache (Tk = T).
AttnParams make_attn_params_contiguous(float* out, float* lse, const float* q, const float* k,
                                       const float* v, const int32_t* segment_ids, int64_t B,
                                       int64_t T, int64_t Hq, int64_t Hkv, int64_t D);

void attention_forward(const Ctx& ctx, const AttnParams& p);

// Needs p.lse from the forward (p.out is not read). dq, dk, dv use the strides of q, k, v and
// are accumulated (+=); each may be nullptr. dout uses the strides of q.
void attention_backward(const Ctx& ctx, const AttnParams& p, float* dq, float* dk, float* dv,
                        const float* dout);

}  // namespace qforge::kernels
