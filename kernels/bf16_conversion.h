// What is here: Bf16Conversion, one conversion of convert_to_bf16_batch (kernels/bf16.h). Plain
// types only, so that the CUDA launchers (kernels/cuda/pointwise.h) take it too.
#pragma once

#include <cstdint>

namespace qforge::kernels {

// convert_to_bf16's arguments: out[r * ld_out + c] = bf16(scale * in[r * ld_in + c]).
struct Bf16Conversion {
    uint16_t* out = nullptr;
    int64_t ld_out = 0;
    const float* in = nullptr;
    int64_t ld_in = 0;
    int64_t rows = 0;
    int64_t cols = 0;
    float scale = 1.0f;
};

// The most conversions one launch of convert_to_bf16_batch covers on the GPU.
inline constexpr int kBf16BatchLaunch = 16;

}  // namespace qforge::kernels
