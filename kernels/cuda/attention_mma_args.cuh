// What is here: what the bf16 flash-attention kernels (attention_mma.cu on mma.sync,
// attention_wgmma.cu on Hopper's wgmma) take: the operand and argument structs, and the
// segment-id tile-range tests that let them skip tile pairs of packed rows.
#pragma once

#include <cstdint>

#include <cuda_bf16.h>
#include <cuda_runtime.h>

namespace qforge::kernels::cuda {

// A bf16 operand, token-major: (b, r, h, d) at b * bs + r * rs + h * D + d (elements). The
// pointer is 16-byte aligned and bs, rs are multiples of 8 (cp.async moves 16-byte chunks).
struct Bf16In {
    const __nv_bfloat16* ptr;
    int64_t bs;
    int rs;  // rows * rs < 2^31 (checked by the launchers)
};

// What the mma kernels read and write, strides in elements. fp32 tensors (b, r, h, d) at
// b * bs + r * rs + h * D + d like Bf16In.
struct MmaArgs {
    Bf16In q, k, v, dout;  // q is not read by FwdMode::kF32 / kDsum; dout by the backward only
    const float* q32;      // FwdMode::kF32 / kDsum: q in fp32, rounded on the way in
    const float* dout32;   // FwdMode::kDsum: fp32 dout, strides of q32
    int64_t q32_bs, q32_rs;
    void* out;  // the forward's output: fp32 (kF32) or bf16 (kBf16)
    int64_t out_bs, out_rs;
    float* lse;  // (B,Hq,T)
    const int32_t* seg;
    const int2* seg_tiles;  // (B, ceil(T / 64)) segment-id ranges of 64-row tiles, or nullptr
    int64_t B, T, Tk, Hq, Hkv, q_pos0;
    int64_t dq_bs, dq_rs, dkv_bs, dkv_rs;  // the backward's fp32 dq and dk / dv
};

// Segment-id ranges (x: smallest, y: largest) of a key tile and a query tile: whether any ids can
// be equal (else the pair is skipped), and whether both tiles are one and the same segment (then
// only the causal mask applies).
__device__ inline bool ranges_meet(int2 a, int2 b) {
    return a.y >= b.x && a.x <= b.y;
}

__device__ inline bool one_segment(int2 a, int2 b) {
    return a.x == a.y && b.x == b.y && a.x == b.x;
}

}  // namespace qforge::kernels::cuda
