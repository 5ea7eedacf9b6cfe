// What is here: the harness cases of the training ops: adamw_update (fresh and late steps, with
// and without weight decay and gradient scaling), sum_of_squares (its double result is handed
// back through a 2-float output), dropout forward (also in place) and backward, and
// random_normal. Sizes include 1, odd lengths and one past the CPU's OpenMP threshold (32768).
#include <fmt/format.h>
#include <vector>

#include "kernels/adamw.h"
#include "kernels/dropout.h"
#include "kernels/memory.h"
#include "kernels/op_case.h"
#include "kernels/random.h"

namespace qforge::test {
namespace {

using kernels::Ctx;
using kernels::Op;

class AdamwUpdateCase : public OpCase {
public:
    AdamwUpdateCase(int64_t n, int64_t step, float weight_decay, float grad_scale)
        : n_(n), step_(step), weight_decay_(weight_decay), grad_scale_(grad_scale) {}

    Op op() const override { return Op::kAdamwUpdate; }

    std::string vars() const override {
        return fmt::format("n={},step={},wd={},grad_scale={}", n_, step_, weight_decay_,
                           grad_scale_);
    }

    void build(CaseTensors& t) const override {
        t.add("param", Role::kInOut, n_);
        t.add("grad", Role::kInput, n_, -2.0f, 2.0f);
        t.add("m", Role::kInOut, n_, -0.1f, 0.1f);
        t.add("v", Role::kInOut, n_, 1e-4f, 1e-2f);  // a second moment is positive
    }

    void run(const Ctx& ctx, const CaseBindings& b) const override {
        const kernels::AdamWParams p{
            .lr = 1e-3f,
            .beta1 = 0.9f,
            .beta2 = 0.999f,
            .eps = 1e-8f,
            .weight_decay = weight_decay_,
            .grad_scale = grad_scale_,
            .step = step_,
        };
        kernels::adamw_update(ctx, b.f("param"), b.f("grad"), b.f("m"), b.f("v"), n_, p);
    }

private:
    int64_t n_, step_;
    float weight_decay_, grad_scale_;
};

class SumOfSquaresCase : public OpCase {
public:
    explicit SumOfSquaresCase(int64_t n) : n_(n) {}

    Op op() const override { return Op::kSumOfSquares; }

    std::string vars() const override { return fmt::format("n={}", n_); }

    void build(CaseTensors& t) const override {
        t.add("x", Role::kInput, n_, -3.0f, 3.0f);
        t.add("sum", Role::kWrite, 2);  // the double result as hi + lo floats
    }

    void run(const Ctx& ctx, const CaseBindings& b) const override {
        const double s = kernels::sum_of_squares(ctx, b.f("x"), n_);
        const auto hi = static_cast<float>(s);
        const float hi_lo[2] = {hi, static_cast<float>(s - static_cast<double>(hi))};
        kernels::buffer_upload(ctx, b.f("sum"), hi_lo, sizeof(hi_lo));
    }

private:
    int64_t n_;
};

class DropoutCase : public OpCase {
public:
    // in_place (forward only): out is the inp buffer itself.
    DropoutCase(bool backward, int64_t n, float p, bool in_place)
        : backward_(backward), n_(n), p_(p), in_place_(in_place) {}

    Op op() const override { return backward_ ? Op::kDropoutBackward : Op::kDropoutForward; }

    std::string vars() const override {
        return fmt::format("n={},p={},in_place={}", n_, p_, in_place_ ? 1 : 0);
    }

    static constexpr uint64_t kSeed = 1234, kKey = 0x51ed2701;

    void build(CaseTensors& t) const override {
        if (backward_) {
            t.add("dinp", Role::kAccumulate, n_);
            t.add("dout", Role::kInput, n_);
        } else {
            if (!in_place_) {
                t.add("out", Role::kWrite, n_);
            }
            t.add("inp", in_place_ ? Role::kInOut : Role::kInput, n_);
        }
    }

    void run(const Ctx& ctx, const CaseBindings& b) const override {
        if (backward_) {
            kernels::dropout_backward(ctx, b.f("dinp"), b.f("dout"), n_, p_, kSeed, kKey);
        } else {
            kernels::dropout_forward(ctx, in_place_ ? b.f("inp") : b.f("out"), b.f("inp"), n_, p_,
                                     kSeed, kKey);
        }
    }

private:
    bool backward_;
    int64_t n_;
    float p_;
    bool in_place_;
};

class RandomNormalCase : public OpCase {
public:
    RandomNormalCase(int64_t n, float stddev) : n_(n), stddev_(stddev) {}

    Op op() const override { return Op::kRandomNormal; }

    std::string vars() const override { return fmt::format("n={},stddev={}", n_, stddev_); }

    // Both backends evaluate Box-Muller in double and round once; the device's log/cos may
    // differ from libm's in the last bits of a double: ~1e-6 relative per value at most.
    double max_err() const override { return 1e-12; }

    void build(CaseTensors& t) const override { t.add("out", Role::kWrite, n_); }

    void run(const Ctx& ctx, const CaseBindings& b) const override {
        kernels::random_normal(ctx, b.f("out"), n_, stddev_, 42, 0x7e57);
    }

private:
    int64_t n_;
    float stddev_;
};

}  // namespace

void add_train_cases(CaseList& cases) {
    for (const int64_t n : {1, 1027, 40001}) {
        cases.emplace_back(new RandomNormalCase(n, 0.02f));
    }
    cases.emplace_back(new AdamwUpdateCase(1, 1, 0.0f, 1.0f));
    cases.emplace_back(new AdamwUpdateCase(1025, 1, 0.1f, 0.5f));
    cases.emplace_back(new AdamwUpdateCase(4099, 7, 0.01f, 1.0f));
    cases.emplace_back(new AdamwUpdateCase(40001, 1000, 0.1f, 0.125f));  // past OpenMP's threshold

    for (const int64_t n : {1, 1027, 40001}) {
        cases.emplace_back(new SumOfSquaresCase(n));
    }

    for (const float p : {0.1f, 0.5f}) {
        for (const int64_t n : {1, 1027, 40001}) {
            cases.emplace_back(new DropoutCase(false, n, p, false));
            cases.emplace_back(new DropoutCase(true, n, p, false));
        }
    }
    cases.emplace_back(new DropoutCase(false, 1027, 0.3f, true));
    cases.emplace_back(new DropoutCase(false, 257, 0.0f, false));  // p = 0 keeps everything
}

}  // namespace qforge::test
