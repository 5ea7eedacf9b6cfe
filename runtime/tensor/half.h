// What is here: bit-exact conversions between float and the 16-bit storage formats
// (bfloat16 and IEEE binary16), round-to-nearest-even, NaN kept NaN.
#pragma once

#include <bit>
#include <cstdint>

namespace qforge {

// bf16 is the top half of an f32, so widening is a shift and exact.
inline float bf16_to_f32(std::uint16_t bits) {
    return std::bit_cast<float>(static_cast<std::uint32_t>(bits) << 16);
}

inline std::uint16_t f32_to_bf16(float value) {
    std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
    if ((bits & 0x7fffffffu) > 0x7f800000u) {
        // NaN: truncating could clear every mantissa bit and make it inf; force it quiet.
        return static_cast<std::uint16_t>((bits >> 16) | 0x0040u);
    }
    // Round to nearest even: add 0x7fff plus the lowest kept bit, then truncate. Overflow
    // carries into the exponent and correctly produces inf.
    std::uint32_t lsb = (bits >> 16) & 1u;
    return static_cast<std::uint16_t>((bits + 0x7fffu + lsb) >> 16);
}

// binary16: 1 sign, 5 exponent (bias 15), 10 mantissa bits; subnormals are m * 2^-24.
inline float f16_to_f32(std::uint16_t h) {
    std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
    std::uint32_t exp = (h >> 10) & 0x1fu;
    std::uint32_t mant = h & 0x3ffu;
    std::uint32_t bits;
    if (exp == 0x1fu) {
        bits = sign | 0x7f800000u | (mant << 13);  // inf or NaN (payload kept)
    } else if (exp != 0) {
        bits = sign | ((exp + 112u) << 23) | (mant << 13);  // 112 = 127 - 15
    } else if (mant == 0) {
        bits = sign;  // +-0
    } else {
        // Subnormal: shift the mantissa up until its leading 1 becomes the implicit bit.
        int e = -1;
        do {
            ++e;
            mant <<= 1;
        } while ((mant & 0x400u) == 0);
        bits = sign | (static_cast<std::uint32_t>(112 - e) << 23) | ((mant & 0x3ffu) << 13);
    }
    return std::bit_cast<float>(bits);
}

inline std::uint16_t f32_to_f16(float value) {
    std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
    std::uint16_t sign = static_cast<std::uint16_t>((bits >> 16) & 0x8000u);
    std::uint32_t abs = bits & 0x7fffffffu;
    if (abs > 0x7f800000u) {
        return static_cast<std::uint16_t>(sign | 0x7e00u | ((abs >> 13) & 0x3ffu));  // quiet NaN
    }
    if (abs >= 0x477ff000u) {
        return static_cast<std::uint16_t>(sign | 0x7c00u);  // >= 65520 rounds to inf
    }
    if (abs < 0x38800000u) {
        // Result is subnormal (|x| < 2^-14) or zero: value = round(|x| * 2^24) ulps.
        if (abs < 0x33000000u) {
            return sign;  // |x| < 2^-25 rounds to zero (2^-25 itself is a tie, goes to even 0)
        }
        std::uint32_t exp = abs >> 23;
        std::uint32_t mant = (abs & 0x7fffffu) | 0x800000u;
        std::uint32_t shift = 126u - exp;  // 14..24 mantissa bits fall below the f16 ulp 2^-24
        std::uint32_t kept = mant >> shift;
        std::uint32_t rest = mant & ((1u << shift) - 1u);
        std::uint32_t half = 1u << (shift - 1u);
        if (rest > half || (rest == half && (kept & 1u))) {
            ++kept;  // may carry into the smallest normal, which is the right answer
        }
        return static_cast<std::uint16_t>(sign | kept);
    }
    // Normal: rebias the exponent, round the 13 dropped mantissa bits to nearest even.
    std::uint32_t rebased = abs - (112u << 23);
    std::uint32_t lsb = (rebased >> 13) & 1u;
    return static_cast<std::uint16_t>(sign | ((rebased + 0xfffu + lsb) >> 13));
}

}  // namespace qforge
