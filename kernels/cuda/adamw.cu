// What is here: adamw_update and sum_of_squares on CUDA (kernels/cuda/pointwise.h).
// adamw_update is fp32 math (the CPU twin uses double); sum_of_squares accumulates in double in
// a fixed order (deterministic for a given n).
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/pointwise.h"
#include "kernels/cuda/reduce.cuh"

namespace qforge::kernels::cuda {

namespace {

constexpr int kThreads = 256;

struct AdamwArgs {
    float lr, beta1, beta2, eps, decay, grad_scale;
    float inv_bc1, inv_bc2;  // 1 / (1 - beta^step)
};

// one thread per element (grid-stride)
__global__ void adamw_kernel(float* param, const float* grad, float* m, float* v, int64_t n,
                             AdamwArgs a) {
    for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
        const float g = grad[i] * a.grad_scale;
        const float mi = a.beta1 * m[i] + (1.0f - a.beta1) * g;
        const float vi = a.beta2 * v[i] + (1.0f - a.beta2) * g * g;
        m[i] = mi;
        v[i] = vi;
        const float w = param[i] * a.decay;
        param[i] = w - a.lr * (mi * a.inv_bc1) / (sqrtf(vi * a.inv_bc2) + a.eps);
    }
}

constexpr int kSumBlocks = 1024;  // at most this many partial sums
__device__ double g_partials[kSumBlocks];
__device__ double g_sum;

// grid-stride partial sums: block b covers a fixed set of elements for a given n and grid
__global__ void sum_sq_partials_kernel(const float* x, int64_t n) {
    __shared__ double scratch[32];
    double acc = 0.0;
    for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
        const double e = x[i];
        acc += e * e;
    }
    acc = block_sum(acc, scratch);
    if (threadIdx.x == 0) {
        g_partials[blockIdx.x] = acc;
    }
}

// one block of kSumBlocks threads: thread b holds partial b, then a fixed tree
__global__ void sum_sq_final_kernel(int blocks) {
    __shared__ double scratch[32];
    const int b = static_cast<int>(threadIdx.x);
    const double total = block_sum(b < blocks ? g_partials[b] : 0.0, scratch);
    if (threadIdx.x == 0) {
        g_sum = total;
    }
}

}  // namespace

void adamw_update(void* stream, float* param, const float* grad, float* m, float* v, int64_t n,
                  float lr, float beta1, float beta2, float eps, float weight_decay,
                  float grad_scale, double bias_correction1, double bias_correction2) {
    if (n == 0) {
        return;
    }
    const AdamwArgs a{
        lr,
        beta1,
        beta2,
        eps,
        static_cast<float>(1.0 - static_cast<double>(lr) * weight_decay),
        grad_scale,
        static_cast<float>(1.0 / bias_correction1),
        static_cast<float>(1.0 / bias_correction2),
    };
    const unsigned grid = grid_stride_blocks(n, kThreads);
    adamw_kernel<<<grid, kThreads, 0, static_cast<cudaStream_t>(stream)>>>(param, grad, m, v, n, a);
    QF_CUDA_LAUNCH_CHECK();
}

double sum_of_squares(void* stream, const float* x, int64_t n) {
    if (n == 0) {
        return 0.0;
    }
    const auto s = static_cast<cudaStream_t>(stream);
    const unsigned want = blocks_for(n, kThreads * 4);
    const int blocks = static_cast<int>(want < kSumBlocks ? want : kSumBlocks);
    sum_sq_partials_kernel<<<blocks, kThreads, 0, s>>>(x, n);
    QF_CUDA_LAUNCH_CHECK();
    sum_sq_final_kernel<<<1, kSumBlocks, 0, s>>>(blocks);
    QF_CUDA_LAUNCH_CHECK();
    double* result = nullptr;
    QF_CUDA_CHECK(cudaGetSymbolAddress(reinterpret_cast<void**>(&result), g_sum));
    double host = 0.0;
    QF_CUDA_CHECK(cudaMemcpyAsync(&host, result, sizeof(host), cudaMemcpyDeviceToHost, s));
    QF_CUDA_CHECK(cudaStreamSynchronize(s));
    return host;
}

}  // namespace qforge::kernels::cuda
