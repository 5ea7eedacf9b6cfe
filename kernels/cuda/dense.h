// What is here: host-side launchers of the CUDA kernels for the GEMM (cuBLASLt), linear and
// flash-attention ops (kernels/cuda/*.cu),
// called by the dispatchers in kernels/*.cpp after their argument checks. This header is
// included by .cu files too, so it holds plain declarations only: no fmt, no CUDA headers
// (`stream` is a cudaStream_t passed as void*). Launchers report failures through
// kernels/cuda/check.cuh.
#pragma once

#include <cstdint>

namespace qforge::kernels {
enum class Op;
}

namespace qforge::kernels::cuda {

// True for each op whose CUDA kernel lives with these launchers (kernels/cuda/supported_dense.cpp).
bool supports_dense(Op op);

}  // namespace qforge::kernels::cuda
