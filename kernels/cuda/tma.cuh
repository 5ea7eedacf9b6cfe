// What is here: the Tensor Memory Accelerator (TMA, sm_90) pieces the attention kernels use: the
// host-side tensor map of a token-major bf16 operand, and inline PTX for shared-memory mbarriers
// and 4-d tiled bulk copies into 128-byte-swizzled tiles (the layout of wgmma.cuh's
// sw128_offset). PTX ISA 8.x, "Tensor Copy Instructions" and "mbarrier".
#pragma once

#include <cstdint>

#include <cuda.h>
#include <cuda_runtime.h>

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

#endif

}  // namespace qforge::kernels::cuda
