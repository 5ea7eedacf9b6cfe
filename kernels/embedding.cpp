// What is here: the dispatchers of kernels/embedding.h (argument checks, then the backend).
#include "kernels/embedding.h"

#include "kernels/check_args.h"
#include "kernels/cpu/ops.h"
#include "kernels/registry.h"

#ifdef QFORGE_HAS_CUDA
#include "kernels/cuda/pointwise.h"
#endif

namespace qforge::kernels {

void embedding_forward(const Ctx& ctx, float* out, const int32_t* ids, const float* table,
                       int64_t N, int64_t C, int64_t V, IndexCheck check) {
    constexpr std::string_view op = "embedding_forward";
    check_size(op, "N", N, 0);
    check_size(op, "C", C, 1);
    check_size(op, "V", V, 1);
    check_ptr(op, "out", out, N > 0);
    check_ptr(op, "ids", ids, N > 0);
    check_ptr(op, "table", table);
    switch (ctx.device) {
        case Device::kCpu:
            return cpu::embedding_forward(out, ids, table, N, C, V);
        case Device::kCuda:
#ifdef QFORGE_HAS_CUDA
        {
            const cuda::BadIndex bad = cuda::embedding_forward(ctx.stream, out, ids, table, N, C, V,
                                                               check == IndexCheck::kWait);
            QF_CHECK(bad.index < 0, "embedding_forward: ids[{}] = {} is outside [0, V={})",
                     bad.index, bad.value, V);
            return;
        }
#else
            break;
#endif
    }
    throw_unsupported(Op::kEmbeddingForward, ctx.device);
}

void embedding_backward(const Ctx& ctx, float* dtable, const float* dout, const int32_t* ids,
                        int64_t N, int64_t C) {
    constexpr std::string_view op = "embedding_backward";
    check_size(op, "N", N, 0);
    check_size(op, "C", C, 1);
    check_ptr(op, "dout", dout, N > 0 && dtable != nullptr);
    check_ptr(op, "ids", ids, N > 0 && dtable != nullptr);
    switch (ctx.device) {
        case Device::kCpu:
            return cpu::embedding_backward(dtable, dout, ids, N, C);
        case Device::kCuda:
#ifdef QFORGE_HAS_CUDA
            return cuda::embedding_backward(ctx.stream, dtable, dout, ids, N, C);
#else
            break;
#endif
    }
    throw_unsupported(Op::kEmbeddingBackward, ctx.device);
}

}  // namespace qforge::kernels
