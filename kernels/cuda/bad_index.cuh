// What is here: how a kernel reports a bad integer input (an embedding id, a cross-entropy
// target) without reading out of bounds: the lowest bad row lands in a device word (atomicMin),
// which the launcher reads back after the kernel (a stream sync), with that row's value.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

#include "kernels/cuda/check.cuh"
#include "kernels/cuda/pointwise.h"

namespace qforge::kernels::cuda {

inline constexpr unsigned long long kNoBadRow = ~0ull;

__device__ inline void report_bad_row(unsigned long long* record, int64_t row) {
    atomicMin(record, static_cast<unsigned long long>(row));
}

// The device address of a `__device__ unsigned long long` record. The launchers that use one
// run one at a time per device (each waits for its stream before returning).
template <typename Symbol>
unsigned long long* record_address(const Symbol& symbol) {
    void* ptr = nullptr;
    QF_CUDA_CHECK(cudaGetSymbolAddress(&ptr, symbol));
    return static_cast<unsigned long long*>(ptr);
}

// Before the kernel (stream-ordered).
inline void reset_bad_row(cudaStream_t stream, unsigned long long* record) {
    const unsigned long long none = kNoBadRow;
    QF_CUDA_CHECK(cudaMemcpyAsync(record, &none, sizeof(none), cudaMemcpyHostToDevice, stream));
}

// After the kernel: waits for the stream, then reads the row and its value from `ids`.
inline BadIndex read_bad_row(cudaStream_t stream, const unsigned long long* record,
                             const int32_t* ids) {
    unsigned long long row = kNoBadRow;
    QF_CUDA_CHECK(cudaMemcpyAsync(&row, record, sizeof(row), cudaMemcpyDeviceToHost, stream));
    QF_CUDA_CHECK(cudaStreamSynchronize(stream));
    BadIndex bad;
    if (row != kNoBadRow) {
        bad.index = static_cast<int64_t>(row);
        QF_CUDA_CHECK(
            cudaMemcpy(&bad.value, ids + bad.index, sizeof(int32_t), cudaMemcpyDeviceToHost));
    }
    return bad;
}

}  // namespace qforge::kernels::cuda
