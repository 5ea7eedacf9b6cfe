// What is here: make_attn_params_contiguous and the dispatchers of kernels/attention.h, which
// check the params struct once for every backend.
#include "kernels/attention.h"

#include <atomic>

#include "kernels/check_args.h"
#include "kernels/cpu/ops.h"
#include "kernels/cuda/dense.h"
#include "kernels/registry.h"

namespace qforge::kernels {

namespace {

std::atomic<AttentionImpl>& attention_impl() {
    static std::atomic<AttentionImpl> impl{AttentionImpl::kBf16};
    return impl;
}

[[maybe_unused]] bool tensor_cores() {
    return attention_impl().load() == AttentionImpl::kTensorCores;
}

// kBf16 runs head_dim 64 and 128 on kernels/cuda/attention_mma.cu.
[[maybe_unused]] bool bf16_mma(const AttnParams& p) {
    return attention_impl().load() == AttentionImpl::kBf16 && (p.D == 64 || p.D == 128);
}

void check_attn_params(std::string_view op, const AttnParams& p) {
    check_size(op, "B", p.B, 0);
    check_size(op, "T", p.T, 0);
    check_size(op, "Hq", p.Hq, 1);
    check_size(op, "Hkv", p.Hkv, 1);
    check_size(op, "D", p.D, 1);
    check_size(op, "q_pos0", p.q_pos0, 0);
    QF_CHECK(p.Hq % p.Hkv == 0,
             "{}: Hq ({}) must be a multiple of Hkv ({}) for grouped-query "
             "attention",
             op, p.Hq, p.Hkv);
    QF_CHECK(p.Tk >= p.q_pos0 + p.T,
             "{}: expected Tk >= q_pos0 + T (every query must see its own key), got Tk={} "
             "q_pos0={} T={}",
             op, p.Tk, p.q_pos0, p.T);
    if (p.segment_ids != nullptr) {
        QF_CHECK(p.Tk == p.T && p.q_pos0 == 0,
                 "{}: segment_ids (packing) require Tk == T and q_pos0 == 0, got T={} Tk={} "
                 "q_pos0={}",
                 op, p.T, p.Tk, p.q_pos0);
    }
    QF_CHECK(p.q_row_stride >= p.Hq * p.D,
             "{}: q_row_stride must be >= Hq*D = {} (in floats), got {}", op, p.Hq * p.D,
             p.q_row_stride);
    QF_CHECK(p.kv_row_stride >= p.Hkv * p.D,
             "{}: kv_row_stride must be >= Hkv*D = {} (in floats), got {}", op, p.Hkv * p.D,
             p.kv_row_stride);
    QF_CHECK(p.q_batch_stride >= 0 && p.kv_batch_stride >= 0,
             "{}: batch strides must be >= 0, got q_batch_stride={} kv_batch_stride={}", op,
             p.q_batch_stride, p.kv_batch_stride);
    const bool has_work = p.B > 0 && p.T > 0;
    check_ptr(op, "q", p.q, has_work);
    check_ptr(op, "k", p.k, has_work);
    check_ptr(op, "v", p.v, has_work);
}

#ifdef QFORGE_HAS_CUDA
// Limits of the CUDA kernels' launch shapes (kernels/cuda/attention_*.cu).
void check_cuda_attn(std::string_view op, const AttnParams& p) {
    QF_CHECK(p.D <= cuda::kAttentionMaxHeadDim,
             "{}: the CUDA kernels take head_dim D <= {}, got D={}", op, cuda::kAttentionMaxHeadDim,
             p.D);
    QF_CHECK(p.B * p.Hq <= 65535, "{}: the CUDA kernels take B * Hq <= 65535, got B={} Hq={}", op,
             p.B, p.Hq);
}
#endif

}  // namespace

void set_cuda_attention_impl(AttentionImpl impl) {
    attention_impl().store(impl);
}

AttentionImpl cuda_attention_impl() {
    return attention_impl().load();
}

AttnParams make_attn_params_contiguous(float* out, float* lse, const float* q, const float* k,
                                       const float* v, const int32_t* segment_ids, int64_t B,
                                       int64_t T, int64_t Hq, int64_t Hkv, int64_t D) {
    AttnParams p{};
    p.out = out;
    p.lse = lse;
    p.q = q;
    p.k = k;
    p.v = v;
    p.segment_ids = segment_ids;
    p.B = B;
    p.T = T;
    p.Tk = T;
    p.Hq = Hq;
    p.Hkv = Hkv;
    p.D = D;
    p.q_pos0 = 0;
    p.q_row_stride = Hq * D;
    p.q_batch_stride = T * Hq * D;
    p.kv_row_stride = Hkv * D;
    p.kv_batch_stride = T * Hkv * D;
    return p;
}

void attention_forward(const Ctx& ctx, const AttnParams& p) {
    constexpr std::string_view op = "attention_forward";
    check_attn_params(op, p);
    check_ptr(op, "out", p.out, p.B > 0 && p.T > 0);
    switch (ctx.device) {
        case Device::kCpu:
            return cpu::attention_forward(p);
        case Device::kCuda:
#ifdef QFORGE_HAS_CUDA
            check_cuda_attn(op, p);
            if (bf16_mma(p)) {
                return cuda::attention_mma_forward(ctx.stream, p);
            }
            return cuda::attention_forward(ctx.stream, p, tensor_cores());
#else
            break;
#endif
    }
    throw_unsupported(Op::kAttentionForward, ctx.device);
}

void attention_backward(const Ctx& ctx, const AttnParams& p, float* dq, float* dk, float* dv,
                        const float* dout) {
    constexpr std::string_view op = "attention_backward";
    check_attn_params(op, p);
    const bool has_work = p.B > 0 && p.T > 0;
    check_ptr(op, "lse (saved by attention_forward)", p.lse, has_work);
    check_ptr(op, "dout", dout, has_work);
    switch (ctx.device) {
        case Device::kCpu:
            return cpu::attention_backward(p, dq, dk, dv, dout);
        case Device::kCuda:
#ifdef QFORGE_HAS_CUDA
            check_cuda_attn(op, p);
            if (bf16_mma(p)) {
                return cuda::attention_mma_backward(ctx.stream, p, dq, dk, dv, dout);
            }
            return cuda::attention_backward(ctx.stream, p, dq, dk, dv, dout, tensor_cores());
#else
            break;
#endif
    }
    throw_unsupported(Op::kAttentionBackward, ctx.device);
}

}  // namespace qforge::kernels
