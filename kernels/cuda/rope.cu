// What is here: rope_forward/backward on CUDA (kernels/cuda/pointwise.h): the rotate_half
// rotation in place, fp32 math.
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/pointwise.h"
#include "kernels/cuda/reduce.cuh"

namespace qforge::kernels::cuda {

namespace {

constexpr int kThreads = 256;

// one thread per pair (n, h, i < D/2), i fastest; x is (N,H,D), cos/sin (T_max, D/2)
__global__ void rope_kernel(float* x, const int32_t* pos, const float* cos, const float* sin,
                            int64_t N, int64_t H, int64_t D, float sign) {
    const int64_t half = D / 2;
    const int64_t pairs = N * H * half;
    for (int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; k < pairs;
         k += static_cast<int64_t>(gridDim.x) * blockDim.x) {
        const int64_t i = k % half;
        const int64_t nh = k / half;
        const int64_t n = nh / H;
        const int32_t p = pos[n];
        if (p < 0) {
            continue;
        }
        const float c = cos[static_cast<int64_t>(p) * half + i];
        const float s = sign * sin[static_cast<int64_t>(p) * half + i];
        float* xh = x + nh * D;
        const float x1 = xh[i];
        const float x2 = xh[i + half];
        xh[i] = x1 * c - x2 * s;
        xh[i + half] = x2 * c + x1 * s;
    }
}

}  // namespace

void rope_rotate(void* stream, float* x, const int32_t* pos, const float* cos, const float* sin,
                 int64_t N, int64_t H, int64_t D, float sign) {
    const int64_t pairs = N * H * (D / 2);
    if (pairs == 0) {
        return;
    }
    const unsigned grid = grid_stride_blocks(pairs, kThreads);
    rope_kernel<<<grid, kThreads, 0, static_cast<cudaStream_t>(stream)>>>(x, pos, cos, sin, N, H, D,
                                                                          sign);
    QF_CUDA_LAUNCH_CHECK();
}

}  // namespace qforge::kernels::cuda
