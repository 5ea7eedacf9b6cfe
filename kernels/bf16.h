// What is here: convert_to_bf16, the op that rounds fp32 values to bf16 (round to nearest even,
// NaN kept NaN) into a strided destination (convert_to_bf16_batch: many at once), and
// convert_from_bf16, its inverse (exact widening back to fp32, every bit pattern kept). The fused
// LoRA path (runtime/model/lora_fused.h) builds the bf16 operands of its GEMMs with it:
// activations, and LoRA A / scaled B written next to a dequantized base weight. bf16 values travel
// as their 16 bits (uint16_t), so this header needs no CUDA type.
#pragma once

#include <cstdint>
#include <span>

#include "kernels/bf16_conversion.h"
#include "kernels/common.h"

namespace qforge::kernels {

// out[r * ld_out + c] = bf16(scale * in[r * ld_in + c]) for r < rows, c < cols; the rest of each
// out row is left as it is. ld_in >= cols, ld_out >= cols.
void convert_to_bf16(const Ctx& ctx, uint16_t* out, int64_t ld_out, const float* in, int64_t ld_in,
                     int64_t rows, int64_t cols, float scale);

// convert_to_bf16 for each conversion, the same values bit for bit. On the GPU one launch covers
// up to kBf16BatchLaunch conversions: many small matrices (the LoRA factors of a layer's seven
// projections) cost one launch instead of one each. Conversions must not write where another
// of the batch reads or writes.
void convert_to_bf16_batch(const Ctx& ctx, std::span<const Bf16Conversion> conversions);

// out[r * ld_out + c] = the fp32 value of the bf16 bits in[r * ld_in + c] (exact widening) for
// r < rows, c < cols; the rest of each out row is left as it is. ld_in >= cols, ld_out >= cols.
void convert_from_bf16(const Ctx& ctx, float* out, int64_t ld_out, const uint16_t* in,
                       int64_t ld_in, int64_t rows, int64_t cols);

}  // namespace qforge::kernels
