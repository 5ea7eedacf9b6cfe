// What is here: norm_rope_cuda_bench, a development bench (llm.c dev/cuda style) for the RMSNorm
// and RoPE kernels the train step runs, timed with CUDA events at Llama-3-8B sizes (N = 4096
// tokens, C = 4096 and 2048, 32 q / 8 kv heads of 128), in GB/s of the bytes each call must move
// (each input read once, each output written once, a += output twice; weights and tables, which
// stay in L2, not counted) against the H100 SXM's 3350 GB/s HBM3 peak.
//   version 1: the kernels as they were before the register path (bench/rmsnorm_v1.cu: one
//              block per row, a strided sum pass, then a second pass over the row), built into
//              this binary so that before and after run on one machine;
//   version 2: the library's kernels (kernels::rmsnorm_*), checked against version 1.
//   rope: rope_forward (fp32) beside rope_forward_bf16, and rope_backward + convert_to_bf16 (the
//         train step's old pair) beside rope_backward_to_bf16; the bf16 ops as version 1
//         (bench/rope_v1.cu: one head a thread) and version 2 (the library's: cos/sin widened
//         once for 4 heads), which must agree bit for bit.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

#include <cuda_runtime.h>

#include "bench/cuda_event_timer.h"
#include "kernels/bf16.h"
#include "kernels/memory.h"
#include "kernels/random.h"
#include "kernels/registry.h"
#include "kernels/rmsnorm.h"
#include "kernels/rope.h"

// bench/rmsnorm_v1.cu
cudaError_t v1_rmsnorm_forward_bf16(uint16_t* out, int64_t ld_out, float* rstd, const float* inp,
                                    const float* weight, int64_t N, int64_t C, float eps);
cudaError_t v1_rmsnorm_backward_dinp(float* dinp, const float* dout, const float* inp,
                                     const float* weight, const float* rstd, int64_t N, int64_t C);
// bench/rope_v1.cu
cudaError_t v1_rope_forward_bf16(uint16_t* x, int64_t ld, const int32_t* pos, const float* cos,
                                 const float* sin, int64_t N, int64_t H, int64_t D);
cudaError_t v1_rope_backward_to_bf16(uint16_t* dst, int64_t ld, const float* dx, const int32_t* pos,
                                     const float* cos, const float* sin, int64_t N, int64_t H,
                                     int64_t D);

namespace {

namespace k = qforge::kernels;
using k::BackendBuffer;

constexpr k::Ctx kCuda{k::Device::kCuda, nullptr};

// ---- timing ------------------------------------------------------------------------------------

BackendBuffer random_buffer(int64_t n, uint64_t seed, float stddev = 1.0f) {
    BackendBuffer buf(kCuda, static_cast<size_t>(n) * sizeof(float));
    k::random_normal(kCuda, static_cast<float*>(buf.data()), n, stddev, seed, 0);
    return buf;
}

float* f(const BackendBuffer& b) {
    return static_cast<float*>(b.data());
}

uint16_t* u16(const BackendBuffer& b) {
    return static_cast<uint16_t*>(b.data());
}

// report at this bench's name width
template <typename Fn>
void report(const char* name, double bytes, Fn fn) {
    bench::report(name, bytes, fn, 58);
}

template <typename T>
std::vector<T> download(const BackendBuffer& b) {
    k::stream_synchronize(kCuda);
    std::vector<T> host(b.bytes() / sizeof(T));
    k::buffer_download(kCuda, host.data(), b.data(), b.bytes());
    return host;
}

// Largest |a - b| / max(|b|, 1e-3) over the two buffers, as floats or bf16 words.
double max_rel_diff_f32(const BackendBuffer& a, const BackendBuffer& b) {
    const auto x = download<float>(a), y = download<float>(b);
    double worst = 0.0;
    for (size_t i = 0; i < x.size(); i++) {
        worst = std::fmax(worst, std::fabs(x[i] - y[i]) / std::fmax(std::fabs(y[i]), 1e-3));
    }
    return worst;
}

size_t differing_words(const BackendBuffer& a, const BackendBuffer& b) {
    const auto x = download<uint16_t>(a), y = download<uint16_t>(b);
    size_t n = 0;
    for (size_t i = 0; i < x.size(); i++) {
        n += x[i] != y[i] ? 1 : 0;
    }
    return n;
}

void bench_rmsnorm(int64_t N, int64_t C) {
    auto x = random_buffer(N * C, 1), w = random_buffer(C, 2, 0.1f), dout = random_buffer(N * C, 3);
    auto dinp1 = random_buffer(N * C, 4), dinp2 = random_buffer(N * C, 4);
    auto rstd1 = random_buffer(N, 5), rstd2 = random_buffer(N, 5);
    BackendBuffer out1(kCuda, static_cast<size_t>(N * C) * 2), out2(kCuda, out1.bytes());
    const double fwd_bytes = 6.0 * N * C, bwd_bytes = 16.0 * N * C;
    char name[128];
    std::snprintf(name, sizeof name, "rmsnorm_forward_bf16 N=%lld C=%lld  v1 (before)",
                  static_cast<long long>(N), static_cast<long long>(C));
    report(name, fwd_bytes, [&] {
        BENCH_CHECK(v1_rmsnorm_forward_bf16(u16(out1), C, f(rstd1), f(x), f(w), N, C, 1e-5f));
    });
    std::snprintf(name, sizeof name, "rmsnorm_forward_bf16 N=%lld C=%lld  v2 (library)",
                  static_cast<long long>(N), static_cast<long long>(C));
    report(name, fwd_bytes, [&] {
        k::rmsnorm_forward_bf16(kCuda, u16(out2), C, f(rstd2), f(x), f(w), N, C, 1e-5f);
    });
    std::printf("  check: rstd max rel diff %.2e, bf16 words differing %zu of %lld\n",
                max_rel_diff_f32(rstd2, rstd1), differing_words(out2, out1),
                static_cast<long long>(N * C));
    report("rmsnorm_forward (fp32 out) v2 (library)", 8.0 * N * C,
           [&] { k::rmsnorm_forward(kCuda, f(dinp2), f(rstd2), f(x), f(w), N, C, 1e-5f); });

    // backward dinp only (the train step's case): both from the same dinp start and rstd
    auto dinp0 = random_buffer(N * C, 4);
    std::snprintf(name, sizeof name, "rmsnorm_backward dinp only N=%lld C=%lld  v1 (before)",
                  static_cast<long long>(N), static_cast<long long>(C));
    report(name, bwd_bytes, [&] {
        BENCH_CHECK(v1_rmsnorm_backward_dinp(f(dinp1), f(dout), f(x), f(w), f(rstd1), N, C));
    });
    std::snprintf(name, sizeof name, "rmsnorm_backward dinp only N=%lld C=%lld  v2 (library)",
                  static_cast<long long>(N), static_cast<long long>(C));
    report(name, bwd_bytes, [&] {
        k::rmsnorm_backward(kCuda, f(dinp2), nullptr, f(dout), f(x), f(w), f(rstd1), N, C);
    });
    // one call each from the same start, compared
    k::buffer_copy(kCuda, dinp1.data(), dinp0.data(), dinp0.bytes());
    k::buffer_copy(kCuda, dinp2.data(), dinp0.data(), dinp0.bytes());
    BENCH_CHECK(v1_rmsnorm_backward_dinp(f(dinp1), f(dout), f(x), f(w), f(rstd1), N, C));
    k::rmsnorm_backward(kCuda, f(dinp2), nullptr, f(dout), f(x), f(w), f(rstd1), N, C);
    std::printf("  check: dinp max rel diff v2 vs v1 %.2e\n", max_rel_diff_f32(dinp2, dinp1));
}

void bench_rope(int64_t N, int64_t H, int64_t D) {
    const int64_t T = 8192, n = N * H * D;
    auto cos = random_buffer(T * D / 2, 10), sin = random_buffer(T * D / 2, 11);
    std::vector<int32_t> pos(static_cast<size_t>(N));
    for (int64_t i = 0; i < N; i++) {
        pos[i] = static_cast<int32_t>(i % 2048);
    }
    BackendBuffer d_pos(kCuda, pos.size() * 4);
    k::buffer_upload(kCuda, d_pos.data(), pos.data(), pos.size() * 4);
    const auto* p = static_cast<const int32_t*>(d_pos.data());
    auto x = random_buffer(n, 12), dx = random_buffer(n, 13), tmp = random_buffer(n, 14);
    BackendBuffer xb(kCuda, static_cast<size_t>(n) * 2), d1(kCuda, xb.bytes()),
        d2(kCuda, xb.bytes());
    k::convert_to_bf16(kCuda, u16(xb), H * D, f(x), H * D, N, H * D, 1.0f);
    char name[128];
    std::snprintf(name, sizeof name, "rope_forward fp32 N=%lld H=%lld D=%lld",
                  static_cast<long long>(N), static_cast<long long>(H), static_cast<long long>(D));
    report(name, 8.0 * n, [&] { k::rope_forward(kCuda, f(x), p, f(cos), f(sin), N, H, D); });
    report("  rope_forward_bf16 v1 (one head a thread)", 4.0 * n,
           [&] { BENCH_CHECK(v1_rope_forward_bf16(u16(xb), H * D, p, f(cos), f(sin), N, H, D)); });
    report("  rope_forward_bf16 v2 (library)", 4.0 * n,
           [&] { k::rope_forward_bf16(kCuda, u16(xb), H * D, p, f(cos), f(sin), N, H, D); });
    // one call of each from the same rows, compared
    k::convert_to_bf16(kCuda, u16(d1), H * D, f(x), H * D, N, H * D, 1.0f);
    k::buffer_copy(kCuda, d2.data(), d1.data(), d1.bytes());
    BENCH_CHECK(v1_rope_forward_bf16(u16(d1), H * D, p, f(cos), f(sin), N, H, D));
    k::rope_forward_bf16(kCuda, u16(d2), H * D, p, f(cos), f(sin), N, H, D);
    std::printf("  check: forward v2 vs v1 bf16 words differing: %zu\n", differing_words(d2, d1));
    // before: rope_backward in place on the fp32 gradient, then the staging pass to bf16
    report("  rope_backward + convert_to_bf16 (before)", 8.0 * n + 6.0 * n, [&] {
        k::rope_backward(kCuda, f(tmp), p, f(cos), f(sin), N, H, D);
        k::convert_to_bf16(kCuda, u16(d1), H * D, f(tmp), H * D, N, H * D, 1.0f);
    });
    report("  rope_backward_to_bf16 v1 (one head a thread)", 6.0 * n, [&] {
        BENCH_CHECK(v1_rope_backward_to_bf16(u16(xb), H * D, f(dx), p, f(cos), f(sin), N, H, D));
    });
    report("  rope_backward_to_bf16 v2 (library)", 6.0 * n, [&] {
        k::rope_backward_to_bf16(kCuda, u16(d2), H * D, f(dx), p, f(cos), f(sin), N, H, D);
    });
    std::printf("  check: backward v2 vs v1 bf16 words differing: %zu\n", differing_words(d2, xb));
    k::buffer_copy(kCuda, tmp.data(), dx.data(), dx.bytes());
    k::rope_backward(kCuda, f(tmp), p, f(cos), f(sin), N, H, D);
    k::convert_to_bf16(kCuda, u16(d1), H * D, f(tmp), H * D, N, H * D, 1.0f);
    std::printf(
        "  check: bf16 words differing, fused vs before: %zu of %lld (the fp32 kernel "
        "rounds once more: ~1 ulp apart near ties)\n",
        differing_words(d2, d1), static_cast<long long>(n));
}

}  // namespace

int main() {
    if (!k::cuda_available()) {
        std::printf("no GPU present\n");
        return 0;
    }
    bench_rmsnorm(4096, 4096);
    bench_rmsnorm(4096, 2048);
    bench_rope(4096, 32, 128);
    bench_rope(4096, 8, 128);
    return 0;
}
