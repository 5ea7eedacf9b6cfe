// What is here: the harness cases of the encoder ops: layernorm forward (with and without bias
// and saved statistics, also in place) and backward (every subset of dinp/dweight/dbias), and
// exact GELU forward (also in place) and backward. Rows have 33 (scalar), 132 and 260 (float4)
// and 1025 channels, plus BERT's 384/768; one layernorm input sits far from zero (mean >> std)
// to catch a one-pass variance, and one shape per op is past the CPU's OpenMP threshold.
#include <fmt/format.h>
#include <string>
#include <vector>

#include "kernels/gelu.h"
#include "kernels/layernorm.h"
#include "kernels/op_case.h"

namespace qforge::test {
namespace {

using kernels::Ctx;
using kernels::Op;

constexpr kernels::Ctx kHostCtx{kernels::Device::kCpu, nullptr};
constexpr float kLnEps = 1e-12f;  // BERT's layer_norm_eps

struct LayernormShape {
    int64_t N, C;
    float lo = -2.0f, hi = 2.0f;  // range of inp
};

class LayernormForwardCase : public OpCase {
public:
    // in_place: out is the inp buffer itself; stats: mean and rstd are saved (else nullptr).
    LayernormForwardCase(LayernormShape s, bool bias, bool stats, bool in_place)
        : s_(s), bias_(bias), stats_(stats), in_place_(in_place) {}

    Op op() const override { return Op::kLayernormForward; }

    std::string vars() const override {
        return fmt::format("N={},C={},inp=[{},{}),bias={},stats={},in_place={}", s_.N, s_.C, s_.lo,
                           s_.hi, bias_ ? 1 : 0, stats_ ? 1 : 0, in_place_ ? 1 : 0);
    }

    void build(CaseTensors& t) const override {
        if (!in_place_) {
            t.add("out", Role::kWrite, s_.N * s_.C);
        }
        if (stats_) {
            t.add("mean", Role::kWrite, s_.N);
            t.add("rstd", Role::kWrite, s_.N);
        }
        t.add("inp", in_place_ ? Role::kInOut : Role::kInput, s_.N * s_.C, s_.lo, s_.hi);
        t.add("weight", Role::kInput, s_.C, 0.5f, 1.5f);
        if (bias_) {
            t.add("bias", Role::kInput, s_.C, -0.5f, 0.5f);
        }
    }

    void run(const Ctx& ctx, const CaseBindings& b) const override {
        kernels::layernorm_forward(ctx, in_place_ ? b.f("inp") : b.f("out"),
                                   stats_ ? b.f("mean") : nullptr, stats_ ? b.f("rstd") : nullptr,
                                   b.f("inp"), b.f("weight"), bias_ ? b.f("bias") : nullptr, s_.N,
                                   s_.C, kLnEps);
    }

private:
    LayernormShape s_;
    bool bias_, stats_, in_place_;
};

class LayernormBackwardCase : public OpCase {
public:
    // grads: which of "i" (dinp), "w" (dweight), "b" (dbias) are asked for.
    LayernormBackwardCase(LayernormShape s, std::string grads) : s_(s), grads_(std::move(grads)) {}

    Op op() const override { return Op::kLayernormBackward; }

    std::string vars() const override {
        return fmt::format("N={},C={},inp=[{},{}),grads={}", s_.N, s_.C, s_.lo, s_.hi, grads_);
    }

    bool wants(char g) const { return grads_.find(g) != std::string::npos; }

    void build(CaseTensors& t) const override {
        if (wants('i')) {
            t.add("dinp", Role::kAccumulate, s_.N * s_.C);
        }
        if (wants('w')) {
            t.add("dweight", Role::kAccumulate, s_.C);
        }
        if (wants('b')) {
            t.add("dbias", Role::kAccumulate, s_.C);
        }
        t.add("dout", Role::kInput, s_.N * s_.C);
        t.add("inp", Role::kInput, s_.N * s_.C, s_.lo, s_.hi);
        t.add("weight", Role::kInput, s_.C, 0.5f, 1.5f);
        t.add("mean", Role::kInput, s_.N);
        t.add("rstd", Role::kInput, s_.N);
    }

    void init_inputs(CaseTensors& t, std::mt19937_64& rng) const override {
        OpCase::init_inputs(t, rng);
        // mean and rstd as the forward saves them (bias does not change them)
        std::vector<float> out(static_cast<size_t>(s_.N * s_.C));
        kernels::layernorm_forward(kHostCtx, out.data(), t["mean"].f32.data(), t["rstd"].f32.data(),
                                   t["inp"].f32.data(), t["weight"].f32.data(), nullptr, s_.N, s_.C,
                                   kLnEps);
    }

    void run(const Ctx& ctx, const CaseBindings& b) const override {
        kernels::layernorm_backward(ctx, wants('i') ? b.f("dinp") : nullptr,
                                    wants('w') ? b.f("dweight") : nullptr,
                                    wants('b') ? b.f("dbias") : nullptr, b.f("dout"), b.f("inp"),
                                    b.f("weight"), b.f("mean"), b.f("rstd"), s_.N, s_.C);
    }

private:
    LayernormShape s_;
    std::string grads_;
};

class GeluForwardCase : public OpCase {
public:
    // in_place: out is the inp buffer itself.
    GeluForwardCase(int64_t n, bool in_place) : n_(n), in_place_(in_place) {}

    Op op() const override { return Op::kGeluForward; }

    std::string vars() const override {
        return fmt::format("n={},in_place={}", n_, in_place_ ? 1 : 0);
    }

    void build(CaseTensors& t) const override {
        if (!in_place_) {
            t.add("out", Role::kWrite, n_);
        }
        // [-5, 5): both tails (gelu -> 0 and gelu -> x) and the curved middle
        t.add("inp", in_place_ ? Role::kInOut : Role::kInput, n_, -5.0f, 5.0f);
    }

    void run(const Ctx& ctx, const CaseBindings& b) const override {
        kernels::gelu_forward(ctx, in_place_ ? b.f("inp") : b.f("out"), b.f("inp"), n_);
    }

private:
    int64_t n_;
    bool in_place_;
};

class GeluBackwardCase : public OpCase {
public:
    explicit GeluBackwardCase(int64_t n) : n_(n) {}

    Op op() const override { return Op::kGeluBackward; }

    std::string vars() const override { return fmt::format("n={}", n_); }

    void build(CaseTensors& t) const override {
        t.add("dinp", Role::kAccumulate, n_);
        t.add("dout", Role::kInput, n_);
        t.add("inp", Role::kInput, n_, -5.0f, 5.0f);
    }

    void run(const Ctx& ctx, const CaseBindings& b) const override {
        kernels::gelu_backward(ctx, b.f("dinp"), b.f("dout"), b.f("inp"), n_);
    }

private:
    int64_t n_;
};

}  // namespace

void add_encoder_cases(CaseList& cases) {
    const LayernormShape shapes[] = {
        {1, 33},
        {5, 132},
        {3, 260},
        {2, 1025},
        {7, 384},
        {4, 768},
        {40, 1025},              // 41000 elements: past the OpenMP threshold (32768)
        {6, 260, 30.0f, 34.0f},  // |mean| >> std: a one-pass variance loses digits here
    };
    for (const auto& s : shapes) {
        cases.emplace_back(new LayernormForwardCase(s, true, true, false));
        cases.emplace_back(new LayernormBackwardCase(s, "iwb"));
    }
    cases.emplace_back(new LayernormForwardCase({3, 260}, false, true, false));
    cases.emplace_back(new LayernormForwardCase({5, 33}, true, false, false));
    cases.emplace_back(new LayernormForwardCase({3, 260}, true, true, true));
    cases.emplace_back(new LayernormForwardCase({2, 1025}, true, false, true));
    cases.emplace_back(new LayernormBackwardCase({5, 132}, "i"));
    cases.emplace_back(new LayernormBackwardCase({5, 132}, "wb"));
    cases.emplace_back(new LayernormBackwardCase({3, 1025}, "w"));

    for (const int64_t n : {1, 33, 1027, 40001}) {
        cases.emplace_back(new GeluForwardCase(n, false));
        cases.emplace_back(new GeluBackwardCase(n));
    }
    cases.emplace_back(new GeluForwardCase(1027, true));
    cases.emplace_back(new GeluForwardCase(40001, true));
}

}  // namespace qforge::test
