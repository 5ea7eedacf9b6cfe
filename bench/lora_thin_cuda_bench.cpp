// What is here: lora_thin_cuda_bench, a development bench for the thin LoRA products of the fused
// projection (kernels/lora_thin.h) at the Llama-3-8B shapes of one train step (N = 4096 tokens,
// R = 16, rows laid out as runtime/model/lora_fused.cpp lays them out), ours against cuBLASLt
// (kernels::gemm_bf16 of the same product, what the fused path called before) in one binary.
//   u  = x A^T      lora_down_bf16, w = packed A rows          K = 4096, 14336
//   dU = dy (sB)    lora_down_bf16, w = packed sB columns      K = 4096, 14336 (bf16 out only)
//   dA += dU^T x    lora_grad_bf16, out (R, M)                 M = 4096, 14336
//   dB += s dy^T u  lora_grad_bf16, out (M, R)                 M = 4096, 14336
// Ours run first, then cuBLASLt (whose first call autotunes; op(B) = w^T: trans_b for A rows). Time
// per call with CUDA events: "cold" flushes L2 (a 128 MiB memset) before each timed call, "hot"
// runs the calls back to back. GB/s = the big operand's bytes (N x K or N x M bf16) / time, against
// the H100 SXM's 3350 GB/s HBM3 peak. Our kernels also run with forced split counts, and their
// result is compared with cuBLASLt's (max |difference| / max |value|).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

#include <cuda_runtime.h>

#include "kernels/bf16.h"
#include "kernels/cuda/lora_thin.h"
#include "kernels/gemm.h"
#include "kernels/lora_thin.h"
#include "kernels/memory.h"
#include "kernels/random.h"

namespace {

namespace k = qforge::kernels;
using k::BackendBuffer;

constexpr k::Ctx kCuda{k::Device::kCuda, nullptr};
constexpr double kPeakGBs = 3350.0;
constexpr int64_t N = 4096, R = 16;

#define BENCH_CHECK(call)                                                      \
    do {                                                                       \
        const cudaError_t e_ = (call);                                         \
        if (e_ != cudaSuccess) {                                               \
            std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, \
                         cudaGetErrorString(e_));                              \
            std::exit(1);                                                      \
        }                                                                      \
    } while (0)

struct Flush {
    void* buf = nullptr;
    size_t bytes = size_t{128} << 20;

    Flush() { BENCH_CHECK(cudaMalloc(&buf, bytes)); }

    ~Flush() { cudaFree(buf); }

    void operator()() const { BENCH_CHECK(cudaMemsetAsync(buf, 1, bytes, nullptr)); }
};

// Mean microseconds per call: cold (L2 flushed before each call, only the call timed) and hot
// (back to back).
std::pair<double, double> time_us(const std::function<void()>& fn, const Flush& flush) {
    constexpr int kIters = 30;
    for (int i = 0; i < 3; i++) {
        fn();
    }
    cudaEvent_t a, b;
    BENCH_CHECK(cudaEventCreate(&a));
    BENCH_CHECK(cudaEventCreate(&b));
    double cold = 0.0;
    for (int i = 0; i < kIters; i++) {
        flush();
        BENCH_CHECK(cudaEventRecord(a, nullptr));
        fn();
        BENCH_CHECK(cudaEventRecord(b, nullptr));
        BENCH_CHECK(cudaEventSynchronize(b));
        float ms = 0.0f;
        BENCH_CHECK(cudaEventElapsedTime(&ms, a, b));
        cold += ms;
    }
    BENCH_CHECK(cudaEventRecord(a, nullptr));
    for (int i = 0; i < kIters; i++) {
        fn();
    }
    BENCH_CHECK(cudaEventRecord(b, nullptr));
    BENCH_CHECK(cudaEventSynchronize(b));
    float ms = 0.0f;
    BENCH_CHECK(cudaEventElapsedTime(&ms, a, b));
    BENCH_CHECK(cudaEventDestroy(a));
    BENCH_CHECK(cudaEventDestroy(b));
    return {1e3 * cold / kIters, 1e3 * static_cast<double>(ms) / kIters};
}

void report(const char* name, double bytes, const std::function<void()>& fn, const Flush& flush) {
    const auto [cold, hot] = time_us(fn, flush);
    std::printf("  %-34s cold %7.1f us %7.0f GB/s (%3.0f%%)   hot %7.1f us %7.0f GB/s\n", name,
                cold, bytes / (cold * 1e-6) * 1e-9, 100.0 * bytes / (cold * 1e-6) * 1e-9 / kPeakGBs,
                hot, bytes / (hot * 1e-6) * 1e-9);
}

// Random bf16 (N(0, stddev) rounded) in a device buffer of rows x cols values.
BackendBuffer random_bf16(int64_t rows, int64_t cols, float stddev, uint64_t key) {
    const int64_t count = rows * cols;
    BackendBuffer f(kCuda, static_cast<size_t>(count) * 4);
    k::random_normal(kCuda, static_cast<float*>(f.data()), count, stddev, 11, key);
    BackendBuffer h(kCuda, static_cast<size_t>(count) * 2);
    k::convert_to_bf16(kCuda, static_cast<uint16_t*>(h.data()), cols,
                       static_cast<const float*>(f.data()), cols, rows, cols, 1.0f);
    k::stream_synchronize(kCuda);
    return h;
}

std::vector<float> download(const BackendBuffer& b) {
    k::stream_synchronize(kCuda);
    std::vector<float> v(b.bytes() / 4);
    k::buffer_download(kCuda, v.data(), b.data(), b.bytes());
    return v;
}

double rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
    double d = 0.0, m = 0.0;
    for (size_t i = 0; i < a.size(); i++) {
        d = std::max(d, std::fabs(static_cast<double>(a[i]) - b[i]));
        m = std::max(m, std::fabs(static_cast<double>(b[i])));
    }
    return m > 0.0 ? d / m : d;
}

const uint16_t* u16(const BackendBuffer& b, int64_t off = 0) {
    return static_cast<const uint16_t*>(b.data()) + off;
}

// u = x A^T (w_rows) or dU = dy (sB) (!w_rows): x (N, K) in rows of K + R, w packed as the fused
// path packs it.
void bench_down(int64_t K, bool w_rows, const Flush& flush) {
    const int64_t ldx = K + R;
    // The packed matrix's row stride: K + R for A's rows; for sB's columns in + R, in = 4096.
    const int64_t ldw = (w_rows ? K : 4096) + R;
    BackendBuffer x = random_bf16(N, ldx, 1.0f, 1);
    BackendBuffer w = random_bf16(w_rows ? R : K, ldw, 0.02f, 2);
    const int64_t wsr = w_rows ? ldw : 1, wsk = w_rows ? 1 : ldw;
    BackendBuffer y(kCuda, N * R * 4), yb(kCuda, N * R * 4);
    BackendBuffer y16(kCuda, N * ldx * 2);  // the spare columns of a staged copy
    auto* xs16 = static_cast<uint16_t*>(y16.data());
    const double bytes = 2.0 * static_cast<double>(N * K);
    std::printf("%s K=%lld (x %lldx%lld bf16, %.0f MiB)\n", w_rows ? "u = x A^T" : "dU = dy sB",
                static_cast<long long>(K), static_cast<long long>(N), static_cast<long long>(K),
                bytes / (1 << 20));
    float* yp = static_cast<float*>(y.data());
    float* ybp = static_cast<float*>(yb.data());
    for (const int splits : {0, 4, 8, 12, 16, 24}) {
        char name[64];
        std::snprintf(name, sizeof name, "ours y+y16 splits=%s%d", splits == 0 ? "auto/" : "",
                      splits);
        report(
            name, bytes,
            [&] {
                qforge::kernels::cuda::lora_down_bf16(nullptr, N, K, R, u16(x), ldx, u16(w), wsr,
                                                      wsk, 1.0f, yp, R, xs16 + K, ldx, splits);
            },
            flush);
    }
    report(
        "ours y16 only (library)", bytes,
        [&] {
            k::lora_down_bf16(kCuda, N, K, R, u16(x), ldx, u16(w), wsr, wsk, 1.0f, nullptr, R,
                              xs16 + K, ldx);
        },
        flush);
    report(
        "cuBLASLt gemm_bf16", bytes,
        [&] {
            k::gemm_bf16(kCuda, false, w_rows, N, R, K, 1.0f, u16(x), ldx, u16(w),
                         w_rows ? wsr : wsk, 0.0f, ybp, R);
        },
        flush);
    report(
        "cuBLASLt gemm_bf16 + convert", bytes,
        [&] {
            k::gemm_bf16(kCuda, false, w_rows, N, R, K, 1.0f, u16(x), ldx, u16(w),
                         w_rows ? wsr : wsk, 0.0f, ybp, R);
            k::convert_to_bf16(kCuda, xs16 + K, ldx, ybp, R, N, R, 1.0f);
        },
        flush);
    k::lora_down_bf16(kCuda, N, K, R, u16(x), ldx, u16(w), wsr, wsk, 1.0f, yp, R, nullptr, R);
    std::printf("  max |ours - cuBLASLt| / max |cuBLASLt| = %.2e\n",
                rel_diff(download(y), download(yb)));
}

// dA (R, M) += dU^T x (grad_a) or dB (M, R) += s dy^T u: x (N, M) in rows of M + R, d (N, R) the
// spare columns of the same rows (dA) or a dense (N, R) copy of u (dB).
void bench_grad(int64_t M, bool grad_a, const Flush& flush) {
    const int64_t ldx = M + R;
    BackendBuffer x = random_bf16(N, ldx, 1.0f, 3);
    BackendBuffer ud = random_bf16(N, R, 1.0f, 4);
    const uint16_t* d = grad_a ? u16(x, M) : u16(ud);
    const int64_t ldd = grad_a ? ldx : R;
    const float alpha = grad_a ? 1.0f : 2.0f;
    const int64_t osr = grad_a ? M : 1, osm = grad_a ? 1 : R;
    BackendBuffer out(kCuda, M * R * 4), outb(kCuda, M * R * 4);
    BENCH_CHECK(cudaMemset(out.data(), 0, M * R * 4));
    BENCH_CHECK(cudaMemset(outb.data(), 0, M * R * 4));
    float* op = static_cast<float*>(out.data());
    float* obp = static_cast<float*>(outb.data());
    const double bytes = 2.0 * static_cast<double>(N * M);
    std::printf("%s M=%lld (x %lldx%lld bf16, %.0f MiB)\n",
                grad_a ? "dA += dU^T x" : "dB += s dy^T u", static_cast<long long>(M),
                static_cast<long long>(N), static_cast<long long>(M), bytes / (1 << 20));
    auto cublas = [&] {
        if (grad_a) {
            k::gemm_bf16(kCuda, true, false, R, M, N, alpha, d, ldd, u16(x), ldx, 1.0f, obp, M);
        } else {
            k::gemm_bf16(kCuda, true, false, M, R, N, alpha, u16(x), ldx, d, ldd, 1.0f, obp, R);
        }
    };
    for (const int splits : {0, 2, 4, 8, 12, 16}) {
        char name[64];
        std::snprintf(name, sizeof name, "ours splits=%s%d", splits == 0 ? "auto/" : "", splits);
        report(
            name, bytes,
            [&] {
                qforge::kernels::cuda::lora_grad_bf16(nullptr, N, M, R, d, ldd, u16(x), ldx, alpha,
                                                      op, osr, osm, splits);
            },
            flush);
    }
    report("cuBLASLt gemm_bf16", bytes, cublas, flush);
    // One call each from zero, compared.
    BENCH_CHECK(cudaMemset(out.data(), 0, M * R * 4));
    BENCH_CHECK(cudaMemset(outb.data(), 0, M * R * 4));
    k::lora_grad_bf16(kCuda, N, M, R, d, ldd, u16(x), ldx, alpha, op, osr, osm);
    cublas();
    std::printf("  max |ours - cuBLASLt| / max |cuBLASLt| = %.2e\n",
                rel_diff(download(out), download(outb)));
}

}  // namespace

int main() {
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
        std::printf("no GPU present\n");
        return 0;
    }
    std::setvbuf(stdout, nullptr, _IOLBF, 0);  // lines survive a crash
    cudaDeviceProp prop{};
    BENCH_CHECK(cudaGetDeviceProperties(&prop, 0));
    std::printf("%s, %d SMs; N = %lld tokens, R = %lld\n", prop.name, prop.multiProcessorCount,
                static_cast<long long>(N), static_cast<long long>(R));
    const Flush flush;
    for (const int64_t K : {4096, 14336}) {
        bench_down(K, true, flush);
        bench_down(K, false, flush);
    }
    for (const int64_t M : {4096, 14336}) {
        bench_grad(M, true, flush);
        bench_grad(M, false, flush);
    }
    return 0;
}
