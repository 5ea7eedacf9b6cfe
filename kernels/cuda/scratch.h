// What is here: stream_scratch, grow-only device scratch owned per (device, stream, slot), for
// launchers that need a temporary buffer (bf16 operand copies, attention row statistics). Work
// queued on one stream runs in order, so one buffer per stream is never used twice at once.
#pragma once

#include <cstddef>

namespace qforge::kernels::cuda {

// Who uses a scratch buffer; each slot is a separate buffer.
enum class ScratchSlot {
    kGemmA,
    kGemmB,
    kCublasWorkspace,
    kAttentionRows,
    kAttentionBf16,
    kAttentionWide,      // attention_*_bf16's fallback: bf16 operands widened to fp32
    kAttentionSegTiles,  // segment-id ranges of 64-row tiles (tiles the kernels skip)
    kCount
};

// At least `bytes` bytes of device memory for `stream` on the current device, valid until the next
// call with the same (stream, slot) asks for more. Allocates only when a buffer must grow (the
// old one is freed after a device synchronize), so steady-state steps allocate nothing.
void* stream_scratch(void* stream, ScratchSlot slot, std::size_t bytes);

}  // namespace qforge::kernels::cuda
