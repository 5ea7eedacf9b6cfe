// What is here: causal softmax attention with grouped-query heads, a KV cache offset and
// optional packing segments (the params struct is in kernels/attention_params.h).
#pragma once

#include <cstdint>

#include "kernels/attention_params.h"
#include "kernels/common.h"

namespace qforge::kernels {

// Params for densely packed q/out (B,T,Hq,D) and k/v (B,T,Hkv,D), no KV cache (Tk = T).
AttnParams make_attn_params_contiguous(float* out, float* lse, const float* q, const float* k,
                                       const float* v, const int32_t* segment_ids, int64_t B,
                                       int64_t T, int64_t Hq, int64_t Hkv, int64_t D);

void attention_forward(const Ctx& ctx, const AttnParams& p);

// Which CUDA kernels attention runs, for every later call in the process. kBf16 (default):
// head_dim 64 and 128 on bf16 tensor cores (mma.sync, fp32 accumulation and softmax; operands
// rounded to 8-bit mantissas: out ~4e-3, gradients ~1e-2 relative error), other head dims as
// kCudaCores; on an sm_90 GPU with an sm_90a build, attention_forward_bf16 (and, at head_dim
// 128, attention_backward_bf16) run on wgmma. kBf16MmaSync: kBf16 without wgmma (the mma.sync
// kernels everywhere; to compare the two).
// kCudaCores: fp32 arithmetic, any head_dim up to 128 (the reference). kTensorCores: head_dim 64
// and 128 on TF32 wmma (out ~3e-4 relative error; slower than kCudaCores on the H100,
// docs/kernels.md), other head dims as kCudaCores.
enum class AttentionImpl { kCudaCores, kTensorCores, kBf16, kBf16MmaSync };
void set_cuda_attention_impl(AttentionImpl impl);
AttentionImpl cuda_attention_impl();

// Whether kBf16's bf16 entry points run on wgmma in this process (an sm_90 GPU and an sm_90a
// build; asked of the GPU once); false without CUDA.
bool cuda_attention_wgmma();

// The wgmma backward's query heads per block (a divisor of Hq / Hkv). With the whole GQA group in
// one block, dK and dV are added without atomics; fewer heads give more, lighter blocks. 0, the
// default, takes 2 (1 for an odd group), halved while that leaves fewer than 1.5 blocks an SM
// (measured in kernels/cuda/attention_wgmma_bwd.cu). For tests and benchmarks, which run each.
void set_cuda_attention_wgmma_heads(int heads);
int cuda_attention_wgmma_heads();

// Needs p.lse from the forward. p.out may be nullptr; when given it must hold the forward's output:
// the CUDA backend then takes dot(dout, out) from it instead of recomputing out (the CPU reference
// never reads it). dq, dk, dv use the strides of q, k, v and are accumulated (+=); each may be
// nullptr. dout uses the strides of q. The CUDA backend adds into dq/dk/dv with atomics (the
// wgmma backward: dq by bulk reductions, dk/dv with atomics unless a block has the whole GQA
// group), so its summation order (and the last bits) may differ from run to run.
void attention_backward(const Ctx& ctx, const AttnParams& p, float* dq, float* dk, float* dv,
                        const float* dout);

// bf16 in, bf16 out (AttnBf16Params): out = bf16(the fp32 attention of the bf16 values); lse fp32.
// CUDA, head_dim 64/128 with kBf16, every pointer 16-byte aligned and every row stride a multiple
// of 8: the mma kernels read q, k, v straight from these tensors and write out in bf16. Any other
// case (and the CPU reference): q, k, v widened to fp32 scratch, attention_forward, out rounded.
// Elements of out rows past Hq*D are never written.
void attention_forward_bf16(const Ctx& ctx, const AttnBf16Params& p);

// Needs p.out (bf16, the forward's: dot(dout, out) is taken from it on CUDA) and p.lse. dout is
// bf16 (B,T,Hq,D) with its own row stride. dq, dk, dv are fp32, contiguous (B,T,H,D) (row
// strides Hq*D, Hkv*D, Hkv*D), accumulated (+=); each may be nullptr. The fallback and the CPU
// reference widen q, k, v, out, dout and call attention_backward.
void attention_backward_bf16(const Ctx& ctx, const AttnBf16Params& p, float* dq, float* dk,
                             float* dv, const uint16_t* dout, int64_t dout_row_stride);

}  // namespace qforge::kernels
