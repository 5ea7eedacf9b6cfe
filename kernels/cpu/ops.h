// What is here: the CPU backend's entry points, one per op, with the same arguments as the
// interface in kernels/<op>.h minus the Ctx. The dispatchers (kernels/<op>.cpp) have checked
// sizes and pointers already; these functions check what only the data can tell (ids, targets).
#pragma once

#include <cstdint>

#include "kernels/attention.h"

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

void attention_forward(const AttnParams& p);
void attention_backward(const AttnParams& p, float* dq, float* dk, float* dv, const float* dout);

void cross_entropy_forward(float* losses, float* lse, const float* logits, const int32_t* targets,
                           int64_t N, int64_t V, int32_t ignore_index);
void cross_entropy_backward(float* dlogits, const float* logits, const float* lse,
                            const int32_t* targets, const float* dloss, int64_t N, int64_t V,
                            int32_t ignore_index);

}  // namespace qforge::kernels::cpu
