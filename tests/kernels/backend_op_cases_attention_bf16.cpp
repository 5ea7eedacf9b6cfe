// What is here: the harness cases of attention_forward_bf16 / attention_backward_bf16 (bf16
// token-major q, k, v, out, dout with row strides). Inputs are random non-zero bf16 values in the
// rows' first H*D elements; the padding words past them keep the harness's sentinel (0x5A5A, a
// huge value: an op that read it would go far off), and the padding of out must keep it too.
// Shapes: D = 128 and 64 (the mma kernels, straight from the bf16 tensors when every stride is
// a multiple of 8), D = 8 (stories260K) and 7 (the fp32 kernels after widening), odd T, GQA and
// MHA, packed segments, a stride that is not a multiple of 8 at D = 64 (the widening fallback,
// whose fp32 op runs the mma kernels too).
// Tolerances: out (bf16) within one ulp of the CPU's, or, on the mma kernels (bf16 operands:
// out ~4e-3 relative, kernels/attention.h), within 2e-2 of the largest |out|; lse and gradients
// by NMSE as the fp32 AttentionCase. The CUDA backward takes dot(dout, out) from the bf16 out
// where the CPU recomputes out in fp32: dsum differs by ~2^-9 / sqrt(3) relative, so dq and dk by
// ~1e-3 (NMSE ~1e-6) even on the fp32 kernels; their bound there is 1e-5.
#include <fmt/format.h>
#include <random>
#include <vector>

#include "kernels/attention.h"
#include "kernels/bf16_bits.h"
#include "kernels/op_case.h"

namespace qforge::test {
namespace {

using kernels::Ctx;
using kernels::Op;

struct AttnBf16Shape {
    int64_t B, T, Hq, Hkv, D;
    bool segments;
    int64_t q_pad, kv_pad, out_pad, dout_pad;  // elements past H*D in each token row
};

class AttentionBf16Case : public OpCase {
public:
    AttentionBf16Case(bool backward, AttnBf16Shape s) : backward_(backward), s_(s) {}

    Op op() const override {
        return backward_ ? Op::kAttentionBackwardBf16 : Op::kAttentionForwardBf16;
    }

    std::string vars() const override {
        return fmt::format("B={},T={},Hq={},Hkv={},D={},seg={},pad={}/{}/{}/{}", s_.B, s_.T, s_.Hq,
                           s_.Hkv, s_.D, s_.segments ? 1 : 0, s_.q_pad, s_.kv_pad, s_.out_pad,
                           s_.dout_pad);
    }

    // Whether the CUDA backend computes this case on bf16 tensor cores: straight from the bf16
    // tensors, or (a stride that is not a multiple of 8) through the widened copies and the fp32
    // API, which runs the same mma kernels.
    bool on_mma() const {
        const auto impl = kernels::cuda_attention_impl();
        return (impl == kernels::AttentionImpl::kBf16 ||
                impl == kernels::AttentionImpl::kBf16MmaSync) &&
               (s_.D == 64 || s_.D == 128);
    }

    double max_err() const override {
        if (on_mma()) {
            return backward_ ? 2e-3 : 2e-4;
        }
        return backward_ ? 1e-5 : 1e-7;
    }

    double bf16_abs_floor() const override { return on_mma() ? 2e-2 : 0.0; }

    int64_t qrs() const { return s_.Hq * s_.D + s_.q_pad; }

    int64_t kvrs() const { return s_.Hkv * s_.D + s_.kv_pad; }

    int64_t ors() const { return s_.Hq * s_.D + s_.out_pad; }

    int64_t dors() const { return s_.Hq * s_.D + s_.dout_pad; }

    void build(CaseTensors& t) const override {
        const int64_t rows = s_.B * s_.T;
        if (backward_) {
            t.add("dq", Role::kAccumulate, rows * s_.Hq * s_.D);
            t.add("dk", Role::kAccumulate, rows * s_.Hkv * s_.D);
            t.add("dv", Role::kAccumulate, rows * s_.Hkv * s_.D);
            t.add_u16("dout", Role::kInput, rows * dors());
            t.add_u16("out", Role::kInput, rows * ors());
            t.add("lse", Role::kInput, s_.B * s_.Hq * s_.T);
        } else {
            t.add_u16("out", Role::kWrite, rows * ors());
            t.add("lse", Role::kWrite, s_.B * s_.Hq * s_.T);
        }
        t.add_u16("q", Role::kInput, rows * qrs());
        t.add_u16("k", Role::kInput, rows * kvrs());
        t.add_u16("v", Role::kInput, rows * kvrs());
        if (s_.segments) {
            t.add_i32("seg", s_.B * s_.T);
        }
    }

    // Random non-zero bf16 values in [-1, 1) in the first `cols` words of every row.
    static void fill_rows(CaseTensor& x, int64_t rows, int64_t cols, int64_t rs,
                          std::mt19937_64& rng) {
        std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
        uint16_t* w = u16_data(x);
        for (int64_t r = 0; r < rows; r++) {
            for (int64_t c = 0; c < cols; c++) {
                uint16_t b = kernels::f32_to_bf16_bits(dist(rng));
                w[r * rs + c] = (b & 0x7FFF) == 0 ? uint16_t{0x3C00} : b;  // never 0: 2^-7
            }
        }
    }

    void init_inputs(CaseTensors& t, std::mt19937_64& rng) const override {
        OpCase::init_inputs(t, rng);
        const int64_t rows = s_.B * s_.T;
        fill_rows(t["q"], rows, s_.Hq * s_.D, qrs(), rng);
        fill_rows(t["k"], rows, s_.Hkv * s_.D, kvrs(), rng);
        fill_rows(t["v"], rows, s_.Hkv * s_.D, kvrs(), rng);
        if (s_.segments) {
            // Documents of random lengths 1..40 packed back to back (several per 64-row tile).
            auto& seg = t["seg"];
            seg.i32.resize(static_cast<size_t>(seg.count));
            std::uniform_int_distribution<int> len(1, 40);
            for (int64_t b = 0; b < s_.B; b++) {
                int32_t id = 0;
                for (int64_t i = 0, left = len(rng); i < s_.T; i++, left--) {
                    if (left == 0) {
                        id++;
                        left = len(rng);
                    }
                    seg.i32[static_cast<size_t>(b * s_.T + i)] = id;
                }
            }
        }
        if (backward_) {  // out and lse as the CPU forward saves them
            fill_rows(t["dout"], rows, s_.Hq * s_.D, dors(), rng);
            auto p =
                params(u16_data(t["out"]), t["lse"].f32.data(), u16_data(t["q"]), u16_data(t["k"]),
                       u16_data(t["v"]), s_.segments ? t["seg"].i32.data() : nullptr);
            kernels::attention_forward_bf16(kHostCtx, p);
        }
    }

    kernels::AttnBf16Params params(uint16_t* out, float* lse, const uint16_t* q, const uint16_t* k,
                                   const uint16_t* v, const int32_t* seg) const {
        kernels::AttnBf16Params p{};
        p.out = out;
        p.out_row_stride = ors();
        p.lse = lse;
        p.q = q;
        p.q_row_stride = qrs();
        p.k = k;
        p.v = v;
        p.kv_row_stride = kvrs();
        p.segment_ids = seg;
        p.B = s_.B;
        p.T = s_.T;
        p.Hq = s_.Hq;
        p.Hkv = s_.Hkv;
        p.D = s_.D;
        return p;
    }

    void run(const Ctx& ctx, const CaseBindings& b) const override {
        const int32_t* seg = s_.segments ? b.i("seg") : nullptr;
        const auto p = params(b.u16("out"), b.f("lse"), b.u16("q"), b.u16("k"), b.u16("v"), seg);
        if (backward_) {
            kernels::attention_backward_bf16(ctx, p, b.f("dq"), b.f("dk"), b.f("dv"), b.u16("dout"),
                                             dors());
        } else {
            kernels::attention_forward_bf16(ctx, p);
        }
    }

private:
    static constexpr Ctx kHostCtx{kernels::Device::kCpu, nullptr};
    bool backward_;
    AttnBf16Shape s_;
};

}  // namespace

void add_attention_bf16_cases(CaseList& cases) {
    const AttnBf16Shape shapes[] = {
        {2, 70, 8, 2, 128, false, 0, 0, 16, 0},  // odd T, GQA 4:1, out rows padded by 16
        {1, 100, 4, 1, 64, true, 8, 8, 16, 24},  // segments across tiles, every row padded
        {1, 300, 8, 2, 128, true, 0, 0, 0, 0},   // 3 backward key blocks (last partial)
        {1, 129, 2, 2, 128, false, 8, 0, 8, 8},  // MHA, one query past two tiles
        {2, 37, 4, 2, 8, false, 3, 5, 16, 1},    // stories260K's head_dim, odd strides
        {2, 5, 4, 2, 7, true, 0, 1, 2, 0},       // odd head_dim, segments
        {2, 33, 4, 2, 64, false, 3, 0, 0, 0},    // q stride not a multiple of 8: widened
    };
    for (const bool backward : {false, true}) {
        for (const auto& s : shapes) {
            cases.push_back(std::make_shared<AttentionBf16Case>(backward, s));
        }
    }
}

}  // namespace qforge::test
