// What is here: libqforge_kernel_trace, a CUPTI activity tracer that the CUDA driver loads into
// any program (CUDA_INJECTION64_PATH=<path to the .so>): every kernel, memset and memcpy the
// program runs, with its GPU start / end times (ns) and stream, goes to the file named by
// QFORGE_KERNEL_TRACE (default kernel_trace.txt) when the program exits, one per line:
//   <start> <end> <stream> <K|M> <kernel name | memset:<bytes> | memcpy<kind>:<bytes>>
// bench/kernel_trace.py turns it into per-step GPU busy / idle time and time per kernel family.
// For machines without Nsight Systems; ncu times kernels one at a time, this sees them as they run.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cupti.h>
#include <mutex>

namespace {

std::FILE* g_out = nullptr;
std::mutex g_mutex;
constexpr size_t kBufferBytes = size_t{8} << 20;

bool ok(CUptiResult r, const char* what) {
    if (r == CUPTI_SUCCESS) {
        return true;
    }
    const char* msg = nullptr;
    cuptiGetResultString(r, &msg);
    std::fprintf(stderr, "qforge_kernel_trace: %s failed: %s\n", what, msg != nullptr ? msg : "?");
    return false;
}

void CUPTIAPI buffer_requested(uint8_t** buffer, size_t* size, size_t* max_records) {
    *buffer = static_cast<uint8_t*>(std::aligned_alloc(8, kBufferBytes));
    *size = *buffer != nullptr ? kBufferBytes : 0;
    *max_records = 0;  // as many as fit
}

void CUPTIAPI buffer_completed(CUcontext, uint32_t, uint8_t* buffer, size_t, size_t valid) {
    const std::lock_guard<std::mutex> lock(g_mutex);
    CUpti_Activity* record = nullptr;
    while (g_out != nullptr &&
           cuptiActivityGetNextRecord(buffer, valid, &record) == CUPTI_SUCCESS) {
        switch (record->kind) {
            case CUPTI_ACTIVITY_KIND_KERNEL:
            case CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL: {
                const auto* k = reinterpret_cast<const CUpti_ActivityKernel10*>(record);
                std::fprintf(g_out, "%llu %llu %u K %s\n",
                             static_cast<unsigned long long>(k->start),
                             static_cast<unsigned long long>(k->end), k->streamId, k->name);
                break;
            }
            case CUPTI_ACTIVITY_KIND_MEMSET: {
                const auto* m = reinterpret_cast<const CUpti_ActivityMemset4*>(record);
                std::fprintf(g_out, "%llu %llu %u K memset:%llu\n",
                             static_cast<unsigned long long>(m->start),
                             static_cast<unsigned long long>(m->end), m->streamId,
                             static_cast<unsigned long long>(m->bytes));
                break;
            }
            case CUPTI_ACTIVITY_KIND_MEMCPY: {
                const auto* m = reinterpret_cast<const CUpti_ActivityMemcpy6*>(record);
                std::fprintf(g_out, "%llu %llu %u M memcpy%d:%llu\n",
                             static_cast<unsigned long long>(m->start),
                             static_cast<unsigned long long>(m->end), m->streamId,
                             static_cast<int>(m->copyKind),
                             static_cast<unsigned long long>(m->bytes));
                break;
            }
            default:
                break;
        }
    }
    std::free(buffer);
}

void flush_at_exit() {
    ok(cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED), "cuptiActivityFlushAll");
    const std::lock_guard<std::mutex> lock(g_mutex);
    if (g_out != nullptr && std::fclose(g_out) != 0) {
        std::perror("qforge_kernel_trace: closing the trace");
    }
    g_out = nullptr;
}

}  // namespace

// Called by the CUDA driver when it loads this library (CUDA_INJECTION64_PATH).
extern "C" int InitializeInjection() {
    const char* path = std::getenv("QFORGE_KERNEL_TRACE");
    path = path != nullptr ? path : "kernel_trace.txt";
    g_out = std::fopen(path, "w");
    if (g_out == nullptr) {
        std::perror("qforge_kernel_trace: opening the trace");
        return 0;
    }
    const bool on =
        ok(cuptiActivityRegisterCallbacks(buffer_requested, buffer_completed),
           "cuptiActivityRegisterCallbacks") &&
        ok(cuptiActivityEnable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL), "enabling kernel records") &&
        ok(cuptiActivityEnable(CUPTI_ACTIVITY_KIND_MEMSET), "enabling memset records") &&
        ok(cuptiActivityEnable(CUPTI_ACTIVITY_KIND_MEMCPY), "enabling memcpy records");
    if (!on || std::atexit(flush_at_exit) != 0) {
        std::fclose(g_out);
        g_out = nullptr;
        return 0;
    }
    std::fprintf(stderr, "qforge_kernel_trace: writing %s at exit\n", path);
    return 1;
}
