// What is here: the harness cases of lora_down_bf16 and lora_grad_bf16 (kernels/lora_thin.h).
// Both backends multiply the same bf16 values exactly and sum them in fp32 (CUDA: tensor-core
// partial sums in its own order) or double (CPU), so fp32 outputs are compared by NMSE and y16
// must lie within one bf16 ulp of the CPU's (or 2^-16 of max |y| for values a sum cancels). Inputs
// are random non-zero bf16; every bf16 row has padding words that must keep the sentinel. Shapes
// cover the scalar paths (odd strides, a misaligned pointer), the 16-byte paths with k / column
// tails, both w layouts (A rows; sB columns of the packed matrix), R = 1 .. 64 and R = 80 (the
// CUDA backend's cuBLASLt path), and sums long enough to be split into partials on CUDA.
#include <algorithm>
#include <fmt/format.h>
#include <random>
#include <vector>

#include "kernels/bf16_bits.h"
#include "kernels/lora_thin.h"
#include "kernels/op_case.h"

namespace qforge::test {
namespace {

using kernels::Ctx;
using kernels::Op;

void fill_random_bf16(CaseTensor& x, std::mt19937_64& rng) {
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    uint16_t* v = u16_data(x);
    for (int64_t e = 0; e < 2 * x.count; e++) {
        uint16_t bits = 0;
        while ((bits & 0x7FFFu) == 0) {  // never a zero
            bits = kernels::f32_to_bf16_bits(dist(rng));
        }
        v[e] = bits;
    }
}

// lora_down_bf16: x (N, K) rows of ldx from x_off, w as rows (R, K + 3) or as columns of a
// (K, R + 5) matrix; y (N, R) fp32 and y16 (N, R + 2) bf16, either or both.
class LoraDownCase : public OpCase {
public:
    LoraDownCase(int64_t N, int64_t K, int64_t R, int64_t ldx, int64_t x_off, bool w_rows, bool y,
                 bool y16)
        : N_(N), K_(K), R_(R), ldx_(ldx), x_off_(x_off), w_rows_(w_rows), y_(y), y16_(y16) {}

    Op op() const override { return Op::kLoraDownBf16; }

    std::string vars() const override {
        return fmt::format("N={},K={},R={},ldx={},x_off={},w={},y={},y16={}", N_, K_, R_, ldx_,
                           x_off_, w_rows_ ? "rows" : "cols", y_ ? 1 : 0, y16_ ? 1 : 0);
    }

    double bf16_abs_floor() const override { return 0x1p-16; }

    int64_t wsr() const { return w_rows_ ? K_ + 3 : 1; }

    int64_t wsk() const { return w_rows_ ? 1 : R_ + 5; }

    void build(CaseTensors& t) const override {
        t.add_u16("x", Role::kInput, std::max<int64_t>(1, x_off_ + N_ * ldx_));
        t.add_u16("w", Role::kInput, std::max<int64_t>(1, w_rows_ ? R_ * wsr() : K_ * wsk()));
        if (y_) {
            t.add("y", Role::kWrite, N_ * R_);  // dense: every word is judged
        }
        if (y16_) {
            t.add_u16("y16", Role::kWrite, N_ * (R_ + 2));
        }
    }

    void init_inputs(CaseTensors& t, std::mt19937_64& rng) const override {
        OpCase::init_inputs(t, rng);
        fill_random_bf16(t["x"], rng);
        fill_random_bf16(t["w"], rng);
    }

    void run(const Ctx& ctx, const CaseBindings& b) const override {
        kernels::lora_down_bf16(ctx, N_, K_, R_, b.u16("x") + x_off_, ldx_, b.u16("w"), wsr(),
                                wsk(), 0.75f, y_ ? b.f("y") : nullptr, R_,
                                y16_ ? b.u16("y16") : nullptr, R_ + 2);
    }

private:
    int64_t N_, K_, R_, ldx_, x_off_;
    bool w_rows_, y_, y16_;
};

// lora_grad_bf16: d (N, R) rows of ldd from d_off, x (N, M) rows of ldx from x_off; out (+=)
// dense (R, M) or (M, R).
class LoraGradCase : public OpCase {
public:
    LoraGradCase(int64_t N, int64_t M, int64_t R, int64_t ldd, int64_t d_off, int64_t ldx,
                 int64_t x_off, bool out_rows)
        : N_(N),
          M_(M),
          R_(R),
          ldd_(ldd),
          d_off_(d_off),
          ldx_(ldx),
          x_off_(x_off),
          out_rows_(out_rows) {}

    Op op() const override { return Op::kLoraGradBf16; }

    std::string vars() const override {
        return fmt::format("N={},M={},R={},ldd={},d_off={},ldx={},x_off={},out={}", N_, M_, R_,
                           ldd_, d_off_, ldx_, x_off_, out_rows_ ? "RM" : "MR");
    }

    void build(CaseTensors& t) const override {
        t.add_u16("d", Role::kInput, d_off_ + N_ * ldd_);
        t.add_u16("x", Role::kInput, x_off_ + N_ * ldx_);
        t.add("out", Role::kAccumulate, R_ * M_);
    }

    void init_inputs(CaseTensors& t, std::mt19937_64& rng) const override {
        OpCase::init_inputs(t, rng);
        fill_random_bf16(t["d"], rng);
        fill_random_bf16(t["x"], rng);
    }

    void run(const Ctx& ctx, const CaseBindings& b) const override {
        kernels::lora_grad_bf16(ctx, N_, M_, R_, b.u16("d") + d_off_, ldd_, b.u16("x") + x_off_,
                                ldx_, -0.5f, b.f("out"), out_rows_ ? M_ : 1, out_rows_ ? 1 : R_);
    }

private:
    int64_t N_, M_, R_, ldd_, d_off_, ldx_, x_off_;
    bool out_rows_;
};

}  // namespace

void add_lora_thin_cases(CaseList& cases) {
    for (const int64_t R : {1, 7, 16, 24, 64}) {
        for (const bool w_rows : {true, false}) {
            cases.emplace_back(new LoraDownCase(33, 17, R, 19, 0, w_rows, true, true));    // scalar
            cases.emplace_back(new LoraDownCase(33, 40, R, 48, 0, w_rows, true, false));   // vector
            cases.emplace_back(new LoraDownCase(130, 72, R, 80, 1, w_rows, false, true));  // x_off
        }
        for (const bool out_rows : {true, false}) {
            cases.emplace_back(new LoraGradCase(33, 17, R, R + 3, 0, 19, 0, out_rows));  // scalar
            cases.emplace_back(
                new LoraGradCase(40, 130, R, (R + 7) / 8 * 8, 0, 136, 0, out_rows));     // vector
            cases.emplace_back(new LoraGradCase(33, 40, R, R + 8, 1, 48, 1, out_rows));  // offsets
        }
    }
    cases.emplace_back(new LoraDownCase(40, 2600, 16, 2608, 0, true, true, true));   // K splits
    cases.emplace_back(new LoraDownCase(40, 2600, 16, 2600, 0, false, true, true));  // K splits
    cases.emplace_back(new LoraDownCase(9, 0, 5, 1, 0, true, true, true));           // K = 0
    cases.emplace_back(new LoraDownCase(20, 40, 80, 48, 0, true, true, true));       // cuBLASLt
    cases.emplace_back(new LoraDownCase(20, 40, 80, 48, 0, false, false, true));     // cuBLASLt
    cases.emplace_back(new LoraGradCase(800, 130, 16, 16, 0, 136, 0, true));         // N splits
    cases.emplace_back(new LoraGradCase(800, 130, 24, 27, 0, 131, 0, false));        // N splits
    cases.emplace_back(new LoraGradCase(40, 130, 80, 80, 0, 136, 0, true));          // cuBLASLt
    cases.emplace_back(new LoraGradCase(40, 130, 80, 80, 0, 136, 0, false));         // cuBLASLt
}

}  // namespace qforge::test
