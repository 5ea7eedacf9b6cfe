// CPU reference for token embeddings: the specification the CUDA kernel is tested against.
// Plain loops in fp32 (a copy and a sum need nothing wider). N = token rows, C = channels,
// V = vocab. Left out on purpose: padding_idx, max_norm, scale_grad_by_freq (Llama uses none).
#include <cstring>

#include "kernels/cpu/ops.h"
#include "kernels/cpu/parallel.h"

namespace qforge::kernels::cpu {

// out is (N,C); ids is (N); table is (V,C)
void embedding_forward(float* out, const int32_t* ids, const float* table, int64_t N, int64_t C,
                       int64_t V) {
    for (int64_t n = 0; n < N; n++) {
        const int32_t id = ids[n];
        QF_CHECK(id >= 0 && id < V, "embedding_forward: ids[{}] = {} is outside [0, V={})", n, id,
                 V);
        std::memcpy(out + n * C, table + static_cast<int64_t>(id) * C,
                    static_cast<size_t>(C) * sizeof(float));
    }
}

// dtable is (V,C), accumulated; dout is (N,C); ids is (N)
void embedding_backward(float* dtable, const float* dout, const int32_t* ids, int64_t N,
                        int64_t C) {
    if (dtable == nullptr) {
        return;  // frozen table
    }
    for (int64_t n = 0; n < N; n++) {
        QF_CHECK(ids[n] >= 0, "embedding_backward: ids[{}] = {} is negative", n, ids[n]);
    }
    // Rows are processed in order so that repeated ids add up deterministically; the loop over
    // channels is the parallel one (no two threads touch the same element).
#pragma omp parallel for if (N * C >= kParallelMinWork)
    for (int64_t c = 0; c < C; c++) {
        for (int64_t n = 0; n < N; n++) {
            dtable[static_cast<int64_t>(ids[n]) * C + c] += dout[n * C + c];
        }
    }
}

}  // namespace qforge::kernels::cpu
