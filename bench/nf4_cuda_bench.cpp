// What is here: nf4_cuda_bench, a development bench for nf4_dequantize_bf16 at the Llama-3-8B
// projection shapes the train step dequantizes twice a step ((4096, 4096), (1024, 4096),
// (14336, 4096), (4096, 14336), written into rows of stride cols + 16 as pack_projection lays
// them out), timed with CUDA events, in GB/s of the bytes each call must move (codes, absmax codes
// and nested absmax read once, bf16 written once) against the H100 SXM's 3350 GB/s HBM3 peak.
//   v1: the kernel before the warp-span path (bench/nf4_v1.cu);
//   v2: the warp-span layout multiplying each value (bench/nf4_v1.cu);
//   v3 steps=8 / steps=4: the library's kernel with spans of 8 or 4 steps (bench/nf4_v1.cu);
//   library: kernels::nf4_dequantize_bf16 (a bf16 product table per absmax block).
// All three must agree bit for bit (the library's is checked against the CPU in test_kernels).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <cuda_runtime.h>

#include "bench/cuda_event_timer.h"
#include "kernels/memory.h"
#include "kernels/nf4.h"
#include "kernels/random.h"
#include "kernels/registry.h"

// bench/nf4_v1.cu
cudaError_t v1_nf4_dequantize_bf16(uint16_t* out, int64_t ld_out, const uint8_t* packed,
                                   const uint8_t* absmax_q, const float* nested_absmax,
                                   const float* nested_code, const float* code, float offset,
                                   int64_t rows, int64_t cols);
cudaError_t v2_nf4_dequantize_bf16(uint16_t* out, int64_t ld_out, const uint8_t* packed,
                                   const uint8_t* absmax_q, const float* nested_absmax,
                                   const float* nested_code, const float* code, float offset,
                                   int64_t rows, int64_t cols);
cudaError_t v3_nf4_dequantize_bf16(int steps, uint16_t* out, int64_t ld_out, const uint8_t* packed,
                                   const uint8_t* absmax_q, const float* nested_absmax,
                                   const float* nested_code, const float* code, float offset,
                                   int64_t rows, int64_t cols);

namespace {

namespace k = qforge::kernels;
using k::BackendBuffer;

constexpr k::Ctx kCuda{k::Device::kCuda, nullptr};

using bench::report;

size_t differing_words(const BackendBuffer& a, const BackendBuffer& b) {
    k::stream_synchronize(kCuda);
    std::vector<uint16_t> x(a.bytes() / 2), y(b.bytes() / 2);
    k::buffer_download(kCuda, x.data(), a.data(), a.bytes());
    k::buffer_download(kCuda, y.data(), b.data(), b.bytes());
    size_t n = 0;
    for (size_t i = 0; i < x.size(); i++) {
        n += x[i] != y[i] ? 1 : 0;
    }
    return n;
}

void bench_shape(int64_t rows, int64_t cols) {
    const int64_t numel = rows * cols, ld = cols + 16;
    const k::Nf4Sizes s = k::nf4_storage_sizes(numel);
    BackendBuffer w(kCuda, static_cast<size_t>(numel) * 4);
    k::random_normal(kCuda, static_cast<float*>(w.data()), numel, 0.02f, 7, 0);
    BackendBuffer packed(kCuda, s.packed_bytes), absmax_q(kCuda, s.blocks);
    BackendBuffer nested(kCuda, s.nested_blocks * 4), offset(kCuda, 4);
    BackendBuffer code(kCuda, 16 * 4), nested_code(kCuda, 256 * 4);
    k::buffer_upload(kCuda, code.data(), k::nf4_code_table(), 16 * 4);
    k::buffer_upload(kCuda, nested_code.data(), k::dynamic_map_signed(), 256 * 4);
    auto* pk = static_cast<uint8_t*>(packed.data());
    auto* aq = static_cast<uint8_t*>(absmax_q.data());
    auto* na = static_cast<float*>(nested.data());
    auto* nc = static_cast<float*>(nested_code.data());
    auto* cd = static_cast<float*>(code.data());
    k::nf4_quantize_device(kCuda, static_cast<float*>(w.data()), numel, pk, aq, na,
                           static_cast<float*>(offset.data()));
    float off = 0.0f;
    k::stream_synchronize(kCuda);
    k::buffer_download(kCuda, &off, offset.data(), 4);
    const k::Nf4View view{pk, aq, na, nc, cd, off, numel};

    const size_t out_bytes = static_cast<size_t>(rows * ld) * 2;
    BackendBuffer o1(kCuda, out_bytes), o2(kCuda, out_bytes), o3(kCuda, out_bytes);
    for (const BackendBuffer* o : {&o1, &o2, &o3}) {
        BENCH_CHECK(cudaMemset(o->data(), 0xA5, out_bytes));
    }
    const double bytes = static_cast<double>(s.packed_bytes + s.blocks + 4 * s.nested_blocks) +
                         2.0 * static_cast<double>(numel);
    char name[128];
    std::snprintf(name, sizeof name, "nf4_dequantize_bf16 %lldx%lld ld=%lld v1",
                  static_cast<long long>(rows), static_cast<long long>(cols),
                  static_cast<long long>(ld));
    auto* u1 = static_cast<uint16_t*>(o1.data());
    auto* u2 = static_cast<uint16_t*>(o2.data());
    auto* u3 = static_cast<uint16_t*>(o3.data());
    report(name, bytes, [&] {
        BENCH_CHECK(v1_nf4_dequantize_bf16(u1, ld, pk, aq, na, nc, cd, off, rows, cols));
    });
    std::snprintf(name, sizeof name, "%*s v2", 40, "");
    report(name, bytes, [&] {
        BENCH_CHECK(v2_nf4_dequantize_bf16(u2, ld, pk, aq, na, nc, cd, off, rows, cols));
    });
    for (const int steps : {8, 4}) {
        std::snprintf(name, sizeof name, "%*s v3 steps=%d", 40, "", steps);
        report(name, bytes, [&] {
            BENCH_CHECK(v3_nf4_dequantize_bf16(steps, u2, ld, pk, aq, na, nc, cd, off, rows, cols));
        });
        std::printf("  words differing: v3 steps=%d vs v1 %zu\n", steps, differing_words(o2, o1));
    }
    // o2 holds v2's words again for the comparison below
    BENCH_CHECK(v2_nf4_dequantize_bf16(u2, ld, pk, aq, na, nc, cd, off, rows, cols));
    std::snprintf(name, sizeof name, "%*s library", 40, "");
    report(name, bytes, [&] { k::nf4_dequantize_bf16(kCuda, u3, ld, view, rows, cols); });
    std::printf("  words differing: v1 vs library %zu, v2 vs library %zu (of %lld)\n",
                differing_words(o1, o3), differing_words(o2, o3),
                static_cast<long long>(rows * ld));
}

}  // namespace

int main() {
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
        std::printf("no GPU present\n");
        return 0;
    }
    bench_shape(4096, 4096);
    bench_shape(1024, 4096);
    bench_shape(14336, 4096);
    bench_shape(4096, 14336);
    return 0;
}
