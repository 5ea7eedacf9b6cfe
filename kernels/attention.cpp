// What is here: make_attn_params_contiguous and the dispatchers of kernels/attention.h, which
// check the params struct once for every backend, and the bf16 entry points: straight to the mma
// kernels where they fit, else (and on the CPU, where this is the reference) widen q, k, v to
// fp32, run the fp32 op, round out to bf16.
#include "kernels/attention.h"

#include <atomic>
#include <cstdint>
#include <vector>

#include "kernels/bf16.h"
#include "kernels/check_args.h"
#include "kernels/cpu/ops.h"
#include "kernels/cuda/attention_mma.cuh"
#include "kernels/cuda/dense.h"
#include "kernels/cuda/scratch.h"
#include "kernels/registry.h"

namespace qforge::kernels {

namespace {

std::atomic<AttentionImpl>& attention_impl() {
    static std::atomic<AttentionImpl> impl{AttentionImpl::kBf16};
    return impl;
}

std::atomic<int>& wgmma_heads() {
    static std::atomic<int> heads{0};
    return heads;
}

[[maybe_unused]] bool tensor_cores() {
    return attention_impl().load() == AttentionImpl::kTensorCores;
}

// The mma kernels address a head's rows with 32-bit offsets: (rows + a tile) * row stride < 2^31.
constexpr int64_t kMmaMaxOffset = int64_t{1} << 31;
constexpr int64_t kMmaTileRows = 128;

[[maybe_unused]] bool bf16_impl() {
    const AttentionImpl impl = attention_impl().load();
    return impl == AttentionImpl::kBf16 || impl == AttentionImpl::kBf16MmaSync;
}

// kBf16 runs head_dim 64 and 128 on kernels/cuda/attention_mma.cu (bf16 copies of q, k, v, dout
// with rows of H*D).
[[maybe_unused]] bool bf16_mma(const AttnParams& p) {
    return bf16_impl() && (p.D == 64 || p.D == 128) &&
           (p.Tk + kMmaTileRows) * p.Hkv * p.D < kMmaMaxOffset &&
           (p.T + kMmaTileRows) * p.Hq * p.D < kMmaMaxOffset;
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
template <typename Params>
void check_cuda_attn(std::string_view op, const Params& p) {
    QF_CHECK(p.D <= cuda::kAttentionMaxHeadDim,
             "{}: the CUDA kernels take head_dim D <= {}, got D={}", op, cuda::kAttentionMaxHeadDim,
             p.D);
    QF_CHECK(p.B * p.Hq <= 65535, "{}: the CUDA kernels take B * Hq <= 65535, got B={} Hq={}", op,
             p.B, p.Hq);
}
#endif

// ---- bf16 entry points ----------------------------------------------------------------------

void check_bf16_params(std::string_view op, const AttnBf16Params& p) {
    check_size(op, "B", p.B, 0);
    check_size(op, "T", p.T, 0);
    check_size(op, "Hq", p.Hq, 1);
    check_size(op, "Hkv", p.Hkv, 1);
    check_size(op, "D", p.D, 1);
    QF_CHECK(p.Hq % p.Hkv == 0,
             "{}: Hq ({}) must be a multiple of Hkv ({}) for grouped-query attention", op, p.Hq,
             p.Hkv);
    QF_CHECK(p.q_row_stride >= p.Hq * p.D,
             "{}: q_row_stride must be >= Hq*D = {} (in bf16 elements), got {}", op, p.Hq * p.D,
             p.q_row_stride);
    QF_CHECK(p.out_row_stride >= p.Hq * p.D,
             "{}: out_row_stride must be >= Hq*D = {} (in bf16 elements), got {}", op, p.Hq * p.D,
             p.out_row_stride);
    QF_CHECK(p.kv_row_stride >= p.Hkv * p.D,
             "{}: kv_row_stride must be >= Hkv*D = {} (in bf16 elements), got {}", op, p.Hkv * p.D,
             p.kv_row_stride);
    const bool has_work = p.B > 0 && p.T > 0;
    check_ptr(op, "q", p.q, has_work);
    check_ptr(op, "k", p.k, has_work);
    check_ptr(op, "v", p.v, has_work);
    check_ptr(op, "out", p.out, has_work);
}

// The mma kernels take the bf16 tensors as they are: head_dim 64/128 under kBf16, every tensor
// 16-byte aligned with row strides of whole 16-byte chunks (cp.async, 8-byte bf16 stores).
[[maybe_unused]] bool bf16_direct(const AttnBf16Params& p, const uint16_t* dout,
                                  int64_t dout_row_stride) {
    auto ok = [&p](const void* x, int64_t rs) {
        return reinterpret_cast<uintptr_t>(x) % 16 == 0 && rs % 8 == 0 &&
               (p.T + kMmaTileRows) * rs < kMmaMaxOffset;
    };
    return bf16_impl() && (p.D == 64 || p.D == 128) && ok(p.q, p.q_row_stride) &&
           ok(p.k, p.kv_row_stride) && ok(p.v, p.kv_row_stride) && ok(p.out, p.out_row_stride) &&
           (dout == nullptr || ok(dout, dout_row_stride));
}

// fp32 copies of the bf16 tensors, dense (B,T,H,D): q, k, v, out (and dout for the backward).
struct WideCopies {
    float *q, *k, *v, *out, *dout;
};

// Room for the copies: a grow-only host buffer per thread, or the stream's scratch on CUDA.
float* wide_scratch([[maybe_unused]] const Ctx& ctx, int64_t count) {
    const auto n = static_cast<size_t>(count);
#ifdef QFORGE_HAS_CUDA
    if (ctx.device == Device::kCuda) {
        return static_cast<float*>(
            cuda::stream_scratch(ctx.stream, cuda::ScratchSlot::kAttentionWide, n * 4));
    }
#endif
    thread_local std::vector<float> host;
    if (host.size() < n) {
        host.resize(n);
    }
    return host.data();
}

// Widens q, k, v (and out, dout when given) into WideCopies.
WideCopies widen(const Ctx& ctx, const AttnBf16Params& p, const uint16_t* dout,
                 int64_t dout_row_stride) {
    const int64_t rows = p.B * p.T, nq = rows * p.Hq * p.D, nkv = rows * p.Hkv * p.D;
    const bool backward = dout != nullptr;
    float* base = wide_scratch(ctx, 2 * nq + 2 * nkv + (backward ? nq : 0));
    WideCopies w{base, base + nq, base + nq + nkv, base + nq + 2 * nkv,
                 backward ? base + 2 * nq + 2 * nkv : nullptr};
    convert_from_bf16(ctx, w.q, p.Hq * p.D, p.q, p.q_row_stride, rows, p.Hq * p.D);
    convert_from_bf16(ctx, w.k, p.Hkv * p.D, p.k, p.kv_row_stride, rows, p.Hkv * p.D);
    convert_from_bf16(ctx, w.v, p.Hkv * p.D, p.v, p.kv_row_stride, rows, p.Hkv * p.D);
    if (backward) {
        convert_from_bf16(ctx, w.out, p.Hq * p.D, p.out, p.out_row_stride, rows, p.Hq * p.D);
        convert_from_bf16(ctx, w.dout, p.Hq * p.D, dout, dout_row_stride, rows, p.Hq * p.D);
    }
    return w;
}

AttnParams wide_params(const AttnBf16Params& p, const WideCopies& w) {
    return make_attn_params_contiguous(w.out, p.lse, w.q, w.k, w.v, p.segment_ids, p.B, p.T, p.Hq,
                                       p.Hkv, p.D);
}

}  // namespace

void set_cuda_attention_impl(AttentionImpl impl) {
    attention_impl().store(impl);
}

AttentionImpl cuda_attention_impl() {
    return attention_impl().load();
}

void set_cuda_attention_wgmma_heads(int heads) {
    QF_CHECK(heads >= 0, "set_cuda_attention_wgmma_heads: heads per block must be >= 0, got {}",
             heads);
    wgmma_heads().store(heads);
}

int cuda_attention_wgmma_heads() {
    return wgmma_heads().load();
}

bool cuda_attention_wgmma() {
#ifdef QFORGE_HAS_CUDA
    return cuda_available() && cuda::wgmma_attention_available();
#else
    return false;
#endif
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

void attention_forward_bf16(const Ctx& ctx, const AttnBf16Params& p) {
    constexpr std::string_view op = "attention_forward_bf16";
    check_bf16_params(op, p);
    if (p.B == 0 || p.T == 0) {
        return;
    }
#ifdef QFORGE_HAS_CUDA
    if (ctx.device == Device::kCuda) {
        check_cuda_attn(op, p);
        if (bf16_direct(p, nullptr, 0)) {
            return cuda::attention_mma_forward_bf16(
                ctx.stream, p, attention_impl().load() == AttentionImpl::kBf16);
        }
    }
#else
    if (ctx.device == Device::kCuda) {
        throw_unsupported(Op::kAttentionForwardBf16, ctx.device);
    }
#endif
    // The reference (and every other case): widen, the fp32 op, round out to nearest even.
    const WideCopies w = widen(ctx, p, nullptr, 0);
    attention_forward(ctx, wide_params(p, w));
    convert_to_bf16(ctx, p.out, p.out_row_stride, w.out, p.Hq * p.D, p.B * p.T, p.Hq * p.D, 1.0f);
}

void attention_backward_bf16(const Ctx& ctx, const AttnBf16Params& p, float* dq, float* dk,
                             float* dv, const uint16_t* dout, int64_t dout_row_stride) {
    constexpr std::string_view op = "attention_backward_bf16";
    check_bf16_params(op, p);
    const bool has_work = p.B > 0 && p.T > 0;
    check_ptr(op, "lse (saved by attention_forward_bf16)", p.lse, has_work);
    check_ptr(op, "dout", dout, has_work);
    QF_CHECK(dout_row_stride >= p.Hq * p.D,
             "{}: dout_row_stride must be >= Hq*D = {} (in bf16 elements), got {}", op, p.Hq * p.D,
             dout_row_stride);
    if (!has_work || (dq == nullptr && dk == nullptr && dv == nullptr)) {
        return;
    }
#ifdef QFORGE_HAS_CUDA
    if (ctx.device == Device::kCuda) {
        check_cuda_attn(op, p);
        if (bf16_direct(p, dout, dout_row_stride)) {
            return cuda::attention_mma_backward_bf16(
                ctx.stream, p, dq, dk, dv, dout, dout_row_stride,
                attention_impl().load() == AttentionImpl::kBf16, wgmma_heads().load());
        }
    }
#else
    if (ctx.device == Device::kCuda) {
        throw_unsupported(Op::kAttentionBackwardBf16, ctx.device);
    }
#endif
    const WideCopies w = widen(ctx, p, dout, dout_row_stride);
    attention_backward(ctx, wide_params(p, w), dq, dk, dv, w.dout);
}

}  // namespace qforge::kernels
