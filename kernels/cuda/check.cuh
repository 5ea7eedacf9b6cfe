// What is here: QF_CUDA_CHECK / QF_CUBLAS_CHECK / QF_CUDA_LAUNCH_CHECK for .cu files: every CUDA
// and cuBLASLt return is checked and becomes a qforge::Error naming the call and the reason.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>

#include "kernels/cuda/check.h"

#define QF_CUDA_CHECK(call)                                                                        \
    do {                                                                                           \
        const cudaError_t qf_err_ = (call);                                                        \
        if (qf_err_ != cudaSuccess) {                                                              \
            ::qforge::kernels::cuda::fail(__FILE__, __LINE__, #call, cudaGetErrorString(qf_err_)); \
        }                                                                                          \
    } while (0)

#define QF_CUBLAS_CHECK(call)                                               \
    do {                                                                    \
        const cublasStatus_t qf_st_ = (call);                               \
        if (qf_st_ != CUBLAS_STATUS_SUCCESS) {                              \
            ::qforge::kernels::cuda::fail(__FILE__, __LINE__, #call,        \
                                          cublasLtGetStatusString(qf_st_)); \
        }                                                                   \
    } while (0)

// After a <<<...>>> launch: reports a bad configuration (grid, shared memory) at once.
#define QF_CUDA_LAUNCH_CHECK() QF_CUDA_CHECK(cudaGetLastError())
