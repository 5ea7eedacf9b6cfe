// What is here: pointwise_cuda_bench, the CUDA kernels of kernels/cuda/pointwise.h (norms,
// pointwise, cross-entropy, embedding, optimizer, dropout, NF4, random init) timed at
// Llama-3-8B sizes (hidden 4096, FFN 14336, vocab 128256, 32 heads of 128) through the same
// kernels/ calls the trainer makes. These ops are memory-bound, so each line prints the bytes
// one call must move at least (each input read once, each output written once; a += output
// counts twice) and that over the time, in GB/s, beside the H100 SXM's 3350 GB/s HBM3 peak.
// Timing: 2 warm-up calls, then the mean of `iters` calls between two stream synchronizations.
#include <chrono>
#include <cstdio>
#include <functional>
#include <random>
#include <vector>

#include "kernels/adamw.h"
#include "kernels/cross_entropy.h"
#include "kernels/dropout.h"
#include "kernels/embedding.h"
#include "kernels/gelu.h"
#include "kernels/layernorm.h"
#include "kernels/memory.h"
#include "kernels/nf4.h"
#include "kernels/random.h"
#include "kernels/rmsnorm.h"
#include "kernels/rope.h"
#include "kernels/swiglu.h"

namespace {

namespace k = qforge::kernels;
using k::BackendBuffer;

constexpr k::Ctx kCuda{k::Device::kCuda, nullptr};
constexpr double kPeakGBs = 3350.0;

BackendBuffer random_buffer(int64_t n, uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
    BackendBuffer buf(kCuda, static_cast<size_t>(n) * sizeof(float));
    k::random_normal(kCuda, static_cast<float*>(buf.data()), n, 1.0f, seed, 0);
    if (lo >= 0.0f) {  // a positive range (v of AdamW): fill on the host
        std::mt19937_64 rng(seed);
        std::uniform_real_distribution<float> dist(lo, hi);
        std::vector<float> host(static_cast<size_t>(n));
        for (auto& x : host) {
            x = dist(rng);
        }
        k::buffer_upload(kCuda, buf.data(), host.data(), host.size() * sizeof(float));
    }
    return buf;
}

BackendBuffer int_buffer(int64_t n, int32_t hi, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<int32_t> dist(0, hi - 1);
    std::vector<int32_t> host(static_cast<size_t>(n));
    for (auto& x : host) {
        x = dist(rng);
    }
    BackendBuffer buf(kCuda, host.size() * sizeof(int32_t));
    k::buffer_upload(kCuda, buf.data(), host.data(), host.size() * sizeof(int32_t));
    return buf;
}

float* f(const BackendBuffer& b) {
    return static_cast<float*>(b.data());
}

int32_t* i32(const BackendBuffer& b) {
    return static_cast<int32_t*>(b.data());
}

uint8_t* u8(const BackendBuffer& b) {
    return static_cast<uint8_t*>(b.data());
}

// Mean seconds per call of fn.
double time_calls(const std::function<void()>& fn, int iters) {
    fn();
    fn();
    k::stream_synchronize(kCuda);
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < iters; i++) {
        fn();
    }
    k::stream_synchronize(kCuda);
    const auto t1 = std::chrono::steady_clock::now();
    return std::chrono::duration<double>(t1 - t0).count() / iters;
}

void report(const char* name, double bytes, const std::function<void()>& fn, int iters = 20) {
    const double t = time_calls(fn, iters);
    const double gbs = bytes / t * 1e-9;
    std::printf("%-52s %9.3f ms %8.1f GB/s %5.1f%% of peak\n", name, t * 1e3, gbs,
                100.0 * gbs / kPeakGBs);
}

}  // namespace

int main() {
    if (!k::cuda_available()) {
        std::printf("no GPU present\n");
        return 0;
    }
    const int64_t N = 4096, C = 4096, F = 14336, V = 128256, H = 32, D = 128;
    constexpr double W = 4.0;  // bytes per fp32

    {
        auto x = random_buffer(N * C, 1), w = random_buffer(C, 2), out = random_buffer(N * C, 3);
        auto rstd = random_buffer(N, 4), dout = random_buffer(N * C, 5);
        auto dinp = random_buffer(N * C, 6), dw = random_buffer(C, 7);
        report("rmsnorm_forward N=4096 C=4096", 2 * N * C * W,
               [&] { k::rmsnorm_forward(kCuda, f(out), f(rstd), f(x), f(w), N, C, 1e-5f); });
        report("rmsnorm_backward dinp only", 4 * N * C * W, [&] {
            k::rmsnorm_backward(kCuda, f(dinp), nullptr, f(dout), f(x), f(w), f(rstd), N, C);
        });
        report("rmsnorm_backward dinp + dweight", 4 * N * C * W, [&] {
            k::rmsnorm_backward(kCuda, f(dinp), f(dw), f(dout), f(x), f(w), f(rstd), N, C);
        });
        auto mean = random_buffer(N, 8), bias = random_buffer(C, 9);
        report("layernorm_forward N=4096 C=4096", 2 * N * C * W, [&] {
            k::layernorm_forward(kCuda, f(out), f(mean), f(rstd), f(x), f(w), f(bias), N, C,
                                 1e-12f);
        });
        report("layernorm_backward dinp + dweight + dbias", 4 * N * C * W, [&] {
            k::layernorm_backward(kCuda, f(dinp), f(dw), f(dw), f(dout), f(x), f(w), f(mean),
                                  f(rstd), N, C);
        });
        report("dropout_forward n=N*C p=0.1", 2 * N * C * W,
               [&] { k::dropout_forward(kCuda, f(out), f(x), N * C, 0.1f, 1, 2); });
        report("gelu_forward n=N*C", 2 * N * C * W,
               [&] { k::gelu_forward(kCuda, f(out), f(x), N * C); });
        auto table = random_buffer(V * C, 10);
        auto ids = int_buffer(N, static_cast<int32_t>(V), 11);
        report("embedding_forward N=4096 C=4096 (+ id check sync)", 2 * N * C * W,
               [&] { k::embedding_forward(kCuda, f(out), i32(ids), f(table), N, C, V); });
        report(
            "embedding_backward N=4096 C=4096", 3 * N * C * W,
            [&] { k::embedding_backward(kCuda, f(table), f(dout), i32(ids), N, C); }, 3);
        auto pos = int_buffer(N, 8192, 12);
        auto cos = random_buffer(8192 * D / 2, 13), sin = random_buffer(8192 * D / 2, 14);
        report("rope_forward N=4096 H=32 D=128", 2 * N * H * D * W,
               [&] { k::rope_forward(kCuda, f(x), i32(pos), f(cos), f(sin), N, H, D); });
    }
    {
        auto gate = random_buffer(N * F, 20), up = random_buffer(N * F, 21);
        auto out = random_buffer(N * F, 22), dout = random_buffer(N * F, 23);
        report("swiglu_forward n=4096*14336", 3 * N * F * W,
               [&] { k::swiglu_forward(kCuda, f(out), f(gate), f(up), N * F); });
        report("swiglu_backward (dgate, dup +=)", 7 * N * F * W,
               [&] { k::swiglu_backward(kCuda, f(out), f(dout), f(dout), f(gate), f(up), N * F); });
        // bf16 (the fused train step's): random fp32 bits read as pairs of bf16 values; gate, up,
        // dh in, dgate, dup out with 16 spare columns (the LoRA dU), as the step lays them out
        {
            const int64_t R = 16, ld = F + R;
            auto b16 = [](BackendBuffer& b) {
                return static_cast<uint16_t*>(b.data());
            };
            auto dg = random_buffer(N * ld / 2, 24), du = random_buffer(N * ld / 2, 25);
            auto dA = random_buffer(R * F, 26);
            BackendBuffer partials(kCuda, sizeof(float) * k::swiglu_lora_partials(N, F, R));
            report("swiglu_backward_bf16 n=4096*14336", 5 * N * F * 2.0, [&] {
                k::swiglu_backward_bf16(kCuda, b16(dg), b16(du), ld, b16(dout), b16(gate), b16(up),
                                        N, F);
            });
            report("swiglu_backward_bf16_lora (+ down dA, r=16)", 5 * N * F * 2.0, [&] {
                k::swiglu_backward_bf16_lora(kCuda, b16(dg), b16(du), ld, b16(dout), b16(gate),
                                             b16(up), N, F, b16(dg) + F, ld, R, f(dA), F,
                                             f(partials));
            });
        }
        const k::Nf4Sizes s = k::nf4_storage_sizes(C * F);
        BackendBuffer packed(kCuda, s.packed_bytes), absmax_q(kCuda, s.blocks);
        BackendBuffer nested(kCuda, s.nested_blocks * 4), offset(kCuda, 4);
        BackendBuffer code(kCuda, 16 * 4), nested_code(kCuda, 256 * 4);
        k::buffer_upload(kCuda, code.data(), k::nf4_code_table(), 16 * 4);
        k::buffer_upload(kCuda, nested_code.data(), k::dynamic_map_signed(), 256 * 4);
        const double nf4_bytes = static_cast<double>(s.packed_bytes + s.blocks) + C * F * W;
        report("nf4_quantize_device numel=4096*14336", nf4_bytes, [&] {
            k::nf4_quantize_device(kCuda, f(gate), C * F, u8(packed), u8(absmax_q), f(nested),
                                   f(offset));
        });
        float off = 0.0f;
        k::stream_synchronize(kCuda);
        k::buffer_download(kCuda, &off, offset.data(), 4);
        const k::Nf4View view{u8(packed), u8(absmax_q), f(nested), f(nested_code),
                              f(code),    off,          C * F};
        report("nf4_dequantize numel=4096*14336", nf4_bytes,
               [&] { k::nf4_dequantize(kCuda, f(out), view); });
    }
    {
        const int64_t NL = 2048;
        auto logits = random_buffer(NL * V, 30);
        auto targets = int_buffer(NL, static_cast<int32_t>(V), 31);
        auto losses = random_buffer(NL, 32), lse = random_buffer(NL, 33);
        auto dloss = random_buffer(NL, 34), dlogits = random_buffer(NL * V, 35);
        report("cross_entropy_forward N=2048 V=128256 (+ sync)", NL * V * W, [&] {
            k::cross_entropy_forward(kCuda, f(losses), f(lse), f(logits), i32(targets), NL, V);
        });
        report("cross_entropy_backward (lse given)", 2 * NL * V * W, [&] {
            k::cross_entropy_backward(kCuda, f(dlogits), f(logits), f(lse), i32(targets), f(dloss),
                                      NL, V);
        });
        report("cross_entropy_backward in place, lse recomputed", 3 * NL * V * W, [&] {
            k::cross_entropy_backward(kCuda, f(logits), f(logits), nullptr, i32(targets), f(dloss),
                                      NL, V);
        });
    }
    {
        const int64_t P = 40'000'000;  // LoRA parameters (r = 64 on every projection of 8B: ~168M)
        auto p = random_buffer(P, 40), g = random_buffer(P, 41), m = random_buffer(P, 42);
        auto v = random_buffer(P, 43, 1e-4f, 1e-2f);
        const k::AdamWParams ap{1e-4f, 0.9f, 0.999f, 1e-8f, 0.01f, 1.0f, 10};
        report("adamw_update n=40M", 7 * P * W,
               [&] { k::adamw_update(kCuda, f(p), f(g), f(m), f(v), P, ap); });
        report("sum_of_squares n=40M (+ sync)", P * W,
               [&] { (void)k::sum_of_squares(kCuda, f(g), P); });
        report("random_normal n=40M", P * W,
               [&] { k::random_normal(kCuda, f(p), P, 0.02f, 7, 8); });
    }
    return 0;
}
