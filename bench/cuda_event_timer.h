// What is here: the CUDA-event timing shared by the development benches (nf4_cuda_bench,
// norm_rope_cuda_bench): BENCH_CHECK (a failed CUDA call ends the bench with its message),
// time_ms (mean milliseconds per call between two events, after 3 warm-up calls) and report
// (that time and its GB/s against the H100 SXM's 3350 GB/s HBM3 peak).
#pragma once

#include <cstdio>
#include <cstdlib>

#include <cuda_runtime.h>

#define BENCH_CHECK(call)                                                      \
    do {                                                                       \
        const cudaError_t e_ = (call);                                         \
        if (e_ != cudaSuccess) {                                               \
            std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, \
                         cudaGetErrorString(e_));                              \
            std::exit(1);                                                      \
        }                                                                      \
    } while (0)

namespace bench {

constexpr double kPeakGBs = 3350.0;

template <typename Fn>
double time_ms(Fn fn, int iters = 50) {
    for (int i = 0; i < 3; i++) {
        fn();
    }
    cudaEvent_t start, stop;
    BENCH_CHECK(cudaEventCreate(&start));
    BENCH_CHECK(cudaEventCreate(&stop));
    BENCH_CHECK(cudaEventRecord(start, nullptr));
    for (int i = 0; i < iters; i++) {
        fn();
    }
    BENCH_CHECK(cudaEventRecord(stop, nullptr));
    BENCH_CHECK(cudaEventSynchronize(stop));
    float ms = 0.0f;
    BENCH_CHECK(cudaEventElapsedTime(&ms, start, stop));
    BENCH_CHECK(cudaEventDestroy(start));
    BENCH_CHECK(cudaEventDestroy(stop));
    return static_cast<double>(ms) / iters;
}

// One line: name (padded to name_width), microseconds, GB/s of `bytes` and % of the peak.
template <typename Fn>
void report(const char* name, double bytes, Fn fn, int name_width = 52) {
    const double ms = time_ms(fn);
    const double gbs = bytes / (ms * 1e-3) * 1e-9;
    std::printf("%-*s %8.1f us %8.1f GB/s %5.1f%% of peak\n", name_width, name, ms * 1e3, gbs,
                100.0 * gbs / kPeakGBs);
}

}  // namespace bench
