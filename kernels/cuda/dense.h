// What is here: host-side launchers of the CUDA kernels for the GEMM (cuBLASLt), linear,
// flash-attention and LoRA-gradient ops (kernels/cuda/*.cu),
// called by the dispatchers in kernels/*.cpp after their argument checks. This header is
// included by .cu files too, so it holds plain declarations only: no fmt, no CUDA headers
// (`stream` is a cudaStream_t passed as void*). Launchers report failures through
// kernels/cuda/check.cuh.
#pragma once

#include <cstdint>

#include "kernels/gemm_math.h"

namespace qforge::kernels {
enum class Op;
struct AttnParams;
}  // namespace qforge::kernels

namespace qforge::kernels::cuda {

// True for each op whose CUDA kernel lives with these launchers (kernels/cuda/supported_dense.cpp).
bool supports_dense(Op op);

// kernels/gemm.h semantics (row-major, beta == 0 never reads C) on cuBLASLt
// (kernels/cuda/gemm.cu); M, N > 0. K == 0 scales C by beta.
void gemm_f32(void* stream, GemmMath math, bool trans_a, bool trans_b, int64_t M, int64_t N,
              int64_t K, float alpha, const float* A, int64_t lda, const float* B, int64_t ldb,
              float beta, float* C, int64_t ldc);
// gemm_bf16 (kernels/gemm.h): bf16 operands (their bits) used in place, fp32 C, fp32 compute
// (cuBLASLt CUBLAS_COMPUTE_32F over CUDA_R_16BF); M, N > 0, K == 0 scales C by beta.
void gemm_bf16(void* stream, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
               float alpha, const uint16_t* A, int64_t lda, const uint16_t* B, int64_t ldb,
               float beta, float* C, int64_t ldc);
// gemm_bf16_add (kernels/gemm.h): gemm_bf16 with beta 1 out of place, C read from R.
void gemm_bf16_add(void* stream, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                   float alpha, const uint16_t* A, int64_t lda, const uint16_t* B, int64_t ldb,
                   const float* R, float* D, int64_t ldd);

// gemm_bf16_to_bf16 (kernels/gemm.h): gemm_bf16 with a bf16 C/D (cuBLASLt CUDA_R_16BF D, rounded
// to nearest even, never read); M, N > 0, K == 0 writes zeros to the (M,N) block (row stride ldc).
void gemm_bf16_to_bf16(void* stream, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                       float alpha, const uint16_t* A, int64_t lda, const uint16_t* B, int64_t ldb,
                       uint16_t* C, int64_t ldc);

// out (N,OC) += bias (OC) on every row (kernels/cuda/linear.cu).
void bias_add_rows(void* stream, float* out, const float* bias, int64_t N, int64_t OC);
// dbias (OC) += sum over the N rows of dout (N,OC).
void bias_grad(void* stream, float* dbias, const float* dout, int64_t N, int64_t OC);

// Flash attention (kernels/cuda/attention_fwd.cu, attention_bwd.cu, attention_tc.cu) on checked
// params; D <= 128. tensor_cores: head_dim 64 and 128 run on TF32 tensor cores.
void attention_forward(void* stream, const AttnParams& p, bool tensor_cores);
void attention_backward(void* stream, const AttnParams& p, float* dq, float* dk, float* dv,
                        const float* dout, bool tensor_cores);
// The bf16 tensor-core flash attention (kernels/cuda/attention_mma.cu), head_dim 64 and 128 only.
void attention_mma_forward(void* stream, const AttnParams& p);
void attention_mma_backward(void* stream, const AttnParams& p, float* dq, float* dk, float* dv,
                            const float* dout);
// The largest head_dim the CUDA attention kernels take.
constexpr int64_t kAttentionMaxHeadDim = 128;

// lora_dy_products (kernels/lora_grad.h; kernels/cuda/lora_grad.cu) on checked arguments, N > 0.
void lora_dy_products(void* stream, const uint16_t* dy, int64_t ld_dy, const uint16_t* sb,
                      int64_t ld_sb, const float* u, int64_t ld_u, int64_t N, int64_t Out,
                      int64_t R, float scale, float* du, uint16_t* du_bf16, int64_t ld_du,
                      float* dB);

}  // namespace qforge::kernels::cuda
