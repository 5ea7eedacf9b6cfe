// What is here: the bf16 twins swiglu_forward_bf16, swiglu_backward_bf16 (bf16 inputs) and
// rmsnorm_forward_bf16 (fp32 inputs) against the fp32 ops they round. On the CPU: every value
// equals the fp32 op's value on the widened inputs (swiglu_backward's increment on zeroed
// accumulators) rounded by f32_to_bf16_bits, rstd equals rmsnorm_forward's, padding columns
// untouched; argument errors. With a GPU: the CUDA twins equal the CUDA fp32 ops (on the widened
// inputs) followed by convert_to_bf16, bit for bit (vector and scalar paths, misaligned
// pointers), and at Llama-3-8B sizes (4096 x 14336 MLP, 4096 x 4096 norm) the same, with the
// times of the twin and of the fp32 op plus the conversion. "Equal" takes +0 for -0
// (same_bf16): the references accumulate onto zeroed buffers.
#include <chrono>
#include <cstdio>
#include <gtest/gtest.h>
#include <vector>

#include "kernels/bf16.h"
#include "kernels/bf16_bits.h"
#include "kernels/cuda_test_util.h"
#include "kernels/kernel_test_util.h"
#include "kernels/memory.h"
#include "kernels/registry.h"
#include "kernels/rmsnorm.h"
#include "kernels/swiglu.h"
#include "support/test_support.h"

namespace qforge::test {
namespace {

using kernels::bf16_bits_to_f32;
using kernels::f32_to_bf16_bits;

constexpr uint16_t kPad = 0xBEEF;  // what padding columns hold before and must hold after
constexpr float kEps = 1e-5f;

// Equal words, or +0 and -0: the references of swiglu_backward_bf16 accumulate onto zeroed
// buffers, and 0 + (-0) is +0 where the twin writes the increment's -0 (an exact zero input,
// dh, gate or up, which random draws give a few times in 10^8).
bool same_bf16(uint16_t a, uint16_t b) {
    return a == b || ((a | b) & 0x7FFFu) == 0;
}

bool same_bf16(const std::vector<uint16_t>& a, const std::vector<uint16_t>& b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (size_t i = 0; i < a.size(); i++) {
        if (!same_bf16(a[i], b[i])) {
            return false;
        }
    }
    return true;
}

// out (rows, ld) must hold bf16(want[r * cols + c]) in its first cols columns and kPad after.
void expect_rounded_rows(const std::vector<uint16_t>& out, const std::vector<float>& want,
                         int64_t rows, int64_t cols, int64_t ld, const char* what) {
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t c = 0; c < ld; c++) {
            const uint16_t expect = c < cols ? f32_to_bf16_bits(want[r * cols + c]) : kPad;
            ASSERT_TRUE(same_bf16(out[r * ld + c], expect))
                << what << ": row " << r << ", column " << c << ": got " << out[r * ld + c]
                << ", want " << expect;
        }
    }
}

struct Shape {
    int64_t rows, cols, ld;
};

// The exact fp32 values of bf16 bits.
std::vector<float> widen(const std::vector<uint16_t>& bits) {
    std::vector<float> out(bits.size());
    for (size_t i = 0; i < bits.size(); i++) {
        out[i] = bf16_bits_to_f32(bits[i]);
    }
    return out;
}

TEST(SwigluBf16, CpuForwardIsTheRoundedFp32Op) {
    for (const Shape s : {Shape{7, 33, 40}, Shape{3, 64, 64}, Shape{1, 1, 1}}) {
        const int64_t n = s.rows * s.cols;
        const auto gate = random_bf16(static_cast<size_t>(n), -6.0f, 6.0f, 1);
        const auto up = random_bf16(static_cast<size_t>(n), -1.0f, 1.0f, 2);
        std::vector<float> want(static_cast<size_t>(n));
        kernels::swiglu_forward(kCpuCtx, want.data(), widen(gate).data(), widen(up).data(), n);
        std::vector<uint16_t> h(static_cast<size_t>(s.rows * s.ld), kPad);
        kernels::swiglu_forward_bf16(kCpuCtx, h.data(), s.ld, gate.data(), up.data(), s.rows,
                                     s.cols);
        expect_rounded_rows(h, want, s.rows, s.cols, s.ld, "h");
    }
    kernels::swiglu_forward_bf16(kCpuCtx, nullptr, 1, nullptr, nullptr, 0, 0);  // no work
}

TEST(SwigluBf16, CpuBackwardIsTheRoundedIncrementOnZeroedAccumulators) {
    for (const Shape s : {Shape{7, 33, 40}, Shape{3, 64, 64}, Shape{300, 130, 131}}) {
        const int64_t n = s.rows * s.cols;
        const auto dh = random_bf16(static_cast<size_t>(n), -1.0f, 1.0f, 1);
        const auto gate = random_bf16(static_cast<size_t>(n), -6.0f, 6.0f, 2);
        const auto up = random_bf16(static_cast<size_t>(n), -1.0f, 1.0f, 3);
        std::vector<float> dgate(static_cast<size_t>(n), 0.0f), dup(dgate);
        kernels::swiglu_backward(kCpuCtx, dgate.data(), dup.data(), widen(dh).data(),
                                 widen(gate).data(), widen(up).data(), n);
        std::vector<uint16_t> bg(static_cast<size_t>(s.rows * s.ld), kPad), bu(bg);
        kernels::swiglu_backward_bf16(kCpuCtx, bg.data(), bu.data(), s.ld, dh.data(), gate.data(),
                                      up.data(), s.rows, s.cols);
        expect_rounded_rows(bg, dgate, s.rows, s.cols, s.ld, "dgate");
        expect_rounded_rows(bu, dup, s.rows, s.cols, s.ld, "dup");
    }
}

TEST(RmsnormBf16, CpuForwardIsTheRoundedFp32OpWithItsRstd) {
    for (const Shape s : {Shape{7, 33, 40}, Shape{5, 256, 256}, Shape{130, 260, 270}}) {
        const auto inp = random_floats(static_cast<size_t>(s.rows * s.cols), -2.0f, 2.0f, 1);
        const auto weight = random_floats(static_cast<size_t>(s.cols), 0.5f, 1.5f, 2);
        std::vector<float> want(inp.size()), want_rstd(static_cast<size_t>(s.rows));
        kernels::rmsnorm_forward(kCpuCtx, want.data(), want_rstd.data(), inp.data(), weight.data(),
                                 s.rows, s.cols, kEps);
        std::vector<uint16_t> out(static_cast<size_t>(s.rows * s.ld), kPad);
        std::vector<float> rstd(static_cast<size_t>(s.rows), -1.0f);
        kernels::rmsnorm_forward_bf16(kCpuCtx, out.data(), s.ld, rstd.data(), inp.data(),
                                      weight.data(), s.rows, s.cols, kEps);
        expect_rounded_rows(out, want, s.rows, s.cols, s.ld, "out");
        EXPECT_EQ(rstd, want_rstd);
        std::vector<uint16_t> again(out.size(), kPad);  // rstd is optional
        kernels::rmsnorm_forward_bf16(kCpuCtx, again.data(), s.ld, nullptr, inp.data(),
                                      weight.data(), s.rows, s.cols, kEps);
        EXPECT_EQ(again, out);
    }
}

TEST(Bf16PointwiseOps, RejectBadArgumentsNamingTheOp) {
    std::vector<float> f(64, 0.5f);
    std::vector<uint16_t> h(64, 0), x(64, 0x3F00);  // x: bf16 0.5
    expect_error(
        [&] { kernels::swiglu_forward_bf16(kCpuCtx, h.data(), 4, x.data(), x.data(), 2, 8); },
        {"swiglu_forward_bf16", "ld_h (>= F) >= 8"});
    expect_error(
        [&] { kernels::swiglu_forward_bf16(kCpuCtx, h.data(), 8, x.data(), nullptr, 2, 8); },
        {"swiglu_forward_bf16", "up must not be null"});
    expect_error(
        [&] { kernels::swiglu_forward_bf16(kCpuCtx, h.data(), 8, nullptr, x.data(), 2, 8); },
        {"swiglu_forward_bf16", "gate must not be null"});
    expect_error(
        [&] { kernels::swiglu_forward_bf16(kCpuCtx, h.data(), 8, x.data(), x.data(), -1, 8); },
        {"swiglu_forward_bf16", "N >= 0"});
    expect_error(
        [&] {
            kernels::swiglu_backward_bf16(kCpuCtx, h.data(), h.data(), 7, x.data(), x.data(),
                                          x.data(), 2, 8);
        },
        {"swiglu_backward_bf16", "ld (>= F) >= 8"});
    expect_error(
        [&] {
            kernels::swiglu_backward_bf16(kCpuCtx, h.data(), nullptr, 8, x.data(), x.data(),
                                          x.data(), 2, 8);
        },
        {"swiglu_backward_bf16", "dup must not be null"});
    expect_error(
        [&] {
            kernels::swiglu_backward_bf16(kCpuCtx, h.data(), h.data(), 8, nullptr, x.data(),
                                          x.data(), 2, 8);
        },
        {"swiglu_backward_bf16", "dh must not be null"});
    expect_error(
        [&] {
            kernels::rmsnorm_forward_bf16(kCpuCtx, h.data(), 7, nullptr, f.data(), f.data(), 2, 8,
                                          kEps);
        },
        {"rmsnorm_forward_bf16", "ld_out (>= C) >= 8"});
    expect_error(
        [&] {
            kernels::rmsnorm_forward_bf16(kCpuCtx, h.data(), 8, nullptr, f.data(), f.data(), 2, 8,
                                          -1.0f);
        },
        {"rmsnorm_forward_bf16", "eps >= 0"});
    expect_error(
        [&] {
            kernels::rmsnorm_forward_bf16(kCpuCtx, h.data(), 8, nullptr, f.data(), nullptr, 2, 8,
                                          kEps);
        },
        {"rmsnorm_forward_bf16", "weight must not be null"});
}

// ---- CUDA -----------------------------------------------------------------------------------

#define SKIP_WITHOUT_GPU()                \
    if (!kernels::cuda_available()) {     \
        GTEST_SKIP() << "no GPU present"; \
    }

// One shape of the CUDA checks: `offset` elements added to every input (in) and output (out)
// pointer (1: misaligned, the scalar path).
struct CudaShape {
    int64_t rows, cols, ld, in_offset, out_offset;
};

struct Timing {
    double twin_ms, fp32_then_convert_ms;
};

// The CUDA swiglu twins (bf16 inputs) against the CUDA fp32 ops on the widened inputs plus
// convert_to_bf16 (scale 1: the rounding alone), word for word, padding included; returns both
// timings (the reference's inputs are widened before its clock starts).
Timing check_swiglu_cuda(const CudaShape& s, bool backward) {
    const int64_t n = s.rows * s.cols;
    const auto size = static_cast<size_t>(s.in_offset + n);
    const auto h_dh = random_bf16(size, -1.0f, 1.0f, 1);
    const auto h_gate = random_bf16(size, -6.0f, 6.0f, 2);
    const auto h_up = random_bf16(size, -1.0f, 1.0f, 3);
    const auto d_dh = to_device(h_dh), d_gate = to_device(h_gate), d_up = to_device(h_up);
    const uint16_t* dh = static_cast<const uint16_t*>(d_dh.data()) + s.in_offset;
    const uint16_t* gate = static_cast<const uint16_t*>(d_gate.data()) + s.in_offset;
    const uint16_t* up = static_cast<const uint16_t*>(d_up.data()) + s.in_offset;
    const auto d_fdh = to_device(widen(h_dh)), d_fgate = to_device(widen(h_gate));
    const auto d_fup = to_device(widen(h_up));
    const float* fdh = static_cast<const float*>(d_fdh.data()) + s.in_offset;
    const float* fgate = static_cast<const float*>(d_fgate.data()) + s.in_offset;
    const float* fup = static_cast<const float*>(d_fup.data()) + s.in_offset;
    const std::vector<uint16_t> pad(static_cast<size_t>(s.out_offset + s.rows * s.ld), kPad);
    auto d_a = to_device(pad), d_b = to_device(pad), d_ra = to_device(pad), d_rb = to_device(pad);
    auto out = [&](kernels::BackendBuffer& b) {
        return static_cast<uint16_t*>(b.data()) + s.out_offset;
    };
    kernels::BackendBuffer d_fa(kCudaCtx, static_cast<size_t>(n) * 4), d_fb(kCudaCtx, d_fa.bytes());
    auto* fa = static_cast<float*>(d_fa.data());
    auto* fb = static_cast<float*>(d_fb.data());

    Timing t{};
    if (backward) {
        t.twin_ms = time_ms([&] {
            kernels::swiglu_backward_bf16(kCudaCtx, out(d_a), out(d_b), s.ld, dh, gate, up, s.rows,
                                          s.cols);
        });
        t.fp32_then_convert_ms = time_ms([&] {
            kernels::buffer_zero(kCudaCtx, fa, d_fa.bytes());
            kernels::buffer_zero(kCudaCtx, fb, d_fb.bytes());
            kernels::swiglu_backward(kCudaCtx, fa, fb, fdh, fgate, fup, n);
            kernels::convert_to_bf16(kCudaCtx, out(d_ra), s.ld, fa, s.cols, s.rows, s.cols, 1.0f);
            kernels::convert_to_bf16(kCudaCtx, out(d_rb), s.ld, fb, s.cols, s.rows, s.cols, 1.0f);
        });
    } else {
        t.twin_ms = time_ms([&] {
            kernels::swiglu_forward_bf16(kCudaCtx, out(d_a), s.ld, gate, up, s.rows, s.cols);
        });
        t.fp32_then_convert_ms = time_ms([&] {
            kernels::swiglu_forward(kCudaCtx, fa, fgate, fup, n);
            kernels::convert_to_bf16(kCudaCtx, out(d_ra), s.ld, fa, s.cols, s.rows, s.cols, 1.0f);
        });
    }
    EXPECT_TRUE(same_bf16(from_device<uint16_t>(d_a), from_device<uint16_t>(d_ra)))
        << (backward ? "swiglu_backward_bf16 dgate" : "swiglu_forward_bf16")
        << ": CUDA twin differs from the CUDA fp32 op rounded, shape " << s.rows << "x" << s.cols
        << " ld " << s.ld;
    if (backward) {
        EXPECT_TRUE(same_bf16(from_device<uint16_t>(d_b), from_device<uint16_t>(d_rb)))
            << "swiglu_backward_bf16 dup: CUDA twin differs from the CUDA fp32 op rounded, shape "
            << s.rows << "x" << s.cols << " ld " << s.ld;
    }
    return t;
}

// rmsnorm_forward_bf16 on CUDA against rmsnorm_forward plus convert_to_bf16; rstd bit-identical.
Timing check_rmsnorm_cuda(const CudaShape& s) {
    const int64_t n = s.rows * s.cols;
    const auto d_inp =
        to_device(random_floats(static_cast<size_t>(s.in_offset + n), -2.0f, 2.0f, 1));
    const auto d_w =
        to_device(random_floats(static_cast<size_t>(s.in_offset + s.cols), 0.5f, 1.5f, 2));
    const float* inp = static_cast<const float*>(d_inp.data()) + s.in_offset;
    const float* w = static_cast<const float*>(d_w.data()) + s.in_offset;
    const std::vector<uint16_t> pad(static_cast<size_t>(s.out_offset + s.rows * s.ld), kPad);
    auto d_a = to_device(pad), d_ra = to_device(pad);
    uint16_t* a = static_cast<uint16_t*>(d_a.data()) + s.out_offset;
    uint16_t* ra = static_cast<uint16_t*>(d_ra.data()) + s.out_offset;
    kernels::BackendBuffer d_f(kCudaCtx, static_cast<size_t>(n) * 4);
    kernels::BackendBuffer d_rstd(kCudaCtx, static_cast<size_t>(s.rows) * 4);
    kernels::BackendBuffer d_rrstd(kCudaCtx, d_rstd.bytes());
    auto* f = static_cast<float*>(d_f.data());
    Timing t{};
    t.twin_ms = time_ms([&] {
        kernels::rmsnorm_forward_bf16(kCudaCtx, a, s.ld, static_cast<float*>(d_rstd.data()), inp, w,
                                      s.rows, s.cols, kEps);
    });
    t.fp32_then_convert_ms = time_ms([&] {
        kernels::rmsnorm_forward(kCudaCtx, f, static_cast<float*>(d_rrstd.data()), inp, w, s.rows,
                                 s.cols, kEps);
        kernels::convert_to_bf16(kCudaCtx, ra, s.ld, f, s.cols, s.rows, s.cols, 1.0f);
    });
    EXPECT_TRUE(from_device<uint16_t>(d_a) == from_device<uint16_t>(d_ra))
        << "rmsnorm_forward_bf16: CUDA twin differs from CUDA rmsnorm_forward rounded, shape "
        << s.rows << "x" << s.cols << " ld " << s.ld;
    EXPECT_TRUE(from_device<float>(d_rstd) == from_device<float>(d_rrstd))
        << "rmsnorm_forward_bf16: rstd differs from rmsnorm_forward's";
    return t;
}

const std::vector<CudaShape>& small_shapes() {
    static const std::vector<CudaShape> shapes = {
        {7, 33, 40, 0, 0},       // scalar: odd width
        {64, 1028, 1036, 0, 0},  // vector, ld > width
        {9, 36, 38, 0, 0},       // ld % 4: scalar
        {16, 256, 256, 1, 0},    // misaligned inputs: scalar
        {16, 256, 264, 0, 1},    // misaligned outputs: scalar
    };
    return shapes;
}

TEST(Bf16PointwiseCuda, TwinsEqualTheFp32OpsRoundedBitForBit) {
    SKIP_WITHOUT_GPU();
    for (const auto& s : small_shapes()) {
        check_swiglu_cuda(s, false);
        check_swiglu_cuda(s, true);
        check_rmsnorm_cuda(s);
    }
}

// The Llama-3-8B MLP (4096 tokens x 14336) and norm (4096 x 4096, rows padded by a LoRA rank
// of 16 as the fused path's concatenated operand), bit-exact against the fp32 ops rounded.
TEST(Bf16PointwiseCuda, LlamaSizedTwinsMatchAndReportTimes) {
    SKIP_WITHOUT_GPU();
    const CudaShape mlp{4096, 14336, 14336, 0, 0};
    const Timing fwd = check_swiglu_cuda(mlp, false);
    const Timing bwd = check_swiglu_cuda(mlp, true);
    const Timing norm = check_rmsnorm_cuda({4096, 4096, 4096 + 16, 0, 0});
    const double n = 4096.0 * 14336.0;
    // Bytes moved by the twins: 2 bytes per bf16 value read or written.
    const double fwd_gb = n * (4.0 + 2.0) / 1e9, bwd_gb = n * (6.0 + 4.0) / 1e9;
    const double norm_gb = 4096.0 * 4096.0 * (4.0 + 2.0) / 1e9;
    std::printf(
        "[bf16 pointwise] swiglu_forward_bf16 4096x14336 %.3f ms (%.0f GB/s; fp32 op on fp32 "
        "inputs + convert %.3f ms), swiglu_backward_bf16 %.3f ms (%.0f GB/s; zero + fp32 op + 2 "
        "converts %.3f ms), rmsnorm_forward_bf16 4096x4096 %.3f ms (%.0f GB/s; fp32 op + convert "
        "%.3f ms)\n",
        fwd.twin_ms, fwd_gb / fwd.twin_ms * 1e3, fwd.fp32_then_convert_ms, bwd.twin_ms,
        bwd_gb / bwd.twin_ms * 1e3, bwd.fp32_then_convert_ms, norm.twin_ms,
        norm_gb / norm.twin_ms * 1e3, norm.fp32_then_convert_ms);
    // One pass over fewer bytes than the two-kernel route: the twin must not be slower.
    EXPECT_LT(fwd.twin_ms, fwd.fp32_then_convert_ms);
    EXPECT_LT(bwd.twin_ms, bwd.fp32_then_convert_ms);
}

}  // namespace
}  // namespace qforge::test
