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
        if (threadIdx.x == 0 && bad != nullptr) {
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

constexpr int kBackwardThreads = 256;

// one block per row n that is the first row with its id; it adds every row m >= n with the same
// id into dtable in row order (the CPU's order, so the sums are bit-identical and deterministic).
// Rows are scanned blockDim.x at a time; the matches of a chunk are compacted in order (ballot,
// then warp offsets), then threads stride over C adding those rows.
__global__ void embedding_backward_kernel(float* dtable, const float* dout, const int32_t* ids,
                                          int64_t N, int64_t C) {
    __shared__ int64_t matches[kBackwardThreads];
    __shared__ int warp_offset[kBackwardThreads / 32];
    __shared__ int match_count;
    const int64_t n = blockIdx.x;
    const int32_t id = ids[n];
    if (id < 0) {
        return;
    }
    bool earlier = false;
    for (int64_t m = threadIdx.x; m < n; m += blockDim.x) {
        earlier = earlier || ids[m] == id;
    }
    if (__syncthreads_or(earlier)) {
        return;  // an earlier row owns this id
    }
    const int lane = static_cast<int>(threadIdx.x % 32);
    const int warp = static_cast<int>(threadIdx.x / 32);
    float* trow = dtable + static_cast<int64_t>(id) * C;
    for (int64_t base = n; base < N; base += blockDim.x) {
        const int64_t m = base + threadIdx.x;
        const bool hit = m < N && ids[m] == id;
        const unsigned mask = __ballot_sync(0xffffffffu, hit);
        if (lane == 0) {
            warp_offset[warp] = __popc(mask);
        }
        __syncthreads();
        if (threadIdx.x == 0) {
            int total = 0;
            for (int w = 0; w < static_cast<int>(blockDim.x / 32); w++) {
                const int count = warp_offset[w];
                warp_offset[w] = total;
                total += count;
            }
            match_count = total;
        }
        __syncthreads();
        if (hit) {
            matches[warp_offset[warp] + __popc(mask & ((1u << lane) - 1u))] = m;
        }
        __syncthreads();
        const int k = match_count;
        if (k > 0) {
            for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
                float acc = trow[c];
                for (int j = 0; j < k; j++) {
                    acc += dout[matches[j] * C + c];
                }
                trow[c] = acc;
            }
        }
        __syncthreads();  // matches and warp_offset are rewritten by the next chunk
    }
}

}  // namespace

BadIndex embedding_forward(void* stream, float* out, const int32_t* ids, const float* table,
                           int64_t N, int64_t C, int64_t V, bool report) {
    if (N == 0) {
        return {};
    }
    const auto s = static_cast<cudaStream_t>(stream);
    unsigned long long* bad = report ? record_address(g_embedding_bad_row) : nullptr;
    if (report) {
        reset_bad_row(s, bad);
    }
    const int threads = C >= 256 ? 256 : 64;
    embedding_forward_kernel<<<static_cast<unsigned>(N), threads, 0, s>>>(out, ids, table, C, V,
                                                                          bad);
    QF_CUDA_LAUNCH_CHECK();
    return report ? read_bad_row(s, bad, ids) : BadIndex{};
}

void embedding_backward(void* stream, float* dtable, const float* dout, const int32_t* ids,
                        int64_t N, int64_t C) {
    if (N == 0 || dtable == nullptr) {
        return;
    }
    embedding_backward_kernel<<<static_cast<unsigned>(N), kBackwardThreads, 0,
                                static_cast<cudaStream_t>(stream)>>>(dtable, dout, ids, N, C);
    QF_CUDA_LAUNCH_CHECK();
}

}  // namespace qforge::kernels::cuda
