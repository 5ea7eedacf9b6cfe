// What is here: embedding_forward/backward on CUDA (kernels/cuda/pointwise.h).
#include "kernels/cuda/bad_index.cuh"
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/pointwise.h"
#include "kernels/cuda/reduce.cuh"

namespace qforge::kernels::cuda {

namespace {

__device__ unsigned long long g_embedding_bad_row;

// one block per row n; threads stride over C
__global__ void embedding_forward_kernel(float* out, const int32_t* ids, const float* table,
                                         int64_t C, int64_t V, unsigned long long* bad) {
    const int64_t n = blockIdx.x;
    const int32_t id = ids[n];
    if (id < 0 || id >= V) {
        if (threadIdx.x == 0) {
            report_bad_row(bad, n);
        }
        return;
    }
    const float* src = table + static_cast<int64_t>(id) * C;
    float* dst = out + n * C;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
        dst[c] = src[c];
    }
}

// one thread per channel c, walking the rows in order (repeated ids add up as on the CPU)
__global__ void embedding_backward_kernel(float* dtable, const float* dout, const int32_t* ids,
                                          int64_t N, int64_t C) {
    const int64_t c = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
    if (c >= C) {
        return;
    }
    for (int64_t n = 0; n < N; n++) {
        const int32_t id = ids[n];
        if (id >= 0) {
            dtable[static_cast<int64_t>(id) * C + c] += dout[n * C + c];
        }
    }
}

}  // namespace

BadIndex embedding_forward(void* stream, float* out, const int32_t* ids, const float* table,
                           int64_t N, int64_t C, int64_t V) {
    if (N == 0) {
        return {};
    }
    const auto s = static_cast<cudaStream_t>(stream);
    unsigned long long* bad = record_address(g_embedding_bad_row);
    reset_bad_row(s, bad);
    const int threads = C >= 256 ? 256 : 64;
    embedding_forward_kernel<<<static_cast<unsigned>(N), threads, 0, s>>>(out, ids, table, C, V,
                                                                          bad);
    QF_CUDA_LAUNCH_CHECK();
    return read_bad_row(s, bad, ids);
}

void embedding_backward(void* stream, float* dtable, const float* dout, const int32_t* ids,
                        int64_t N, int64_t C) {
    if (N == 0 || dtable == nullptr) {
        return;
    }
    const int threads = 128;
    embedding_backward_kernel<<<blocks_for(C, threads), threads, 0,
                                static_cast<cudaStream_t>(stream)>>>(dtable, dout, ids, N, C);
    QF_CUDA_LAUNCH_CHECK();
}

}  // namespace qforge::kernels::cuda
