// What is here: helpers of the kernel tests that move data to and from one GPU and time ops on
// it (the callers skip without a GPU): the CUDA Ctx, device copies of host vectors, a mean time
// per call, and a guard that restores the attention implementation.
#pragma once

#include <chrono>
#include <cstddef>
#include <vector>

#include "kernels/attention.h"
#include "kernels/common.h"
#include "kernels/memory.h"

namespace qforge::test {

inline constexpr kernels::Ctx kCudaCtx{kernels::Device::kCuda, nullptr};

// A device copy of a host vector; `extra` more elements of room at the end (left unset).
template <typename T>
kernels::BackendBuffer to_device(const std::vector<T>& host, std::size_t extra = 0) {
    kernels::BackendBuffer buf(kCudaCtx, (host.size() + extra) * sizeof(T));
    kernels::buffer_upload(kCudaCtx, buf.data(), host.data(), host.size() * sizeof(T));
    return buf;
}

template <typename T>
std::vector<T> from_device(const kernels::BackendBuffer& buf) {
    std::vector<T> host(buf.bytes() / sizeof(T));
    kernels::buffer_download(kCudaCtx, host.data(), buf.data(), buf.bytes());
    return host;
}

// Mean milliseconds of `iters` calls of fn after one warm-up.
template <typename Fn>
double time_ms(Fn fn, int iters = 20) {
    fn();
    kernels::stream_synchronize(kCudaCtx);
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < iters; i++) {
        fn();
    }
    kernels::stream_synchronize(kCudaCtx);
    const std::chrono::duration<double, std::milli> dt = std::chrono::steady_clock::now() - t0;
    return dt.count() / iters;
}

// Restores the process-wide attention implementation when a test ends.
class AttentionImplGuard {
public:
    AttentionImplGuard()
        : saved_(kernels::cuda_attention_impl()), heads_(kernels::cuda_attention_wgmma_heads()) {}

    ~AttentionImplGuard() {
        kernels::set_cuda_attention_impl(saved_);
        kernels::set_cuda_attention_wgmma_heads(heads_);
    }

    AttentionImplGuard(const AttentionImplGuard&) = delete;
    AttentionImplGuard& operator=(const AttentionImplGuard&) = delete;

private:
    kernels::AttentionImpl saved_;
    int heads_;
};

}  // namespace qforge::test
