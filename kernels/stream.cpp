// What is here: kernels/stream.h. The CUDA branch exists only when this build has the backend.
#include "kernels/stream.h"

#include "kernels/backend_error.h"

namespace qforge::kernels {

#ifdef QFORGE_HAS_CUDA
using detail::cuda_check;
#else
using detail::no_cuda;
#endif

void* stream_create(const Ctx& ctx) {
    if (ctx.device == Device::kCpu) {
        return nullptr;
    }
#ifdef QFORGE_HAS_CUDA
    cudaStream_t s = nullptr;
    cuda_check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
    return s;
#else
    no_cuda("stream_create");
#endif
}

void stream_destroy(const Ctx& ctx, void* stream) noexcept {
    if (ctx.device == Device::kCpu || stream == nullptr) {
        return;
    }
#ifdef QFORGE_HAS_CUDA
    (void)cudaStreamDestroy(static_cast<cudaStream_t>(stream));  // noexcept, as buffer_free
#endif
}

void* event_create(const Ctx& ctx) {
    if (ctx.device == Device::kCpu) {
        return nullptr;
    }
#ifdef QFORGE_HAS_CUDA
    cudaEvent_t e = nullptr;
    cuda_check(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "cudaEventCreateWithFlags");
    return e;
#else
    no_cuda("event_create");
#endif
}

void event_destroy(const Ctx& ctx, void* event) noexcept {
    if (ctx.device == Device::kCpu || event == nullptr) {
        return;
    }
#ifdef QFORGE_HAS_CUDA
    (void)cudaEventDestroy(static_cast<cudaEvent_t>(event));
#endif
}

void event_record(const Ctx& ctx, void* event) {
    if (ctx.device == Device::kCpu) {
        return;
    }
#ifdef QFORGE_HAS_CUDA
    cuda_check(
        cudaEventRecord(static_cast<cudaEvent_t>(event), static_cast<cudaStream_t>(ctx.stream)),
        "cudaEventRecord");
#else
    (void)event;
    no_cuda("event_record");
#endif
}

void stream_wait(const Ctx& ctx, void* event) {
    if (ctx.device == Device::kCpu) {
        return;
    }
#ifdef QFORGE_HAS_CUDA
    cuda_check(cudaStreamWaitEvent(static_cast<cudaStream_t>(ctx.stream),
                                   static_cast<cudaEvent_t>(event), 0),
               "cudaStreamWaitEvent");
#else
    (void)event;
    no_cuda("stream_wait");
#endif
}

}  // namespace qforge::kernels
