// What is here: NF4 weight storage with double-quantized absmax, bit for bit as bitsandbytes
// stores it (quantize_4bit(blocksize=64, compress_statistics=True, quant_type="nf4")): the code
// tables, the CPU quantizer run at load time, and the nf4_dequantize op. docs/nf4.md has the
// layout with a worked example.
//
// Layout of one tensor of numel values w (a weight (OC, IC) flattened row-major):
//   blocks = ceil(numel / 64); block b holds w[64b, 64b + 64) (the last one may be partial).
//   packed[i / 2]: the 4-bit code of w[i], the even i in the high nibble, the odd i in the low one.
//   absmax_q[b]: u8 code of (absmax_b - offset) in the signed dynamic map.
//   nested_absmax[b / 256]: fp32 absmax of (absmax - offset) over 256 consecutive blocks.
//   offset: fp32 mean of all absmax_b.
// Dequantization: absmax_b = nested_code[absmax_q[b]] * nested_absmax[b / 256] + offset, then
//   w[i] = code[nibble(i)] * absmax_{i / 64}.
//
// Backends: nf4_dequantize runs on the CPU and on CUDA (bit-identical: kernels/cuda/nf4.cu).
// nf4_quantize is the host quantizer run when a checkpoint loads; nf4_quantize_device does the
// same on ctx.device (random benchmark models made on the GPU), bit-identical with it.
#pragma once

#include <cstdint>

#include "kernels/common.h"

namespace qforge::kernels {

inline constexpr int64_t kNf4BlockSize = 64;         // values per absmax
inline constexpr int64_t kNf4NestedBlockSize = 256;  // absmax codes per nested_absmax

// Views of one NF4 tensor's storage (all on one device). numel values, blocksize 64, nested
// blocksize 256. `code` and `nested_code` are the tables stored with the tensor (bitsandbytes'
// quant_map and nested_quant_map); normally nf4_code_table() and dynamic_map_signed().
struct Nf4View {
    const uint8_t* packed;       // (numel + 1) / 2 bytes
    const uint8_t* absmax_q;     // blocks
    const float* nested_absmax;  // nested_blocks
    const float* nested_code;    // 256
    const float* code;           // 16
    float offset;                // added back to every dequantized absmax
    int64_t numel;
};

// The 16 NF4 levels (bitsandbytes get_4bit_type("nf4")), ascending, -1 .. 1, code 7 is 0.
const float* nf4_code_table();

// bitsandbytes create_dynamic_map(signed=True): 256 ascending values in [-0.99296875, 1],
// computed in fp32 the way torch computes them (see kernels/cpu/nf4.cpp).
const float* dynamic_map_signed();

// The 4-bit code bitsandbytes gives x (already divided by its block's absmax): its decision tree
// over the midpoints of nf4_code_table(), ties going to the lower code; NaN gives code 0.
uint8_t nf4_nearest_code(float x);

// The 8-bit code bitsandbytes' blockwise quantizer gives x in dynamic_map_signed() (its 7-step
// binary search plus a midpoint test; nearest code except where that search says otherwise).
uint8_t dynamic_nearest_code(float x);

struct Nf4Sizes {
    int64_t packed_bytes;   // (numel + 1) / 2
    int64_t blocks;         // ceil(numel / 64): entries of absmax_q
    int64_t nested_blocks;  // ceil(blocks / 256): entries of nested_absmax
};

Nf4Sizes nf4_storage_sizes(int64_t numel);

// CPU-only quantizer (run at load time): fills the caller's buffers (sizes from
// nf4_storage_sizes). w holds numel fp32 values; every value must be finite.
void nf4_quantize(const float* w, int64_t numel, uint8_t* packed, uint8_t* absmax_q,
                  float* nested_absmax, float* offset);

// nf4_quantize on ctx.device: w and every output (offset included: one float) live there. The
// CPU branch is nf4_quantize; the CUDA result is bit-identical with it (same code searches, same
// fp32 operations, the offset's double sum in the same order). Weights must be finite: the CPU
// checks, the CUDA branch does not (it would have to wait for the device).
void nf4_quantize_device(const Ctx& ctx, const float* w, int64_t numel, uint8_t* packed,
                         uint8_t* absmax_q, float* nested_absmax, float* offset_out_device);

// out (numel) fp32 = the dequantized tensor, on ctx.device (where w's storage must live too).
void nf4_dequantize(const Ctx& ctx, float* out, const Nf4View& w);

// The same values rounded to bf16 bits (round to nearest even), written as a (rows, cols) matrix
// with row stride ld_out (rows * cols == w.numel, ld_out >= cols; the rest of each row is left
// as it is): the bf16 operand of the fused NF4 + LoRA GEMM. Bit-identical across backends.
void nf4_dequantize_bf16(const Ctx& ctx, uint16_t* out, int64_t ld_out, const Nf4View& w,
                         int64_t rows, int64_t cols);

}  // namespace qforge::kernels
