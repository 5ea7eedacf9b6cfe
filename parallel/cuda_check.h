// What is here: QF_CUDA_CALL and QF_NCCL_CALL for parallel/ (compiled with QFORGE_HAS_CUDA
// only): a failed CUDA or NCCL call becomes a qforge::Error naming the call, the rank and the
// host, and the library's own text of the error.
#pragma once

#ifdef QFORGE_HAS_CUDA

#include <cuda_runtime.h>
#include <nccl.h>

#include "kernels/common.h"
#include "parallel/mpi_collective.h"

#define QF_CUDA_CALL(call)                                                                        \
    do {                                                                                          \
        const cudaError_t qf_cuda_rc = (call);                                                    \
        if (qf_cuda_rc != cudaSuccess) {                                                          \
            ::qforge::throw_error(                                                                \
                __FILE__, __LINE__,                                                               \
                fmt::format("{}: {} failed: {} ({})", ::qforge::parallel::rank_and_host(), #call, \
                            cudaGetErrorString(qf_cuda_rc), cudaGetErrorName(qf_cuda_rc)));       \
        }                                                                                         \
    } while (0)

// `comm` may be nullptr (before the communicator exists): then ncclGetLastError(nullptr).
#define QF_NCCL_CALL(comm, call)                                                                  \
    do {                                                                                          \
        const ncclResult_t qf_nccl_rc = (call);                                                   \
        if (qf_nccl_rc != ncclSuccess) {                                                          \
            ::qforge::throw_error(                                                                \
                __FILE__, __LINE__,                                                               \
                fmt::format("{}: {} failed: {} ({})", ::qforge::parallel::rank_and_host(), #call, \
                            ncclGetErrorString(qf_nccl_rc), ncclGetLastError(comm)));             \
        }                                                                                         \
    } while (0)

#endif  // QFORGE_HAS_CUDA
