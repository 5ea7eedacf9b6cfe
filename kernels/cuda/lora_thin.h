// What is here: the launchers of the thin LoRA kernels (kernels/cuda/lora_thin.cu), called by
// kernels/lora_thin.cpp after its argument checks, and which ops they serve
// (kernels/cuda/supported_lora_thin.cpp). Plain declarations (no fmt, no CUDA headers: `stream`
// is a cudaStream_t as void*).
#pragma once

#include <cstdint>

namespace qforge::kernels {
enum class Op;
}  // namespace qforge::kernels

namespace qforge::kernels::cuda {

bool supports_lora_thin(Op op);

// kernels/lora_thin.h semantics; N > 0, R >= 1 (R > 64: cuBLASLt). `splits` > 0 forces the number
// of partial sums over K (lora_down) or N (lora_grad), for the bench; 0 picks it from the shape.
void lora_down_bf16(void* stream, int64_t N, int64_t K, int64_t R, const uint16_t* x, int64_t ldx,
                    const uint16_t* w, int64_t w_stride_r, int64_t w_stride_k, float alpha,
                    float* y, int64_t ldy, uint16_t* y16, int64_t ldy16, int splits = 0);
// N > 0, M > 0.
void lora_grad_bf16(void* stream, int64_t N, int64_t M, int64_t R, const uint16_t* d, int64_t ldd,
                    const uint16_t* x, int64_t ldx, float alpha, float* out, int64_t out_stride_r,
                    int64_t out_stride_m, int splits = 0);

}  // namespace qforge::kernels::cuda
