// What is here: dense_cuda_bench, the CUDA flash attention (forward, backward) and the cuBLASLt
// GEMM in each math mode, timed at Llama sizes through the same kernels/ calls the trainer makes.
// Prints TFLOP/s with the FLOP counts written out:
//   attention forward, causal: 4 B Hq T^2 D / 2       (QK^T and PV, 2 FLOPs per MAC, half masked)
//   attention backward:        2.5 x forward          (S and dP recomputed, dV, dK, dQ: 5 matmuls)
//   gemm (M,N,K):              2 M N K
// Timing: 2 warm-up calls, then the mean of `iters` calls between two stream synchronizations.
#include <chrono>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "kernels/attention.h"
#include "kernels/bf16.h"
#include "kernels/gemm.h"
#include "kernels/memory.h"

namespace {

using qforge::kernels::BackendBuffer;
using qforge::kernels::Ctx;
using qforge::kernels::Device;

constexpr Ctx kCuda{Device::kCuda, nullptr};

BackendBuffer random_buffer(int64_t n, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    std::vector<float> host(static_cast<size_t>(n));
    for (auto& x : host) {
        x = dist(rng);
    }
    BackendBuffer buf(kCuda, host.size() * sizeof(float));
    qforge::kernels::buffer_upload(kCuda, buf.data(), host.data(), host.size() * sizeof(float));
    return buf;
}

float* f(const BackendBuffer& b) {
    return static_cast<float*>(b.data());
}

// Mean seconds per call of fn.
double time_calls(const std::function<void()>& fn, int iters) {
    fn();
    fn();
    qforge::kernels::stream_synchronize(kCuda);
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < iters; i++) {
        fn();
    }
    qforge::kernels::stream_synchronize(kCuda);
    const auto t1 = std::chrono::steady_clock::now();
    return std::chrono::duration<double>(t1 - t0).count() / iters;
}

void bench_attention(const char* name, int64_t B, int64_t T, int64_t Hq, int64_t Hkv, int64_t D,
                     qforge::kernels::AttentionImpl impl) {
    qforge::kernels::set_cuda_attention_impl(impl);
    const char* mode = impl == qforge::kernels::AttentionImpl::kTensorCores ? "tensor-cores"
                       : impl == qforge::kernels::AttentionImpl::kBf16      ? "bf16-mma"
                                                                            : "cuda-cores";
    auto q = random_buffer(B * T * Hq * D, 1), k = random_buffer(B * T * Hkv * D, 2);
    auto v = random_buffer(B * T * Hkv * D, 3), dout = random_buffer(B * T * Hq * D, 4);
    BackendBuffer out(kCuda, B * T * Hq * D * 4), lse(kCuda, B * Hq * T * 4);
    BackendBuffer dq(kCuda, B * T * Hq * D * 4), dk(kCuda, B * T * Hkv * D * 4),
        dv(kCuda, B * T * Hkv * D * 4);
    auto p = qforge::kernels::make_attn_params_contiguous(f(out), f(lse), f(q), f(k), f(v), nullptr,
                                                          B, T, Hq, Hkv, D);
    const double fwd_flops = 4.0 * B * Hq * T * T * D / 2.0;
    const double bwd_flops = 2.5 * fwd_flops;
    const double t_fwd = time_calls([&] { qforge::kernels::attention_forward(kCuda, p); }, 10);
    const double t_bwd = time_calls(
        [&] { qforge::kernels::attention_backward(kCuda, p, f(dq), f(dk), f(dv), f(dout)); }, 10);
    std::printf(
        "attention %-12s %-13s B=%lld T=%lld Hq=%lld Hkv=%lld D=%lld: fwd %.3f ms %.1f TFLOP/s | "
        "bwd "
        "%.3f ms %.1f TFLOP/s | fwd+bwd %.3f ms %.1f TFLOP/s\n",
        mode, name, static_cast<long long>(B), static_cast<long long>(T),
        static_cast<long long>(Hq), static_cast<long long>(Hkv), static_cast<long long>(D),
        t_fwd * 1e3, fwd_flops / t_fwd * 1e-12, t_bwd * 1e3, bwd_flops / t_bwd * 1e-12,
        (t_fwd + t_bwd) * 1e3, (fwd_flops + bwd_flops) / (t_fwd + t_bwd) * 1e-12);
}

// attention_forward_bf16 / attention_backward_bf16 (bf16 q, k, v, out, dout; fp32 lse, dq, dk,
// dv), same FLOP counts.
void bench_attention_bf16(const char* name, int64_t B, int64_t T, int64_t Hq, int64_t Hkv,
                          int64_t D, qforge::kernels::AttentionImpl impl) {
    qforge::kernels::set_cuda_attention_impl(impl);
    const char* mode = impl == qforge::kernels::AttentionImpl::kBf16MmaSync ? "bf16-api-mma"
                       : qforge::kernels::cuda_attention_wgmma()            ? "bf16-api-wgmma"
                                                                            : "bf16-api";
    auto bf16_of = [&](int64_t n, uint64_t seed) {
        auto x = random_buffer(n, seed);
        BackendBuffer b(kCuda, n * 2);
        qforge::kernels::convert_to_bf16(kCuda, static_cast<uint16_t*>(b.data()), n, f(x), n, 1, n,
                                         1.0f);
        return b;
    };
    auto u = [](const BackendBuffer& b) {
        return static_cast<uint16_t*>(b.data());
    };
    auto q = bf16_of(B * T * Hq * D, 1), k = bf16_of(B * T * Hkv * D, 2);
    auto v = bf16_of(B * T * Hkv * D, 3), dout = bf16_of(B * T * Hq * D, 4);
    BackendBuffer out(kCuda, B * T * Hq * D * 2), lse(kCuda, B * Hq * T * 4);
    BackendBuffer dq(kCuda, B * T * Hq * D * 4), dk(kCuda, B * T * Hkv * D * 4),
        dv(kCuda, B * T * Hkv * D * 4);
    const qforge::kernels::AttnBf16Params p{u(out),  Hq * D,  f(lse), u(q), Hq * D, u(k), u(v),
                                            Hkv * D, nullptr, B,      T,    Hq,     Hkv,  D};
    const double fwd_flops = 4.0 * B * Hq * T * T * D / 2.0;
    const double bwd_flops = 2.5 * fwd_flops;
    const double t_fwd = time_calls([&] { qforge::kernels::attention_forward_bf16(kCuda, p); }, 10);
    const double t_bwd = time_calls(
        [&] {
            qforge::kernels::attention_backward_bf16(kCuda, p, f(dq), f(dk), f(dv), u(dout),
                                                     Hq * D);
        },
        10);
    std::printf(
        "attention %-12s %-13s B=%lld T=%lld Hq=%lld Hkv=%lld D=%lld: fwd %.3f ms %.1f TFLOP/s | "
        "bwd %.3f ms %.1f TFLOP/s | fwd+bwd %.3f ms %.1f TFLOP/s\n",
        mode, name, static_cast<long long>(B), static_cast<long long>(T),
        static_cast<long long>(Hq), static_cast<long long>(Hkv), static_cast<long long>(D),
        t_fwd * 1e3, fwd_flops / t_fwd * 1e-12, t_bwd * 1e3, bwd_flops / t_bwd * 1e-12,
        (t_fwd + t_bwd) * 1e3, (fwd_flops + bwd_flops) / (t_fwd + t_bwd) * 1e-12);
}

void bench_gemm(int64_t M, int64_t N, int64_t K) {
    auto A = random_buffer(M * K, 5), B = random_buffer(K * N, 6);
    BackendBuffer C(kCuda, M * N * 4);
    const double flops = 2.0 * M * N * K;

    const struct {
        qforge::kernels::GemmMath math;
        const char* name;
    } modes[] = {{qforge::kernels::GemmMath::kTf32, "tf32"},
                 {qforge::kernels::GemmMath::kBf16, "bf16 (incl. rounding copies)"},
                 {qforge::kernels::GemmMath::kFp32, "fp32"}};

    for (const auto& m : modes) {
        qforge::kernels::set_cuda_gemm_math(m.math);
        const double t = time_calls(
            [&] {
                qforge::kernels::gemm(kCuda, false, false, M, N, K, 1.0f, f(A), K, f(B), N, 0.0f,
                                      f(C), N);
            },
            5);
        std::printf("gemm %lldx%lldx%lld %-28s %.3f ms %.1f TFLOP/s\n", static_cast<long long>(M),
                    static_cast<long long>(N), static_cast<long long>(K), m.name, t * 1e3,
                    flops / t * 1e-12);
    }
    qforge::kernels::set_cuda_gemm_math(qforge::kernels::GemmMath::kTf32);
}

}  // namespace

int main() {
    if (!qforge::kernels::cuda_available()) {
        std::printf("dense_cuda_bench: no GPU present\n");
        return 0;
    }
    // cuda-cores: the fp32 kernels; tensor-cores: TF32 wmma; bf16-mma (the default): bf16
    // mma.sync flash attention (head_dim 64/128).
    using qforge::kernels::AttentionImpl;
    for (const auto impl :
         {AttentionImpl::kCudaCores, AttentionImpl::kTensorCores, AttentionImpl::kBf16}) {
        bench_attention("Llama-3-8B", 1, 2048, 32, 8, 128, impl);
        bench_attention("Llama-3.2-1B", 1, 2048, 32, 8, 64, impl);
    }
    bench_attention("Llama-3-8B", 1, 8192, 32, 8, 128, AttentionImpl::kBf16);
    // The bf16 entry points (no fp32 -> bf16 copies, bf16 out), and both APIs at B = 2.
    bench_attention("Llama-3-8B", 2, 2048, 32, 8, 128, AttentionImpl::kBf16);
    // bf16-api-mma: mma.sync everywhere; bf16-api-wgmma: the default, whose forward runs on
    // wgmma on Hopper (sm_90a builds).
    for (const auto impl : {AttentionImpl::kBf16MmaSync, AttentionImpl::kBf16}) {
        bench_attention_bf16("Llama-3-8B", 1, 2048, 32, 8, 128, impl);
        bench_attention_bf16("Llama-3-8B", 2, 2048, 32, 8, 128, impl);
        bench_attention_bf16("Llama-3.2-1B", 1, 2048, 32, 8, 64, impl);
        bench_attention_bf16("Llama-3-8B", 1, 8192, 32, 8, 128, impl);
    }
    // The wgmma backward with 1, 2 and 4 query heads a block (the default picks by grid size).
    if (qforge::kernels::cuda_attention_wgmma()) {
        for (const int heads : {1, 2, 4}) {
            qforge::kernels::set_cuda_attention_wgmma_heads(heads);
            const std::string name = "8B " + std::to_string(heads) + " heads";
            bench_attention_bf16(name.c_str(), 1, 2048, 32, 8, 128, AttentionImpl::kBf16);
            bench_attention_bf16(name.c_str(), 2, 2048, 32, 8, 128, AttentionImpl::kBf16);
        }
        qforge::kernels::set_cuda_attention_wgmma_heads(0);
    }
    bench_attention("stories260K", 32, 256, 8, 4, 8, AttentionImpl::kCudaCores);
    qforge::kernels::set_cuda_attention_impl(AttentionImpl::kBf16);
    bench_gemm(4096, 4096, 14336);
    return 0;
}
