// What is here: the CPU backend's entry points, one per op, with the same arguments as the
// interface in kernels/<op>.h minus the Ctx. The dispatchers (kernels/<op>.cpp) have checked
// sizes and pointers already; these functions check what only the data can tell (ids, targets).
#pragma once

#include <cstdint>

#include "kernels/adamw.h"
#include "kernels/attention.h"
#include "kernels/nf4.h"

namespace qforge::kernels::cpu {

void embedding_forward(float* out, const int32_t* ids, const float* table, int64_t N, int64_t C,
                       int64_t V);
void embedding_backward(float* dtable, const float* dout, const int32_t* ids, int64_t N, int64_t C);

void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight, int64_t N,
                     int64_t C, float eps);
void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp,
                      const float* weight, const float* rstd, int64_t N, int64_t C);

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

void linear_forward(float* out, const float* inp, const float* weight, const float* bias, int64_t N,
                    int64_t C, int64_t OC);
void linear_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                     const float* weight, int64_t N, int64_t C, int64_t OC);

void swiglu_forward(float* out, const float* gate, const float* up, int64_t n);
void swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate,
                     const float* up, int64_t n);

void rope_forward(float* x, const int32_t* pos, const float* cos, const float* sin, int64_t N,
                  int64_t H, int64_t D);
void rope_backward(float* dx, const int32_t* pos, const float* cos, const float* sin, int64_t N,
                   int64_t H, int64_t D);
// bf16 twins (kernels/cpu/rope.cpp): the pair formula of rope_forward/backward on widened
// values, each result rounded to nearest even.
void rope_forward_bf16(uint16_t* x, int64_t ld, const int32_t* pos, const float* cos,
                       const float* sin, int64_t N, int64_t H, int64_t D);
void rope_backward_to_bf16(uint16_t* dst, int64_t ld, const float* dx, const int32_t* pos,
                           const float* cos, const float* sin, int64_t N, int64_t H, int64_t D);

void attention_forward(const AttnParams& p);
void attention_backward(const AttnParams& p, float* dq, float* dk, float* dv, const float* dout);

void cross_entropy_forward(float* losses, float* lse, const float* logits, const int32_t* targets,
                           int64_t N, int64_t V, int32_t ignore_index);
void cross_entropy_backward(float* dlogits, const float* logits, const float* lse,
                            const int32_t* targets, const float* dloss, int64_t N, int64_t V,
                            int32_t ignore_index);
void cross_entropy_backward_bf16(uint16_t* dlogits, int64_t ld, const float* logits,
                                 const float* lse, const int32_t* targets, const float* dloss,
                                 int64_t N, int64_t V, int32_t ignore_index);

// NF4 (kernels/cpu/nf4.cpp). The code tables and nearest-code searches are host helpers that
// kernels/nf4.cpp re-exports; nf4_quantize runs on the CPU only, at load time.
const float* nf4_code_table();
uint8_t nf4_nearest_code(float x);
const float* dynamic_map_signed();
uint8_t dynamic_nearest_code(const float* code, float x);
void nf4_quantize(const float* w, int64_t N, uint8_t* packed, uint8_t* absmax_q,
                  float* nested_absmax, float* offset);
void nf4_dequantize(float* out, const Nf4View& w);

// bf16 operand ops (kernels/cpu/bf16.cpp): bf16 values are their 16 bits. nf4_dequantize_bf16
// writes value i at row i / cols, column i % cols of out (row stride ld_out).
void convert_to_bf16(uint16_t* out, int64_t ld_out, const float* in, int64_t ld_in, int64_t rows,
                     int64_t cols, float scale);
void convert_from_bf16(float* out, int64_t ld_out, const uint16_t* in, int64_t ld_in, int64_t rows,
                       int64_t cols);
void nf4_dequantize_bf16(uint16_t* out, int64_t ld_out, const Nf4View& w, int64_t cols);
void gemm_bf16(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
               const uint16_t* A, int64_t lda, const uint16_t* B, int64_t ldb, float beta, float* C,
               int64_t ldc);
// gemm_bf16 into an fp32 (M,N) temporary, each value then rounded to nearest even into C.
void gemm_bf16_to_bf16(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                       const uint16_t* A, int64_t lda, const uint16_t* B, int64_t ldb, uint16_t* C,
                       int64_t ldc);

// bf16-output twins of swiglu and rmsnorm_forward (kernels/cpu/bf16_pointwise.cpp): the fp32
// values of the fp32 ops (kernels/cpu/pointwise_math.h), rounded to nearest even. The swiglu
// twins read bf16 inputs (gate, up, dh), widened exactly to fp32.
void swiglu_forward_bf16(uint16_t* h, int64_t ld_h, const uint16_t* gate, const uint16_t* up,
                         int64_t N, int64_t F);
void swiglu_backward_bf16_lora(uint16_t* dgate, uint16_t* dup, int64_t ld, const uint16_t* dh,
                               const uint16_t* gate, const uint16_t* up, int64_t N, int64_t F,
                               const uint16_t* du, int64_t ld_du, int64_t R, float* dA,
                               int64_t ld_a);
void swiglu_backward_bf16(uint16_t* dgate, uint16_t* dup, int64_t ld, const uint16_t* dh,
                          const uint16_t* gate, const uint16_t* up, int64_t N, int64_t F);
void rmsnorm_forward_bf16(uint16_t* out, int64_t ld_out, float* rstd, const float* inp,
                          const float* weight, int64_t N, int64_t C, float eps);

// lora_dy_products (kernels/cpu/lora_grad.cpp): kernels/lora_grad.h, sums in index order.
void lora_dy_products(const uint16_t* dy, int64_t ld_dy, const uint16_t* sb, int64_t ld_sb,
                      const float* u, int64_t ld_u, int64_t N, int64_t Out, int64_t R, float scale,
                      float* du, uint16_t* du_bf16, int64_t ld_du, float* dB);

// Optimizer and regularization (kernels/cpu/adamw.cpp, kernels/cpu/dropout.cpp).
void adamw_update(float* param, const float* grad, float* m, float* v, int64_t n,
                  const AdamWParams& p);
double sum_of_squares(const float* x, int64_t n);
void dropout_forward(float* out, const float* inp, int64_t n, float p, uint64_t seed, uint64_t key);
void dropout_backward(float* dinp, const float* dout, int64_t n, float p, uint64_t seed,
                      uint64_t key);

// Counter-based Gaussian init (kernels/cpu/random.cpp).
void random_normal(float* out, int64_t n, float stddev, uint64_t seed, uint64_t key);

// Encoder ops (kernels/cpu/layernorm.cpp, kernels/cpu/gelu.cpp).
void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                       const float* bias, int64_t N, int64_t C, float eps);
void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout,
                        const float* inp, const float* weight, const float* mean, const float* rstd,
                        int64_t N, int64_t C);
void gelu_forward(float* out, const float* inp, int64_t n);
void gelu_backward(float* dinp, const float* dout, const float* inp, int64_t n);

}  // namespace qforge::kernels::cpu
