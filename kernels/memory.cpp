// What is here: kernels/memory.h. The CUDA branch exists only when this build has the backend.
#include "kernels/memory.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include "kernels/backend_error.h"

#ifdef QFORGE_HAS_CUDA
#include <cuda_runtime.h>

#include "kernels/cuda/pointwise.h"
#endif

namespace qforge::kernels {

namespace {

// GPU allocation accounting (sizes by pointer, since cudaFree is not told the size).
struct DeviceLedger {
    std::mutex mu;
    std::unordered_map<void*, std::size_t> sizes;
    std::size_t in_use = 0, peak = 0;
};

DeviceLedger& ledger() {
    static DeviceLedger l;
    return l;
}

#ifdef QFORGE_HAS_CUDA
using detail::cuda_check;

cudaStream_t stream_of(const Ctx& ctx) {
    return static_cast<cudaStream_t>(ctx.stream);
}
#else
using detail::no_cuda;
#endif

// Never nullptr, even for 0 bytes: callers check pointers, not sizes.
void* host_alloc(std::size_t bytes, const char* what) {
    void* ptr = std::malloc(bytes == 0 ? 1 : bytes);
    QF_CHECK(ptr != nullptr, "{}: out of host memory ({} bytes)", what, bytes);
    return ptr;
}

}  // namespace

void* buffer_alloc(const Ctx& ctx, std::size_t bytes) {
    if (ctx.device == Device::kCpu) {
        return host_alloc(bytes, "buffer_alloc");
    }
#ifdef QFORGE_HAS_CUDA
    void* ptr = nullptr;
    cuda_check(cudaMalloc(&ptr, bytes == 0 ? 1 : bytes), "cudaMalloc", bytes);
    auto& l = ledger();
    const std::lock_guard lock(l.mu);
    l.sizes[ptr] = bytes;
    l.in_use += bytes;
    l.peak = std::max(l.peak, l.in_use);
    return ptr;
#else
    no_cuda("buffer_alloc");
#endif
}

void buffer_free(const Ctx& ctx, void* ptr) noexcept {
    if (ptr == nullptr) {
        return;
    }
    if (ctx.device == Device::kCpu) {
        std::free(ptr);
        return;
    }
#ifdef QFORGE_HAS_CUDA
    (void)cudaFree(ptr);  // noexcept: a failed free at teardown cannot be reported usefully
    auto& l = ledger();
    const std::lock_guard lock(l.mu);
    if (auto it = l.sizes.find(ptr); it != l.sizes.end()) {
        l.in_use -= it->second;
        l.sizes.erase(it);
    }
#endif
}

void* pinned_alloc(const Ctx& ctx, std::size_t bytes) {
    if (ctx.device == Device::kCpu) {
        return host_alloc(bytes, "pinned_alloc");
    }
#ifdef QFORGE_HAS_CUDA
    void* ptr = nullptr;
    cuda_check(cudaMallocHost(&ptr, bytes == 0 ? 1 : bytes), "cudaMallocHost", bytes);
    return ptr;
#else
    no_cuda("pinned_alloc");
#endif
}

void pinned_free(const Ctx& ctx, void* ptr) noexcept {
    if (ptr == nullptr) {
        return;
    }
    if (ctx.device == Device::kCpu) {
        std::free(ptr);
        return;
    }
#ifdef QFORGE_HAS_CUDA
    (void)cudaFreeHost(ptr);  // noexcept, as buffer_free
#endif
}

void buffer_upload_async(const Ctx& ctx, void* dst, const void* pinned_src, std::size_t bytes) {
    if (ctx.device == Device::kCpu) {
        std::memcpy(dst, pinned_src, bytes);
        return;
    }
#ifdef QFORGE_HAS_CUDA
    cuda_check(cudaMemcpyAsync(dst, pinned_src, bytes, cudaMemcpyHostToDevice, stream_of(ctx)),
               "cudaMemcpyAsync host->device (pinned)", bytes);
#else
    no_cuda("buffer_upload_async");
#endif
}

void buffer_download_async(const Ctx& ctx, void* pinned_dst, const void* src, std::size_t bytes) {
    if (ctx.device == Device::kCpu) {
        std::memcpy(pinned_dst, src, bytes);
        return;
    }
#ifdef QFORGE_HAS_CUDA
    cuda_check(cudaMemcpyAsync(pinned_dst, src, bytes, cudaMemcpyDeviceToHost, stream_of(ctx)),
               "cudaMemcpyAsync device->host (pinned)", bytes);
#else
    no_cuda("buffer_download_async");
#endif
}

const void* pinned_device_view(const Ctx& ctx, const void* pinned) {
    if (ctx.device == Device::kCpu || pinned == nullptr) {
        return pinned;
    }
#ifdef QFORGE_HAS_CUDA
    void* view = nullptr;
    cuda_check(cudaHostGetDevicePointer(&view, const_cast<void*>(pinned), 0),
               "cudaHostGetDevicePointer");
    return view;
#else
    no_cuda("pinned_device_view");
#endif
}

std::size_t device_bytes_in_use() {
    auto& l = ledger();
    const std::lock_guard lock(l.mu);
    return l.in_use;
}

std::size_t device_bytes_peak() {
    auto& l = ledger();
    const std::lock_guard lock(l.mu);
    return l.peak;
}

void buffer_upload(const Ctx& ctx, void* dst, const void* host_src, std::size_t bytes) {
    if (ctx.device == Device::kCpu) {
        std::memcpy(dst, host_src, bytes);
        return;
    }
#ifdef QFORGE_HAS_CUDA
    cuda_check(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, stream_of(ctx)),
               "cudaMemcpyAsync host->device", bytes);
    cuda_check(cudaStreamSynchronize(stream_of(ctx)), "cudaStreamSynchronize", bytes);
#else
    no_cuda("buffer_upload");
#endif
}

void buffer_download(const Ctx& ctx, void* host_dst, const void* src, std::size_t bytes) {
    if (ctx.device == Device::kCpu) {
        std::memcpy(host_dst, src, bytes);
        return;
    }
#ifdef QFORGE_HAS_CUDA
    cuda_check(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, stream_of(ctx)),
               "cudaMemcpyAsync device->host", bytes);
    cuda_check(cudaStreamSynchronize(stream_of(ctx)), "cudaStreamSynchronize", bytes);
#else
    no_cuda("buffer_download");
#endif
}

void buffer_zero(const Ctx& ctx, void* dst, std::size_t bytes) {
    if (bytes == 0) {
        return;
    }
    if (ctx.device == Device::kCpu) {
        std::memset(dst, 0, bytes);
        return;
    }
#ifdef QFORGE_HAS_CUDA
    cuda_check(cudaMemsetAsync(dst, 0, bytes, stream_of(ctx)), "cudaMemsetAsync", bytes);
#else
    no_cuda("buffer_zero");
#endif
}

void fill(const Ctx& ctx, float* out, int64_t n, float value) {
    if (n <= 0) {
        return;
    }
    if (ctx.device == Device::kCpu) {
        std::fill_n(out, n, value);
        return;
    }
#ifdef QFORGE_HAS_CUDA
    cuda::fill_f32(ctx.stream, out, n, value);
#else
    no_cuda("fill");
#endif
}

void buffer_copy(const Ctx& ctx, void* dst, const void* src, std::size_t bytes) {
    if (bytes == 0 || dst == src) {
        return;
    }
    if (ctx.device == Device::kCpu) {
        std::memmove(dst, src, bytes);
        return;
    }
#ifdef QFORGE_HAS_CUDA
    cuda_check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream_of(ctx)),
               "cudaMemcpyAsync device->device", bytes);
#else
    no_cuda("buffer_copy");
#endif
}

void stream_synchronize(const Ctx& ctx) {
    if (ctx.device == Device::kCpu) {
        return;
    }
#ifdef QFORGE_HAS_CUDA
    cuda_check(cudaStreamSynchronize(stream_of(ctx)), "cudaStreamSynchronize", 0);
#else
    no_cuda("stream_synchronize");
#endif
}

}  // namespace qforge::kernels
