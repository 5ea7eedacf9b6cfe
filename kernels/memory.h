// What is here: raw byte buffers on a backend (allocate, free, copy in and out, synchronize),
// so tests and callers can stage data for any Device without including CUDA headers.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/common.h"

namespace qforge::kernels {

// On the CPU these are malloc/memcpy; on CUDA, cudaMalloc/cudaMemcpy on ctx.stream.
void* buffer_alloc(const Ctx& ctx, std::size_t bytes);
void buffer_free(const Ctx& ctx, void* ptr) noexcept;
void buffer_upload(const Ctx& ctx, void* dst, const void* host_src, std::size_t bytes);
void buffer_download(const Ctx& ctx, void* host_dst, const void* src, std::size_t bytes);
// Sets `bytes` bytes at dst to zero (cudaMemsetAsync on ctx.stream; no sync).
void buffer_zero(const Ctx& ctx, void* dst, std::size_t bytes);
// out[0, n) = value (a kernel on ctx.stream on CUDA; no sync).
void fill(const Ctx& ctx, float* out, int64_t n, float value);
// Copies between two buffers of the same backend (device to device on CUDA, async on ctx.stream).
void buffer_copy(const Ctx& ctx, void* dst, const void* src, std::size_t bytes);
// Waits until every op queued on ctx.stream has finished (a no-op on the CPU).
void stream_synchronize(const Ctx& ctx);

// Bytes of GPU memory held by buffer_alloc now, and the most held at once since the start of
// the process (0 without CUDA). Memory taken by cuBLASLt/NCCL internally is not counted.
std::size_t device_bytes_in_use();
std::size_t device_bytes_peak();

// Page-locked host memory (cudaMallocHost on a CUDA ctx, so that uploads from it can run
// asynchronously; malloc on the CPU), and its free.
void* pinned_alloc(const Ctx& ctx, std::size_t bytes);
void pinned_free(const Ctx& ctx, void* ptr) noexcept;
// Queues a host->device copy from pinned memory on ctx.stream and returns at once (a memcpy on
// the CPU). host_src must stay unchanged until the stream has passed this point.
void buffer_upload_async(const Ctx& ctx, void* dst, const void* pinned_src, std::size_t bytes);
// Queues a device->host copy into pinned memory on ctx.stream and returns at once (a memcpy on
// the CPU). host_dst holds the data once the stream has passed this point.
void buffer_download_async(const Ctx& ctx, void* pinned_dst, const void* src, std::size_t bytes);
// The address under which kernels on ctx's device read pinned memory from pinned_alloc
// (cudaHostGetDevicePointer; the pointer itself on the CPU). Each read crosses the host bus, so
// this suits a large table read a few rows at a time, such as a frozen embedding.
const void* pinned_device_view(const Ctx& ctx, const void* pinned);

// Owns one block from Alloc, given back with Free; move-only.
template <void* (*Alloc)(const Ctx&, std::size_t), void (*Free)(const Ctx&, void*) noexcept>
class OwnedBlock {
public:
    OwnedBlock() = default;

    OwnedBlock(const Ctx& ctx, std::size_t bytes)
        : ctx_(ctx), ptr_(Alloc(ctx, bytes)), bytes_(bytes) {}

    ~OwnedBlock() { Free(ctx_, ptr_); }

    OwnedBlock(OwnedBlock&& other) noexcept
        : ctx_(other.ctx_), ptr_(other.ptr_), bytes_(other.bytes_) {
        other.ptr_ = nullptr;
        other.bytes_ = 0;
    }

    OwnedBlock& operator=(OwnedBlock&& other) noexcept {
        if (this != &other) {
            Free(ctx_, ptr_);
            ctx_ = other.ctx_;
            ptr_ = other.ptr_;
            bytes_ = other.bytes_;
            other.ptr_ = nullptr;
            other.bytes_ = 0;
        }
        return *this;
    }

    OwnedBlock(const OwnedBlock&) = delete;
    OwnedBlock& operator=(const OwnedBlock&) = delete;

    void* data() const { return ptr_; }

    std::size_t bytes() const { return bytes_; }

private:
    Ctx ctx_;
    void* ptr_ = nullptr;
    std::size_t bytes_ = 0;
};

// A buffer_alloc'd block on ctx's backend, and a pinned_alloc'd block of host memory.
using BackendBuffer = OwnedBlock<buffer_alloc, buffer_free>;
using PinnedHostBuffer = OwnedBlock<pinned_alloc, pinned_free>;

}  // namespace qforge::kernels
