// What is here: DeviceArray<T>, a typed, growable buffer on one backend (host memory for
// Device::kCpu, GPU memory for kCuda), so that code such as the train step is written once and
// runs on either. Unlike std::vector, growing does not keep or initialise the contents.
#pragma once

#include <cstdint>
#include <type_traits>

#include "kernels/memory.h"

namespace qforge {

template <class T>
class DeviceArray {
    static_assert(std::is_trivially_copyable_v<T>, "DeviceArray holds plain values");

public:
    DeviceArray() = default;

    DeviceArray(const kernels::Ctx& ctx, int64_t n) : ctx_(ctx) { ensure(n); }

    // Binds the array to ctx (dropping what it held when the device changes).
    void bind(const kernels::Ctx& ctx) {
        if (ctx.device != ctx_.device) {
            buf_ = kernels::BackendBuffer();
            size_ = 0;
        }
        ctx_ = ctx;
    }

    // At least n elements; the contents are undefined after a reallocation.
    void ensure(int64_t n) {
        if (n > capacity()) {
            buf_ = kernels::BackendBuffer(ctx_, static_cast<std::size_t>(n) * sizeof(T));
        }
        size_ = n;
    }

    T* data() { return static_cast<T*>(buf_.data()); }

    const T* data() const { return static_cast<const T*>(buf_.data()); }

    int64_t size() const { return size_; }

    const kernels::Ctx& ctx() const { return ctx_; }

    void zero() { kernels::buffer_zero(ctx_, data(), bytes(size_)); }

    // Copies n host values into the first n elements (growing to n when smaller).
    void upload(const T* host, int64_t n) {
        if (n > size_) {
            ensure(n);
        }
        kernels::buffer_upload(ctx_, data(), host, bytes(n));
    }

    void download(T* host, int64_t n) const {
        kernels::buffer_download(ctx_, host, data(), bytes(n));
    }

private:
    static std::size_t bytes(int64_t n) { return static_cast<std::size_t>(n) * sizeof(T); }

    int64_t capacity() const { return static_cast<int64_t>(buf_.bytes() / sizeof(T)); }

    kernels::Ctx ctx_;
    kernels::BackendBuffer buf_;
    int64_t size_ = 0;
};

}  // namespace qforge
