// What is here: host-side launchers of the CUDA kernels for the pointwise, normalisation,
// embedding, loss, optimizer, random and NF4 ops (kernels/cuda/*.cu),
// called by the dispatchers in kernels/*.cpp after their argument checks. This header is
// included by .cu files too, so it holds plain declarations only: no fmt, no CUDA headers
// (`stream` is a cudaStream_t passed as void*). Launchers report failures through
// kernels/cuda/check.cuh. Arguments and conventions are those of kernels/<op>.h; only what
// differs from the CPU twin is written here.
#pragma once

#include <cstdint>

#include "kernels/bf16_conversion.h"

namespace qforge::kernels {
enum class Op;
}

namespace qforge::kernels::cuda {

// True for each op whose CUDA kernel lives with these launchers
// (kernels/cuda/supported_pointwise.cpp).
bool supports_pointwise(Op op);

// out[0, n) = value.
void fill_f32(void* stream, float* out, int64_t n, float value);

// convert_to_bf16 (kernels/cuda/bf16.cu), rows, cols > 0: float4 loads and 8-byte stores when
// cols, ld_in, ld_out are multiples of 4 and in, out are 16- and 8-byte aligned; else scalar.
void convert_to_bf16(void* stream, uint16_t* out, int64_t ld_out, const float* in, int64_t ld_in,
                     int64_t rows, int64_t cols, float scale);
// convert_to_bf16_batch (kernels/cuda/bf16.cu): 1 <= n <= kBf16BatchLaunch conversions with
// rows, cols > 0, in one launch (one value per thread: the batch is of small matrices).
void convert_to_bf16_batch(void* stream, const Bf16Conversion* conversions, int n);
// convert_from_bf16 (kernels/cuda/bf16.cu), rows, cols > 0: out's bits = in's << 16. 8-byte
// loads and 16-byte stores when cols, ld_in, ld_out are multiples of 4 and in, out are 8- and
// 16-byte aligned; else scalar.
void convert_from_bf16(void* stream, float* out, int64_t ld_out, const uint16_t* in, int64_t ld_in,
                       int64_t rows, int64_t cols);

// A bad index found on the device (an id or target out of range): `index` is -1 when none.
struct BadIndex {
    int64_t index = -1;
    int32_t value = 0;
};

// Rows whose id is outside [0, V) are left unwritten and, with `report`, reported (the first
// one, in row order): the launcher then waits for the stream to read that answer back.
BadIndex embedding_forward(void* stream, float* out, const int32_t* ids, const float* table,
                           int64_t N, int64_t C, int64_t V, bool report);
// Deterministic and bit-identical with the CPU, no atomics: the first row of each id adds all
// rows with that id in row order (the CPU's order). Rows with a negative id are skipped.
void embedding_backward(void* stream, float* dtable, const float* dout, const int32_t* ids,
                        int64_t N, int64_t C);

void rmsnorm_forward(void* stream, float* out, float* rstd, const float* inp, const float* weight,
                     int64_t N, int64_t C, float eps);
// dweight is reduced over rows in a fixed order (deterministic, no atomics).
void rmsnorm_backward(void* stream, float* dinp, float* dweight, const float* dout,
                      const float* inp, const float* weight, const float* rstd, int64_t N,
                      int64_t C);

// rmsnorm_forward_bf16 (kernels/cuda/rmsnorm.cu): rstd and the fp32 values are those of
// rmsnorm_forward bit for bit (the same per-row sum), rounded with __float2bfloat16_rn; float4
// loads and 8-byte stores when C, ld_out are multiples of 4 and inp, weight are 16-byte and out
// 8-byte aligned, else scalar.
void rmsnorm_forward_bf16(void* stream, uint16_t* out, int64_t ld_out, float* rstd,
                          const float* inp, const float* weight, int64_t N, int64_t C, float eps);

void layernorm_forward(void* stream, float* out, float* mean, float* rstd, const float* inp,
                       const float* weight, const float* bias, int64_t N, int64_t C, float eps);
// dweight and dbias are reduced over rows in a fixed order (deterministic, no atomics).
void layernorm_backward(void* stream, float* dinp, float* dweight, float* dbias, const float* dout,
                        const float* inp, const float* weight, const float* mean, const float* rstd,
                        int64_t N, int64_t C);

void swiglu_forward(void* stream, float* out, const float* gate, const float* up, int64_t n);
void swiglu_backward(void* stream, float* dgate, float* dup, const float* dout, const float* gate,
                     const float* up, int64_t n);

// swiglu_forward_bf16 / swiglu_backward_bf16 (kernels/cuda/swiglu.cu), N, F > 0: bf16 inputs
// widened exactly, then the fp32 values of the fp32 kernels bit for bit, rounded with
// __float2bfloat16_rn. Four values per thread (8-byte loads of each input, 8-byte stores) when F,
// ld are multiples of 4 and every pointer is 8-byte aligned; else one; grid-stride loops.
void swiglu_forward_bf16(void* stream, uint16_t* h, int64_t ld_h, const uint16_t* gate,
                         const uint16_t* up, int64_t N, int64_t F);
void swiglu_backward_bf16(void* stream, uint16_t* dgate, uint16_t* dup, int64_t ld,
                          const uint16_t* dh, const uint16_t* gate, const uint16_t* up, int64_t N,
                          int64_t F);

constexpr int64_t kSwigluLoraRowsPerBlock = 256;

// swiglu_backward_bf16_lora (kernels/swiglu.h), N, F > 0, R <= 32: the backward above, and per
// block of kSwigluLoraRowsPerBlock rows one fp32 partial of dA (R x F) into `partials`, which a
// second kernel sums over the row blocks in order into dA.
void swiglu_backward_bf16_lora(void* stream, uint16_t* dgate, uint16_t* dup, int64_t ld,
                               const uint16_t* dh, const uint16_t* gate, const uint16_t* up,
                               int64_t N, int64_t F, const uint16_t* du, int64_t ld_du, int64_t R,
                               float* dA, int64_t ld_a, float* partials);

void gelu_forward(void* stream, float* out, const float* inp, int64_t n);
void gelu_backward(void* stream, float* dinp, const float* dout, const float* inp, int64_t n);

// sign = +1: forward (R x); -1: backward (R^T dx). Rows with a negative pos are left as they are.
void rope_rotate(void* stream, float* x, const int32_t* pos, const float* cos, const float* sin,
                 int64_t N, int64_t H, int64_t D, float sign);
// rope_forward_bf16 / rope_backward_to_bf16 (kernels/cuda/rope.cu): the CPU's values bit for bit
// (the pair formula in double, rounded to fp32, then __float2bfloat16_rn). V pairs per thread,
// V in {8, 4, 2, 1} the widest with D/2 % V == 0, ld % V == 0 and the pointers aligned to their
// vector loads. Rows with a negative pos: the forward leaves them alone, the backward writes dx
// unrotated (as rope_backward leaves it), rounded.
void rope_forward_bf16(void* stream, uint16_t* x, int64_t ld, const int32_t* pos, const float* cos,
                       const float* sin, int64_t N, int64_t H, int64_t D);
void rope_backward_to_bf16(void* stream, uint16_t* dst, int64_t ld, const float* dx,
                           const int32_t* pos, const float* cos, const float* sin, int64_t N,
                           int64_t H, int64_t D);

// Targets that are neither ignore_index nor in [0, V) get loss NaN and, with `report`, are
// reported like embedding ids (the launcher then waits for the stream).
BadIndex cross_entropy_forward(void* stream, float* losses, float* lse, const float* logits,
                               const int32_t* targets, int64_t N, int64_t V, int32_t ignore_index,
                               bool report);
// dlogits may alias logits (each element is read before it is overwritten). Rows whose target
// is out of range are written as 0, like ignored rows (the forward has reported them).
void cross_entropy_backward(void* stream, float* dlogits, const float* logits, const float* lse,
                            const int32_t* targets, const float* dloss, int64_t N, int64_t V,
                            int32_t ignore_index);
// The same gradient rounded to bf16 into rows of stride ld (no aliasing with logits).
void cross_entropy_backward_bf16(void* stream, uint16_t* dlogits, int64_t ld, const float* logits,
                                 const float* lse, const int32_t* targets, const float* dloss,
                                 int64_t N, int64_t V, int32_t ignore_index);

// The bias corrections 1 - beta^step are computed by the caller (in double, as the CPU does).
void adamw_update(void* stream, float* param, const float* grad, float* m, float* v, int64_t n,
                  float lr, float beta1, float beta2, float eps, float weight_decay,
                  float grad_scale, double bias_correction1, double bias_correction2);
// Deterministic: a fixed grid (a function of n alone) of double partial sums, then one block
// adds them in order. Waits for the stream (the value goes back to the host).
double sum_of_squares(void* stream, const float* x, int64_t n);

// The mask bit is dropout_keep (kernels/counter_hash.h), bit for bit; scale = 1 / (1 - p).
void dropout_forward(void* stream, float* out, const float* inp, int64_t n, float p, float scale,
                     uint64_t seed, uint64_t key);
void dropout_backward(void* stream, float* dinp, const float* dout, int64_t n, float p, float scale,
                      uint64_t seed, uint64_t key);

// out[i] = random_normal_value(seed, key, i, stddev) (kernels/counter_hash.h).
void random_normal(void* stream, float* out, int64_t n, float stddev, uint64_t seed, uint64_t key);

// nf4_dequantize with the fields of Nf4View passed one by one; bit-exact with the CPU.
void nf4_dequantize(void* stream, float* out, const uint8_t* packed, const uint8_t* absmax_q,
                    const float* nested_absmax, const float* nested_code, const float* code,
                    float offset, int64_t numel);
// nf4_dequantize_bf16 (kernels/cuda/nf4.cu): the same fp32 values rounded with
// __float2bfloat16_rn, value i at row i / cols, column i % cols (row stride ld_out); numel =
// rows * cols > 0. One thread per 8 values, one 16-byte store when they share a row and out's
// rows are 16-byte aligned.
void nf4_dequantize_bf16(void* stream, uint16_t* out, int64_t ld_out, const uint8_t* packed,
                         const uint8_t* absmax_q, const float* nested_absmax,
                         const float* nested_code, const float* code, float offset, int64_t rows,
                         int64_t cols);
// nf4_quantize on the device, bit-identical with the CPU quantizer. `dynamic_map` (256 floats,
// host memory) is dynamic_map_signed(). Uses a temporary device buffer (B floats + NB doubles,
// stream-ordered allocation): it runs at load time, never inside a step.
void nf4_quantize(void* stream, const float* w, int64_t numel, uint8_t* packed, uint8_t* absmax_q,
                  float* nested_absmax, float* offset, const float* dynamic_map);

}  // namespace qforge::kernels::cuda
