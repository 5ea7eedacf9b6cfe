// What is here: kernels/cuda/scratch.h: a map (device, stream, slot) -> buffer behind a mutex.
#include <map>
#include <mutex>
#include <tuple>

#include "kernels/cuda/check.cuh"
#include "kernels/cuda/scratch.h"

namespace qforge::kernels::cuda {

namespace {

struct Buffer {
    void* ptr = nullptr;
    std::size_t bytes = 0;
};

std::mutex& scratch_mutex() {
    static std::mutex m;
    return m;
}

// Never destroyed: buffers live as long as the process (freeing at exit races the CUDA teardown).
std::map<std::tuple<int, void*, int>, Buffer>& scratch_buffers() {
    static auto* buffers = new std::map<std::tuple<int, void*, int>, Buffer>();
    return *buffers;
}

}  // namespace

void* stream_scratch(void* stream, ScratchSlot slot, std::size_t bytes) {
    int device = 0;
    QF_CUDA_CHECK(cudaGetDevice(&device));
    const std::lock_guard<std::mutex> lock(scratch_mutex());
    Buffer& buf = scratch_buffers()[{device, stream, static_cast<int>(slot)}];
    if (buf.bytes < bytes || buf.ptr == nullptr) {
        if (buf.ptr != nullptr) {
            // Earlier work on the stream may still read the old buffer.
            QF_CUDA_CHECK(cudaStreamSynchronize(static_cast<cudaStream_t>(stream)));
            QF_CUDA_CHECK(cudaFree(buf.ptr));
            buf = Buffer{};
        }
        const std::size_t want = bytes < 256 ? 256 : bytes;
        QF_CUDA_CHECK(cudaMalloc(&buf.ptr, want));
        buf.bytes = want;
    }
    return buf.ptr;
}

}  // namespace qforge::kernels::cuda
