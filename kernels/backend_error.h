// What is here: the errors of the host-side CUDA calls in kernels/memory.cpp and
// kernels/stream.cpp (include from those .cpp files only: it pulls in cuda_runtime.h when this
// build has the backend): a failed call names itself and the CUDA error; a CUDA call in a build
// without the backend says how to get one.
#pragma once

#include <cstddef>

#include "kernels/common.h"

#ifdef QFORGE_HAS_CUDA
#include <cuda_runtime.h>
#endif

namespace qforge::kernels::detail {

#ifdef QFORGE_HAS_CUDA
inline void cuda_check(cudaError_t err, const char* what) {
    QF_CHECK(err == cudaSuccess, "{} failed: {}", what, cudaGetErrorString(err));
}

// The same for a call that moves or allocates `bytes`.
inline void cuda_check(cudaError_t err, const char* what, std::size_t bytes) {
    QF_CHECK(err == cudaSuccess, "{} ({} bytes) failed: {}", what, bytes, cudaGetErrorString(err));
}
#else
[[noreturn]] inline void no_cuda(const char* what) {
    QF_FAIL("{}: this build has no CUDA backend (configure with nvcc to get one)", what);
}
#endif

}  // namespace qforge::kernels::detail
