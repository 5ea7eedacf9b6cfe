// CPU reference for NF4 storage with double-quantized absmax, the specification the CUDA kernels
// (kernels/cuda/nf4.cu) are tested against. It reproduces bitsandbytes bit for bit:
//   quantize_4bit(w, blocksize=64, compress_statistics=True, quant_type="nf4")
// i.e. the CUDA kernel kQuantizeBlockwise<T, 64, 2, 0, NF4> (csrc/kernels.cu), then
// quantize_blockwise(absmax - absmax.mean(), blocksize=256) with create_dynamic_map(signed=True)
// (kQuantizeBlockwise<float, 256, 2, 0, General8bit>), and their dequantize twins.
// Shape letters: N = numel of the weight, B = ceil(N / 64) blocks, NB = ceil(B / 256).
//
// Exactness notes (what "bit for bit" rests on):
// - Each value is scaled by the reciprocal 1.0f / absmax (one fp32 division per block), then
//   multiplied, as the kernel does; x / absmax would round differently.
// - A block of zeros has absmax 0, so its values become 0 * inf = NaN, which both decision trees
//   send to code 0; dequantization gives code[0] * 0 = -0 for NF4 (and `offset` for an absmax).
// - The odd element past the end of the tensor is quantized as 0.0f (code 7 = 0b0111 when the
//   block is not all zeros), filling the low nibble of the last byte.
// - offset = mean(absmax) is a fp32 reduction whose rounding depends on the summation order
//   (torch's CUDA reduction); here the sum is taken in double (a running sum per group of 256
//   blocks, then the group sums in order: the CUDA quantizer repeats that order, so the two agree
//   bit for bit) and rounded once, so the offset can be 1 ulp away from bitsandbytes' and,
//   rarely, an absmax code one step away. Dequantization of a stored checkpoint is exact
//   regardless.
// - dequantization rounds twice for an absmax (code * nested_absmax, then + offset), as two
//   separate torch/CUDA ops do; it is not one fused multiply-add.
// Left out on purpose: FP4, other block sizes, stochastic rounding, and non-nested absmax.
#include "kernels/nf4.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/nf4_codes.h"

namespace qforge::kernels::cpu {

// The NF4 levels as bitsandbytes writes them (functional.get_4bit_type, dDequantizeNF4): the
// float literals round to the fp32 values stored in every checkpoint's quant_map.
constexpr float kNf4Code[16] = {
    -1.0f,
    -0.6961928009986877f,
    -0.5250730514526367f,
    -0.39491748809814453f,
    -0.28444138169288635f,
    -0.18477343022823334f,
    -0.09105003625154495f,
    0.0f,
    0.07958029955625534f,
    0.16093020141124725f,
    0.24611230194568634f,
    0.33791524171829224f,
    0.44070982933044434f,
    0.5626170039176941f,
    0.7229568362236023f,
    1.0f,
};

const float* nf4_code_table() {
    return kNf4Code;
}

// bitsandbytes dQuantizeNF4 (kernels/nf4_codes.h, shared with the CUDA quantizer).
uint8_t nf4_nearest_code(float x) {
    return nf4_codes::nf4_nearest(x);
}

namespace {

// torch.linspace(start, end, steps, dtype=float32) as torch computes it on AVX2/AVX-512 CPUs and
// on CUDA: step = (end - start) / (steps - 1), the first half counted up from start and the second
// half down from end, each a fused multiply-add. (torch's DEFAULT kernels, for CPUs without
// AVX2, round step * i separately and differ by 1 ulp in 42 of the 256 map values.)
std::array<float, 65> linspace_f32(float start, float end, int64_t steps) {
    std::array<float, 65> out{};
    const float step = (end - start) / static_cast<float>(steps - 1);
    const int64_t halfway = steps / 2;
    for (int64_t i = 0; i < steps; i++) {
        out[static_cast<std::size_t>(i)] =
            i < halfway ? std::fma(step, static_cast<float>(i), start)
                        : std::fma(-step, static_cast<float>(steps - i - 1), end);
    }
    return out;
}

// create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8): for exponent e = 0..6,
// 2^e fraction values, the midpoints of linspace(0.1, 1, 2^e + 1), scaled by 10^(e-6), with both
// signs (254 values), plus 0 and 1, sorted ascending. All arithmetic is fp32, as in torch.
std::array<float, 256> make_dynamic_map() {
    static constexpr double kPow10[7] = {1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0};
    std::array<float, 256> map{};
    std::size_t n = 0;
    for (int e = 0; e < 7; e++) {
        const int64_t steps = (int64_t{1} << e) + 1;
        const std::array<float, 65> b = linspace_f32(0.1f, 1.0f, steps);
        const float scale = static_cast<float>(kPow10[e]);
        for (int64_t j = 0; j + 1 < steps; j++) {
            const auto k = static_cast<std::size_t>(j);
            const float mean = (b[k] + b[k + 1]) / 2.0f;
            map[n++] = scale * mean;
            map[n++] = -scale * mean;
        }
    }
    map[n++] = 0.0f;
    map[n++] = 1.0f;
    std::sort(map.begin(), map.end());
    return map;
}

}  // namespace

const float* dynamic_map_signed() {
    static const std::array<float, 256> map = make_dynamic_map();
    return map.data();
}

// bitsandbytes dQuantize<0> (kernels/nf4_codes.h, shared with the CUDA quantizer).
uint8_t dynamic_nearest_code(const float* code, float x) {
    return nf4_codes::dynamic_nearest(code, x);
}

// w (N) -> packed ((N+1)/2), absmax_q (B), nested_absmax (NB), offset (1)
void nf4_quantize(const float* w, int64_t N, uint8_t* packed, uint8_t* absmax_q,
                  float* nested_absmax, float* offset) {
    const int64_t B = (N + kNf4BlockSize - 1) / kNf4BlockSize;
    const int64_t NB = (B + kNf4NestedBlockSize - 1) / kNf4NestedBlockSize;
    std::vector<float> absmax(static_cast<std::size_t>(B));

    // 1. 4-bit codes and fp32 absmax per 64-block.
#pragma omp parallel for
    for (int64_t b = 0; b < B; b++) {
        const int64_t begin = b * kNf4BlockSize;
        const int64_t end = std::min(begin + kNf4BlockSize, N);
        float amax = 0.0f;
        for (int64_t i = begin; i < end; i++) {
            amax = std::max(amax, std::fabs(w[i]));
        }
        absmax[static_cast<std::size_t>(b)] = amax;
        const float inv = 1.0f / amax;  // inf for a block of zeros, as in bnb
        for (int64_t i = begin; i < end; i += 2) {
            const float second = i + 1 < N ? w[i + 1] : 0.0f;  // past the end: bnb pads with 0
            const uint8_t hi = nf4_nearest_code(w[i] * inv);
            const uint8_t lo = nf4_nearest_code(second * inv);
            packed[i / 2] = static_cast<uint8_t>((hi << 4) | lo);
        }
    }

    // 2. offset = mean(absmax), accumulated in double in a fixed order that the CUDA quantizer
    // repeats (see the file header): a running sum per 256-block group, then the groups in order.
    double sum = 0.0;
    for (int64_t nb = 0; nb < NB; nb++) {
        double part = 0.0;
        const int64_t end = std::min((nb + 1) * kNf4NestedBlockSize, B);
        for (int64_t b = nb * kNf4NestedBlockSize; b < end; b++) {
            part += absmax[static_cast<std::size_t>(b)];
        }
        sum += part;
    }
    *offset = static_cast<float>(sum / static_cast<double>(B));

    // 3. (absmax - offset) in 256-blocks: fp32 absmax of each, then 8-bit dynamic codes.
    const float* code = dynamic_map_signed();
#pragma omp parallel for
    for (int64_t nb = 0; nb < NB; nb++) {
        const int64_t begin = nb * kNf4NestedBlockSize;
        const int64_t end = std::min(begin + kNf4NestedBlockSize, B);
        float amax = 0.0f;
        for (int64_t b = begin; b < end; b++) {
            amax = std::max(amax, std::fabs(absmax[static_cast<std::size_t>(b)] - *offset));
        }
        nested_absmax[nb] = amax;
        const float inv = 1.0f / amax;
        for (int64_t b = begin; b < end; b++) {
            const float centred = absmax[static_cast<std::size_t>(b)] - *offset;
            absmax_q[b] = dynamic_nearest_code(code, centred * inv);
        }
    }
}

// out (N) = code[nibble] * (nested_code[absmax_q[b]] * nested_absmax[b / 256] + offset)
void nf4_dequantize(float* out, const Nf4View& w) {
    const int64_t N = w.numel;
    const int64_t B = (N + kNf4BlockSize - 1) / kNf4BlockSize;
#pragma omp parallel for
    for (int64_t b = 0; b < B; b++) {
        const float scaled =
            w.nested_code[w.absmax_q[b]] * w.nested_absmax[b / kNf4NestedBlockSize];
        const float absmax = scaled + w.offset;
        const int64_t begin = b * kNf4BlockSize;
        const int64_t end = std::min(begin + kNf4BlockSize, N);
        for (int64_t i = begin; i < end; i++) {
            const uint8_t byte = w.packed[i / 2];
            const int q = (i % 2 == 0) ? (byte >> 4) : (byte & 0x0F);
            out[i] = w.code[q] * absmax;
        }
    }
}

}  // namespace qforge::kernels::cpu
