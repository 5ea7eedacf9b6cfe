// What is here: the harness cases of lora_dy_products (kernels/lora_grad.h), the one-pass dU / dB
// products of a LoRA projection's backward. dy, sB are random bf16, u random fp32; dU's bf16 rows
// have spare columns (dy's layout in the train step: dU lands right after dy's Out columns) that
// must keep the harness's sentinel; dB starts from random values (it accumulates). Shapes: every
// rank the op takes, Out below, at and past one CUDA column region, token counts that leave a
// partial 64-row block, ranges split over many blocks, and u rows wider than R (the train step
// keeps a layer's u side by side, q / k / v from one GEMM).
#include <fmt/format.h>
#include <random>

#include "kernels/bf16_bits.h"
#include "kernels/lora_grad.h"
#include "kernels/op_case.h"

namespace qforge::test {
namespace {

using kernels::Ctx;
using kernels::Op;

void fill_nonzero_bf16(CaseTensor& x, std::mt19937_64& rng, float lo, float hi) {
    std::uniform_real_distribution<float> dist(lo, hi);
    uint16_t* v = u16_data(x);
    for (int64_t e = 0; e < 2 * x.count; e++) {
        uint16_t bits = 0;
        while ((bits & 0x7FFFu) == 0) {
            bits = kernels::f32_to_bf16_bits(dist(rng));
        }
        v[e] = bits;
    }
}

class LoraDyProductsCase : public OpCase {
public:
    // pad: ld_dy - Out - R (dy rows carry R spare columns and pad more); sb_pad: ld_sb - R;
    // u_pad: ld_u - R.
    LoraDyProductsCase(int64_t N, int64_t Out, int64_t R, int64_t pad, int64_t sb_pad,
                       bool round = true, int64_t u_pad = 0)
        : N_(N), Out_(Out), R_(R), pad_(pad), sb_pad_(sb_pad), u_pad_(u_pad), round_(round) {}

    Op op() const override { return Op::kLoraDyProducts; }

    std::string vars() const override {
        return fmt::format("N={},Out={},R={},ld_dy={},ld_sb={},ld_u={},bf16_du={}", N_, Out_, R_,
                           ld_dy(), ld_sb(), ld_u(), round_ ? 1 : 0);
    }

    int64_t ld_dy() const { return Out_ + R_ + pad_; }

    int64_t ld_sb() const { return R_ + sb_pad_; }

    int64_t ld_u() const { return R_ + u_pad_; }

    void build(CaseTensors& t) const override {
        t.add_u16("dy", Role::kInput, N_ * ld_dy());
        t.add_u16("sb", Role::kInput, Out_ * ld_sb());
        t.add("u", Role::kInput, N_ * ld_u(), -2.0f, 2.0f);
        t.add("du", Role::kWrite, N_ * R_);
        // dU's rounding goes into dy's spare columns of a copy of dy's layout
        t.add_u16("du_bf16", Role::kWrite, N_ * ld_dy());
        t.add("dB", Role::kAccumulate, Out_ * R_);
    }

    void init_inputs(CaseTensors& t, std::mt19937_64& rng) const override {
        OpCase::init_inputs(t, rng);
        fill_nonzero_bf16(t["dy"], rng, -1.0f, 1.0f);
        fill_nonzero_bf16(t["sb"], rng, -0.5f, 0.5f);
    }

    // dU's sums are joined by atomics in a varying order: a sum that cancels to ~1e-6 of the
    // largest can round to bf16 words 2 ulps apart (seen once in a GPU run at R 64)
    double bf16_abs_floor() const override { return 0x1p-16; }

    void run(const Ctx& ctx, const CaseBindings& b) const override {
        kernels::lora_dy_products(ctx, b.u16("dy"), ld_dy(), b.u16("sb"), ld_sb(), b.f("u"), ld_u(),
                                  N_, Out_, R_, 0.625f, b.f("du"),
                                  round_ ? b.u16("du_bf16") + Out_ : nullptr, ld_dy(), b.f("dB"));
    }

private:
    int64_t N_, Out_, R_, pad_, sb_pad_, u_pad_;
    bool round_;
};

}  // namespace

void add_lora_cases(CaseList& cases) {
    auto add = [&](OpCase* c) {
        cases.emplace_back(c);
    };
    add(new LoraDyProductsCase(1, 8, 16, 0, 0));        // one row, one partial tile
    add(new LoraDyProductsCase(100, 136, 16, 8, 8));    // partial token block, 2 column tiles
    add(new LoraDyProductsCase(64, 64, 8, 0, 8));       // the shipped model's width, rank 8
    add(new LoraDyProductsCase(333, 520, 8, 0, 0));     // rank 8: dU split along the columns
    add(new LoraDyProductsCase(257, 1000, 32, 16, 0));  // rank 32: 2 tiles a region
    add(new LoraDyProductsCase(130, 264, 64, 0, 8));    // rank 64: one tile a region
    add(new LoraDyProductsCase(2048, 1024, 16, 0, 0));  // many token blocks a region
    add(new LoraDyProductsCase(700, 2056, 16, 8, 16, false));    // no bf16 dU
    add(new LoraDyProductsCase(100, 136, 16, 8, 8, true, 96));   // u rows of 7 R (a layer's u)
    add(new LoraDyProductsCase(257, 1000, 32, 16, 0, true, 4));  // u rows padded by 4
}

}  // namespace qforge::test
