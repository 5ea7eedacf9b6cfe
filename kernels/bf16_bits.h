// What is here: the host conversions between fp32 and bf16 bits that the CPU backend and the
// tests share: widening (exact: bf16 is the top half of an fp32) and rounding to nearest even
// the way CUDA's __float2bfloat16_rn does, bit for bit, so that convert_to_bf16 and
// nf4_dequantize_bf16 agree across backends. kernels/ cannot include runtime/tensor/half.h; the
// one difference from it: every NaN becomes 0x7FFF (the canonical NaN that cvt.rn.bf16.f32
// and cuda_bf16.hpp's host path produce), where half.h keeps the sign and payload.
#pragma once

#include <bit>
#include <cstdint>

namespace qforge::kernels {

inline constexpr uint16_t kBf16CanonicalNan = 0x7FFFu;

inline float bf16_bits_to_f32(uint16_t bits) {
    return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16);
}

inline uint16_t f32_to_bf16_bits(float value) {
    const uint32_t bits = std::bit_cast<uint32_t>(value);
    if ((bits & 0x7FFFFFFFu) > 0x7F800000u) {
        return kBf16CanonicalNan;
    }
    // Round to nearest even: add 0x7FFF plus the lowest kept bit, then truncate. A carry out of
    // the mantissa bumps the exponent, so values past the largest bf16 become inf.
    const uint32_t lsb = (bits >> 16) & 1u;
    return static_cast<uint16_t>((bits + 0x7FFFu + lsb) >> 16);
}

}  // namespace qforge::kernels
