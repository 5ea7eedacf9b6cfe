// What is here: attention_forward_bf16 / attention_backward_bf16 (bf16 token-major tensors with
// row strides). On the CPU: the reference is exactly the fp32 op on the widened inputs with out
// rounded to nearest even, bit for bit, and the padding of every row is left alone. On a GPU
// (skipped without one): against the CPU twin by norm-wise relative error, forward and backward,
// over D = 128 / 64 (the mma kernels, straight from the bf16 tensors), D = 8 (stories260K's
// head_dim), odd T, GQA and MHA, segments, padded rows, and a stride that sends D = 64 to the
// widening fallback; and against the GPU's own fp32 API on the widened inputs (same kernels, so
// the forward must agree bit for bit, except where kBf16 runs on wgmma: then out to 4e-3 and the
// gradients to 1e-3). Every GPU shape runs under kBf16 and kBf16MmaSync.
#include <cmath>
#include <cstdint>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/attention.h"
#include "kernels/bf16_bits.h"
#include "kernels/cuda_test_util.h"
#include "kernels/kernel_test_util.h"
#include "support/test_support.h"

namespace qforge::test {
namespace {

using kernels::AttnBf16Params;

// Fills every padding word (past H*D in a row) and the unwritten out: finite and huge, so an op
// that read it would be far off.
constexpr uint16_t kPadWord = 0x5A5A;

struct Bf16Shape {
    int64_t B, T, Hq, Hkv, D;
    int segments;  // 0: none; 1: documents of 1..40 tokens; 2: of 20..250 (whole tiles skipped)
    int64_t q_pad, kv_pad, out_pad, dout_pad;  // elements past H*D in each token row
};

std::string shape_name(const Bf16Shape& s) {
    return fmt::format("B{}_T{}_Hq{}_Hkv{}_D{}{}_pad{}_{}_{}_{}", s.B, s.T, s.Hq, s.Hkv, s.D,
                       s.segments == 2   ? "_longseg"
                       : s.segments == 1 ? "_seg"
                                         : "",
                       s.q_pad, s.kv_pad, s.out_pad, s.dout_pad);
}

void PrintTo(const Bf16Shape& s, std::ostream* os) {
    *os << shape_name(s);
}

// Rows of `cols` random non-zero bf16 values, `rs` words apart (padding: kPadWord).
std::vector<uint16_t> padded_rows(int64_t rows, int64_t cols, int64_t rs, uint64_t salt) {
    const auto values = random_bf16(static_cast<size_t>(rows * cols), -1.0f, 1.0f, salt);
    std::vector<uint16_t> x(static_cast<size_t>(rows * rs), kPadWord);
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t c = 0; c < cols; c++) {
            x[r * rs + c] = values[r * cols + c];
        }
    }
    return x;
}

// The fp32 values of padded bf16 rows, dense (rows, cols).
std::vector<float> widened(const std::vector<uint16_t>& x, int64_t rows, int64_t cols, int64_t rs) {
    std::vector<float> w(static_cast<size_t>(rows * cols));
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t c = 0; c < cols; c++) {
            w[r * cols + c] = kernels::bf16_bits_to_f32(x[r * rs + c]);
        }
    }
    return w;
}

std::vector<double> widened_d(const std::vector<uint16_t>& x, int64_t rows, int64_t cols,
                              int64_t rs) {
    return to_double(widened(x, rows, cols, rs));
}

struct Bf16Data {
    Bf16Shape s;
    int64_t rows, qrs, kvrs, ors, dors;
    std::vector<uint16_t> q, k, v, out, dout;
    std::vector<float> lse;
    std::vector<int32_t> seg;

    explicit Bf16Data(const Bf16Shape& shape) : s(shape), rows(shape.B * shape.T) {
        qrs = s.Hq * s.D + s.q_pad;
        kvrs = s.Hkv * s.D + s.kv_pad;
        ors = s.Hq * s.D + s.out_pad;
        dors = s.Hq * s.D + s.dout_pad;
        q = padded_rows(rows, s.Hq * s.D, qrs, 11);
        k = padded_rows(rows, s.Hkv * s.D, kvrs, 12);
        v = padded_rows(rows, s.Hkv * s.D, kvrs, 13);
        dout = padded_rows(rows, s.Hq * s.D, dors, 14);
        out.assign(static_cast<size_t>(rows * ors), kPadWord);
        lse.assign(static_cast<size_t>(s.B * s.Hq * s.T), std::nanf(""));
        if (s.segments != 0) {
            seg.resize(static_cast<size_t>(rows));
            for (int64_t b = 0; b < s.B; b++) {
                for (int64_t t = 0; t < s.T; t++) {
                    // 1..40 tokens: several per 64-row tile, some across; or 150, 20, 250, then
                    // 200 each: tiles of one document, pairs of tiles the kernels skip
                    const int64_t id = s.segments == 1 ? (t * t / 37 + t) / 23
                                       : t < 150       ? 0
                                       : t < 170       ? 1
                                       : t < 420       ? 2
                                                       : 3 + (t - 420) / 200;
                    seg[b * s.T + t] = static_cast<int32_t>(id + 5 * b);
                }
            }
        }
    }

    AttnBf16Params params(uint16_t* o, float* l, const uint16_t* qp, const uint16_t* kp,
                          const uint16_t* vp, const int32_t* sp) const {
        AttnBf16Params p{};
        p.out = o;
        p.out_row_stride = ors;
        p.lse = l;
        p.q = qp;
        p.q_row_stride = qrs;
        p.k = kp;
        p.v = vp;
        p.kv_row_stride = kvrs;
        p.segment_ids = sp;
        p.B = s.B;
        p.T = s.T;
        p.Hq = s.Hq;
        p.Hkv = s.Hkv;
        p.D = s.D;
        return p;
    }

    AttnBf16Params host_params() {
        return params(out.data(), lse.data(), q.data(), k.data(), v.data(),
                      seg.empty() ? nullptr : seg.data());
    }

    // The fp32 op's params over widened copies (wq, wk, wv, wout owned by the caller).
    kernels::AttnParams wide_params(std::vector<float>& wout, std::vector<float>& wlse,
                                    const std::vector<float>& wq, const std::vector<float>& wk,
                                    const std::vector<float>& wv, const int32_t* sp) const {
        return kernels::make_attn_params_contiguous(wout.data(), wlse.data(), wq.data(), wk.data(),
                                                    wv.data(), sp, s.B, s.T, s.Hq, s.Hkv, s.D);
    }
};

// Every word past H*D of every row is still the padding word.
void expect_padding_kept(const std::vector<uint16_t>& x, int64_t rows, int64_t cols, int64_t rs,
                         const char* what) {
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t c = cols; c < rs; c++) {
            ASSERT_EQ(x[r * rs + c], kPadWord) << what << " padding written at row " << r;
        }
    }
}

TEST(AttentionBf16, CpuIsTheFp32OpOnWidenedInputs) {
    for (const Bf16Shape& s :
         {Bf16Shape{2, 37, 4, 2, 8, 0, 3, 5, 16, 1}, Bf16Shape{1, 70, 4, 1, 64, 1, 8, 0, 8, 0}}) {
        Bf16Data a(s);
        const int64_t nq = a.rows * s.Hq * s.D, nkv = a.rows * s.Hkv * s.D;
        const int32_t* seg = a.seg.empty() ? nullptr : a.seg.data();
        kernels::attention_forward_bf16(kCpuCtx, a.host_params());
        auto wq = widened(a.q, a.rows, s.Hq * s.D, a.qrs);
        auto wk = widened(a.k, a.rows, s.Hkv * s.D, a.kvrs);
        auto wv = widened(a.v, a.rows, s.Hkv * s.D, a.kvrs);
        std::vector<float> wout(static_cast<size_t>(nq)), wlse(a.lse.size());
        kernels::attention_forward(kCpuCtx, a.wide_params(wout, wlse, wq, wk, wv, seg));
        for (int64_t r = 0; r < a.rows; r++) {
            for (int64_t c = 0; c < s.Hq * s.D; c++) {
                ASSERT_EQ(a.out[r * a.ors + c], kernels::f32_to_bf16_bits(wout[r * s.Hq * s.D + c]))
                    << shape_name(s) << " out row " << r << " col " << c;
            }
        }
        expect_padding_kept(a.out, a.rows, s.Hq * s.D, a.ors, "out");
        EXPECT_EQ(a.lse, wlse) << shape_name(s);

        // Backward: dq, dk, dv (random pre-fills: +=) equal the fp32 op's on the widened inputs.
        const auto dq0 = random_floats(static_cast<size_t>(nq), -1, 1, 21);
        const auto dk0 = random_floats(static_cast<size_t>(nkv), -1, 1, 22);
        const auto dv0 = random_floats(static_cast<size_t>(nkv), -1, 1, 23);
        auto dq = dq0, dk = dk0, dv = dv0, wdq = dq0, wdk = dk0, wdv = dv0;
        kernels::attention_backward_bf16(kCpuCtx, a.host_params(), dq.data(), dk.data(), dv.data(),
                                         a.dout.data(), a.dors);
        const auto wdout = widened(a.dout, a.rows, s.Hq * s.D, a.dors);
        kernels::attention_backward(kCpuCtx, a.wide_params(wout, wlse, wq, wk, wv, seg), wdq.data(),
                                    wdk.data(), wdv.data(), wdout.data());
        EXPECT_EQ(dq, wdq) << shape_name(s);
        EXPECT_EQ(dk, wdk) << shape_name(s);
        EXPECT_EQ(dv, wdv) << shape_name(s);
        EXPECT_NE(dq, dq0) << "the backward added nothing";
    }
}

TEST(AttentionBf16, RejectsInconsistentParams) {
    Bf16Data a(Bf16Shape{1, 4, 4, 2, 8, 0, 0, 0, 0, 0});
    auto p = a.host_params();
    p.q_row_stride = 31;
    expect_error([&] { kernels::attention_forward_bf16(kCpuCtx, p); },
                 {"attention_forward_bf16", "q_row_stride", "32"});
    p = a.host_params();
    p.out_row_stride = 8;
    expect_error([&] { kernels::attention_forward_bf16(kCpuCtx, p); }, {"out_row_stride"});
    p = a.host_params();
    p.kv_row_stride = 15;
    expect_error([&] { kernels::attention_forward_bf16(kCpuCtx, p); }, {"kv_row_stride", "16"});
    p = a.host_params();
    p.Hkv = 3;
    expect_error([&] { kernels::attention_forward_bf16(kCpuCtx, p); }, {"multiple of Hkv (3)"});
    std::vector<float> dq(a.rows * 32);
    p = a.host_params();
    expect_error(
        [&] {
            kernels::attention_backward_bf16(kCpuCtx, p, dq.data(), nullptr, nullptr, a.dout.data(),
                                             16);
        },
        {"attention_backward_bf16", "dout_row_stride"});
    p.lse = nullptr;
    expect_error(
        [&] {
            kernels::attention_backward_bf16(kCpuCtx, p, dq.data(), nullptr, nullptr, a.dout.data(),
                                             32);
        },
        {"attention_backward_bf16", "lse"});
}

// ---- GPU ------------------------------------------------------------------------------------

const uint16_t* u16(const kernels::BackendBuffer& b) {
    return static_cast<const uint16_t*>(b.data());
}

uint16_t* u16m(kernels::BackendBuffer& b) {
    return static_cast<uint16_t*>(b.data());
}

float* f32(kernels::BackendBuffer& b) {
    return static_cast<float*>(b.data());
}

// kBf16 (the forward on wgmma where the GPU has it) and kBf16MmaSync (mma.sync everywhere).
class AttentionBf16Gpu
    : public ::testing::TestWithParam<std::tuple<Bf16Shape, kernels::AttentionImpl>> {};

TEST_P(AttentionBf16Gpu, MatchesCpuTwinAndFp32Api) {
    if (!kernels::cuda_available()) {
        GTEST_SKIP() << "no GPU present";
    }
    const auto [s, impl] = GetParam();
    AttentionImplGuard guard;
    kernels::set_cuda_attention_impl(impl);
    Bf16Data a(s);
    const int64_t nq = a.rows * s.Hq * s.D, nkv = a.rows * s.Hkv * s.D;
    // bf16 operands on the mma kernels (kernels/attention.h; the widening fallback's fp32 op runs
    // them too at D = 64 / 128); else the fp32 kernels, whose bf16 out is within an ulp of the
    // CPU's and whose gradients differ by dsum from the bf16 out.
    const bool mma = s.D == 64 || s.D == 128;
    // Straight from the bf16 tensors (every row stride a multiple of 8), kBf16's forward runs on
    // wgmma where the GPU has it: another kernel than the fp32 API's, so out is compared by error.
    const bool direct = a.qrs % 8 == 0 && a.kvrs % 8 == 0 && a.ors % 8 == 0;
    const bool wgmma =
        mma && direct && impl == kernels::AttentionImpl::kBf16 && kernels::cuda_attention_wgmma();
    const bool wgmma_bwd = wgmma && s.D == 128 && a.dors % 8 == 0;  // and the backward at D = 128
    const double out_tol = mma ? 1e-2 : 4e-3, lse_tol = mma ? 2e-3 : 1e-5;
    const double grad_tol = mma ? 2e-2 : 4e-3;

    // CPU twin.
    kernels::attention_forward_bf16(kCpuCtx, a.host_params());
    const auto dq0 = random_floats(static_cast<size_t>(nq), -1, 1, 31);
    const auto dk0 = random_floats(static_cast<size_t>(nkv), -1, 1, 32);
    const auto dv0 = random_floats(static_cast<size_t>(nkv), -1, 1, 33);
    auto cdq = dq0, cdk = dk0, cdv = dv0;
    kernels::attention_backward_bf16(kCpuCtx, a.host_params(), cdq.data(), cdk.data(), cdv.data(),
                                     a.dout.data(), a.dors);

    // GPU bf16 API: forward into an out that starts as padding words everywhere.
    auto gq = to_device(a.q), gk = to_device(a.k), gv = to_device(a.v), gdout = to_device(a.dout);
    auto gout = to_device(std::vector<uint16_t>(a.out.size(), kPadWord));
    auto glse = to_device(std::vector<float>(a.lse.size(), 0.0f));
    auto gseg = to_device(a.seg.empty() ? std::vector<int32_t>{0} : a.seg);
    const int32_t* seg = a.seg.empty() ? nullptr : static_cast<const int32_t*>(gseg.data());
    const auto gp = a.params(u16m(gout), f32(glse), u16(gq), u16(gk), u16(gv), seg);
    kernels::attention_forward_bf16(kCudaCtx, gp);
    const auto out = from_device<uint16_t>(gout);
    const auto lse = from_device<float>(glse);
    expect_padding_kept(out, a.rows, s.Hq * s.D, a.ors, "out (GPU)");
    EXPECT_LT(rel_error(widened_d(out, a.rows, s.Hq * s.D, a.ors),
                        widened_d(a.out, a.rows, s.Hq * s.D, a.ors)),
              out_tol);
    EXPECT_LT(rel_error(to_double(lse), to_double(a.lse)), lse_tol);

    // The GPU's fp32 API on the widened inputs runs the same kernels: out rounds to the same bits.
    auto wq = to_device(widened(a.q, a.rows, s.Hq * s.D, a.qrs));
    auto wk = to_device(widened(a.k, a.rows, s.Hkv * s.D, a.kvrs));
    auto wv = to_device(widened(a.v, a.rows, s.Hkv * s.D, a.kvrs));
    kernels::BackendBuffer wout(kCudaCtx, nq * 4), wlse(kCudaCtx, a.lse.size() * 4);
    auto wp = kernels::make_attn_params_contiguous(f32(wout), f32(wlse), f32(wq), f32(wk), f32(wv),
                                                   seg, s.B, s.T, s.Hq, s.Hkv, s.D);
    kernels::attention_forward(kCudaCtx, wp);
    const auto out32 = from_device<float>(wout);
    if (wgmma) {  // bf16 P rounded after other running maxima, out rounded to bf16
        EXPECT_LT(rel_error(widened_d(out, a.rows, s.Hq * s.D, a.ors), to_double(out32)), 4e-3);
        EXPECT_LT(rel_error(to_double(lse), to_double(from_device<float>(wlse))), 1e-5);
    } else {
        for (int64_t r = 0; r < a.rows; r++) {
            for (int64_t c = 0; c < s.Hq * s.D; c++) {
                ASSERT_EQ(out[r * a.ors + c], kernels::f32_to_bf16_bits(out32[r * s.Hq * s.D + c]))
                    << "row " << r << " col " << c;
            }
        }
        EXPECT_EQ(lse, from_device<float>(wlse));
    }

    // Backward from the GPU's own out and lse, gradients pre-filled (+=).
    auto gdq = to_device(dq0), gdk = to_device(dk0), gdv = to_device(dv0);
    kernels::attention_backward_bf16(kCudaCtx, gp, f32(gdq), f32(gdk), f32(gdv), u16(gdout),
                                     a.dors);
    const auto dq = from_device<float>(gdq), dk = from_device<float>(gdk);
    const auto dv = from_device<float>(gdv);
    EXPECT_LT(rel_error(added(dq, dq0), added(cdq, dq0)), grad_tol);
    EXPECT_LT(rel_error(added(dk, dk0), added(cdk, dk0)), grad_tol);
    EXPECT_LT(rel_error(added(dv, dv0), added(cdv, dv0)), grad_tol);

    // The fp32 API with the widened bf16 out: the same kernels up to dsum's summation order and
    // the atomics' order; another kernel where the bf16 API's backward runs on wgmma (P and dS
    // rounded to bf16 from scores summed in another order).
    const double api_tol = wgmma_bwd ? 1e-3 : 1e-5;
    auto wout_b = to_device(widened(out, a.rows, s.Hq * s.D, a.ors));
    auto wdout = to_device(widened(a.dout, a.rows, s.Hq * s.D, a.dors));
    auto fdq = to_device(dq0), fdk = to_device(dk0), fdv = to_device(dv0);
    wp.out = f32(wout_b);
    kernels::attention_backward(kCudaCtx, wp, f32(fdq), f32(fdk), f32(fdv), f32(wdout));
    EXPECT_LT(rel_error(added(dq, dq0), added(from_device<float>(fdq), dq0)), api_tol);
    EXPECT_LT(rel_error(added(dk, dk0), added(from_device<float>(fdk), dk0)), api_tol);
    EXPECT_LT(rel_error(added(dv, dv0), added(from_device<float>(fdv), dv0)), api_tol);

    // Only dv wanted: the same dv.
    auto odv = to_device(dv0);
    kernels::attention_backward_bf16(kCudaCtx, gp, nullptr, nullptr, f32(odv), u16(gdout), a.dors);
    EXPECT_LT(rel_error(added(from_device<float>(odv), dv0), added(dv, dv0)), 1e-6);

    // The wgmma backward with every split of the GQA group over blocks (1 query head a block, dK
    // and dV by atomics, up to the whole group, by plain stores): the same sums in other orders.
    if (wgmma_bwd) {
        for (int heads = 1; heads <= s.Hq / s.Hkv; heads *= 2) {
            kernels::set_cuda_attention_wgmma_heads(heads);
            auto hdq = to_device(dq0), hdk = to_device(dk0), hdv = to_device(dv0);
            kernels::attention_backward_bf16(kCudaCtx, gp, f32(hdq), f32(hdk), f32(hdv), u16(gdout),
                                             a.dors);
            EXPECT_LT(rel_error(added(from_device<float>(hdq), dq0), added(dq, dq0)), 1e-5)
                << heads << " heads a block";
            EXPECT_LT(rel_error(added(from_device<float>(hdk), dk0), added(dk, dk0)), 1e-5)
                << heads << " heads a block";
            EXPECT_LT(rel_error(added(from_device<float>(hdv), dv0), added(dv, dv0)), 1e-5)
                << heads << " heads a block";
        }
        kernels::set_cuda_attention_wgmma_heads(0);
    }
}

INSTANTIATE_TEST_SUITE_P(
    Attention, AttentionBf16Gpu,
    ::testing::Combine(
        ::testing::Values(Bf16Shape{2, 70, 8, 2, 128, 0, 0, 0, 16, 0},   // odd T, GQA, out padded
                          Bf16Shape{1, 100, 4, 1, 64, 1, 8, 8, 16, 24},  // segments, all padded
                          Bf16Shape{1, 300, 8, 2, 128, 1, 0, 0, 0, 0},   // 3 key blocks, segments
                          Bf16Shape{2, 700, 8, 2, 128, 2, 0, 0, 0, 0},   // long documents
                          Bf16Shape{1, 520, 4, 1, 64, 2, 8, 0, 0, 8},    // long documents, D = 64
                          Bf16Shape{1, 129, 2, 2, 128, 0, 8, 0, 8, 8},   // MHA
                          Bf16Shape{2, 37, 4, 2, 8, 0, 3, 5, 16, 1},     // stories260K head_dim
                          Bf16Shape{2, 33, 4, 2, 64, 0, 3, 0, 0, 0},     // odd stride: widened
                          Bf16Shape{1, 300, 4, 4, 64, 0, 0, 0, 0, 0},    // MHA, D = 64, 3 tiles
                          Bf16Shape{1, 520, 8, 2, 128, 0, 0, 0, 0, 0}),  // 5 key blocks
        ::testing::Values(kernels::AttentionImpl::kBf16, kernels::AttentionImpl::kBf16MmaSync)),
    [](const auto& param_info) {
        return shape_name(std::get<0>(param_info.param)) +
               (std::get<1>(param_info.param) == kernels::AttentionImpl::kBf16 ? "_bf16"
                                                                               : "_mmasync");
    });

}  // namespace
}  // namespace qforge::test
