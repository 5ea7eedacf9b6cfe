// What is here: AttnParams and AttnBf16Params, the plain params structs of kernels/attention.h
// (flash-attention's Flash_fwd_params), in a header without fmt so that kernels/cuda/*.cu can
// include it.
#pragma once

#include <cstdint>

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

// The bf16 entry points (attention_forward_bf16 / attention_backward_bf16): bf16 values as their
// 16 bits, token-major (B,T,H,D) with a row stride per token and no batch stride:
//   q/out (b,t,h,d) at (b*T + t)*row_stride + h*D + d;  k/v likewise with kv_row_stride.
// No KV cache (Tk = T, q_pos0 = 0); visibility, GQA and scale as AttnParams.
struct AttnBf16Params {
    uint16_t* out;  // forward output (B,T,Hq,D): the fp32 result rounded to nearest even
    int64_t out_row_stride;
    float* lse;  // (B,Hq,T) contiguous, as AttnParams; may be nullptr in forward
    const uint16_t* q;
    int64_t q_row_stride;
    const uint16_t* k;
    const uint16_t* v;
    int64_t kv_row_stride;
    const int32_t* segment_ids;  // (B,T) or nullptr
    int64_t B, T, Hq, Hkv, D;
};

}  // namespace qforge::kernels
