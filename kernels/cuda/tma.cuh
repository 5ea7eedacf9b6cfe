// What is here: the Tensor Memory Accelerator (TMA, sm_90) pieces the attention kernels use: the
// host-side tensor map of a token-major bf16 operand, and inline PTX for shared-memory mbarriers,
// 4-d tiled bulk copies into 128-byte-swizzled tiles (the layout of wgmma.cuh's sw128_offset) and
// bulk reductions from shared into global memory. PTX ISA 8.x, "Tensor Copy Instructions",
// "Bulk Copy Instructions" and "mbarrier".
#pragma once

#include <cstdint>

#include <cuda.h>
#include <cuda_runtime.h>

#include "kernels/cuda/wgmma.cuh"

namespace qforge::kernels::cuda {

// The tensor map of one bf16 operand (b, r, h, d) at b * bs + r * rs + h * D + d (elements;
// ptr 16-byte aligned, bs and rs multiples of 8) with dims (d, h, r, b) = (D, H, rows, B), read in
// boxes of 64 d x 1 head x box_rows rows, 128-byte swizzled; rows past `rows` read as zeros.
CUtensorMap make_bf16_tile_map(const void* ptr, int64_t B, int64_t rows, int64_t H, int64_t D,
                               int64_t bs, int64_t rs, int box_rows);

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900

__device__ inline void mbar_init(uint32_t bar, uint32_t count) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}

// Makes the initialised barriers visible to the async proxy (the TMA unit); a block barrier must
// follow before other threads use them.
__device__ inline void mbar_init_fence() {
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
}

// This thread's arrival, announcing `bytes` that bulk copies will deliver to the barrier.
__device__ inline void mbar_arrive_expect_tx(uint32_t bar, uint32_t bytes) {
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes)
                 : "memory");
}

// Waits until the barrier's phase with parity `parity` has completed.
__device__ inline void mbar_wait(uint32_t bar, uint32_t parity) {
    asm volatile(
        "{\n.reg .pred done;\n"
        "wait_%=:\n"
        "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
        "@!done bra wait_%=;\n}\n" ::"r"(bar),
        "r"(parity)
        : "memory");
}

// The box at coordinates (d, h, r, b) of `map` into shared memory at dst (1024-byte aligned),
// completing on barrier bar.
__device__ inline void tma_load_4d(uint32_t dst, const CUtensorMap* map, int d, int h, int r, int b,
                                   uint32_t bar) {
    asm volatile(
        "cp.async.bulk.tensor.4d.shared::cluster.global.tile.mbarrier::complete_tx::bytes"
        " [%0], [%1, {%2, %3, %4, %5}], [%6];\n" ::"r"(dst),
        "l"(reinterpret_cast<uint64_t>(map)), "r"(d), "r"(h), "r"(r), "r"(b), "r"(bar)
        : "memory");
}

// The ROWS x DH tiles of two operands at (head h, row r, batch b) (maps of make_bf16_tile_map with
// box_rows ROWS) into the 128-byte-swizzled tiles at dst_a and dst_b, DH / 64 boxes each, by the
// calling thread, which arrives on bar announcing all their bytes.
template <int DH, int ROWS>
__device__ inline void tma_load_tile_pair(uint32_t dst_a, const CUtensorMap* map_a, uint32_t dst_b,
                                          const CUtensorMap* map_b, int h, int r, int b,
                                          uint32_t bar) {
    mbar_arrive_expect_tx(bar, 2 * ROWS * DH * 2);
#pragma unroll
    for (int c = 0; c < DH / 64; c++) {
        const uint32_t off = c * ROWS * kSw128RowBytes;
        tma_load_4d(dst_a + off, map_a, c * 64, h, r, b, bar);
        tma_load_4d(dst_b + off, map_b, c * 64, h, r, b, bar);
    }
}

// Bulk (TMA) reduction of `bytes` (a multiple of 16) fp32 from shared address src into global
// dst (both 16-byte aligned): dst[i] += src[i], done by the copy engine, not the issuing thread.
__device__ inline void bulk_reduce_add_f32(float* dst, uint32_t src, uint32_t bytes) {
    asm volatile(
        "cp.reduce.async.bulk.global.shared::cta.bulk_group.add.f32 [%0], [%1], %2;\n" ::"l"(dst),
        "r"(src), "r"(bytes)
        : "memory");
}

__device__ inline void bulk_commit() {
    asm volatile("cp.async.bulk.commit_group;\n" ::: "memory");
}

// Waits until this thread's committed bulk groups have read their shared memory (it may be
// written again).
__device__ inline void bulk_wait_read() {
    asm volatile("cp.async.bulk.wait_group.read 0;\n" ::: "memory");
}

// Waits until this thread's committed bulk groups are complete.
__device__ inline void bulk_wait() {
    asm volatile("cp.async.bulk.wait_group 0;\n" ::: "memory");
}

#endif

}  // namespace qforge::kernels::cuda
