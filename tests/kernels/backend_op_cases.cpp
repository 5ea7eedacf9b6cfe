// What is here: every OpCase of the backend-ops harness and the list of cases it runs. Shapes are
// chosen to break fast paths (STYLE item 4): rows of 33/132/260/1025 channels, odd head_dim and
// sequence lengths, a KV cache inside a bigger buffer, packing segments, and cross-entropy at
// V = 32000, 128256 and the prime 32003. NF4 cases are in backend_op_cases_nf4.cpp, the
// optimizer and dropout cases in backend_op_cases_train.cpp, the encoder ops (layernorm, gelu) in
// backend_op_cases_encoder.cpp.
#include <fmt/format.h>
#include <memory>
#include <vector>

#include "kernels/attention.h"
#include "kernels/cross_entropy.h"
#include "kernels/embedding.h"
#include "kernels/gemm.h"
#include "kernels/linear.h"
#include "kernels/op_case.h"
#include "kernels/rmsnorm.h"
#include "kernels/rope.h"
#include "kernels/swiglu.h"

namespace qforge::test {
namespace {

using kernels::Ctx;
using kernels::Op;

constexpr kernels::Ctx kHostCtx{kernels::Device::kCpu, nullptr};

void fill_ints(CaseTensor& t, std::mt19937_64& rng, int32_t lo, int32_t hi) {
    std::uniform_int_distribution<int32_t> dist(lo, hi - 1);
    t.i32.resize(static_cast<size_t>(t.count));
    for (auto& v : t.i32) {
        v = dist(rng);
    }
}

// ---- embedding ------------------------------------------------------------------------------

class EmbeddingForwardCase : public OpCase {
public:
    EmbeddingForwardCase(int64_t N, int64_t C, int64_t V) : N_(N), C_(C), V_(V) {}

    Op op() const override { return Op::kEmbeddingForward; }

    std::string vars() const override { return fmt::format("N={},C={},V={}", N_, C_, V_); }

    void build(CaseTensors& t) const override {
        t.add("out", Role::kWrite, N_ * C_);
        t.add_i32("ids", N_);
        t.add("table", Role::kInput, V_ * C_);
    }

    void init_inputs(CaseTensors& t, std::mt19937_64& rng) const override {
        OpCase::init_inputs(t, rng);
        fill_ints(t["ids"], rng, 0, static_cast<int32_t>(V_));
    }

    void run(const Ctx& ctx, const CaseBindings& b) const override {
        kernels::embedding_forward(ctx, b.f("out"), b.i("ids"), b.f("table"), N_, C_, V_);
    }

private:
    int64_t N_, C_, V_;
};

class EmbeddingBackwardCase : public OpCase {
public:
    EmbeddingBackwardCase(int64_t N, int64_t C, int64_t V) : N_(N), C_(C), V_(V) {}

    Op op() const override { return Op::kEmbeddingBackward; }

    std::string vars() const override { return fmt::format("N={},C={},V={}", N_, C_, V_); }

    void build(CaseTensors& t) const override {
        t.add("dtable", Role::kAccumulate, V_ * C_);
        t.add("dout", Role::kInput, N_ * C_);
        t.add_i32("ids", N_);
    }

    void init_inputs(CaseTensors& t, std::mt19937_64& rng) const override {
        OpCase::init_inputs(t, rng);
        fill_ints(t["ids"], rng, 0, static_cast<int32_t>(V_));  // N > V: ids repeat
    }

    void run(const Ctx& ctx, const CaseBindings& b) const override {
        kernels::embedding_backward(ctx, b.f("dtable"), b.f("dout"), b.i("ids"), N_, C_);
    }

private:
    int64_t N_, C_, V_;
};

// ---- rmsnorm --------------------------------------------------------------------------------

constexpr float kRmsEps = 1e-5f;

class RmsnormForwardCase : public OpCase {
public:
    // in_place: out is the inp buffer itself.
    RmsnormForwardCase(int64_t N, int64_t C, bool in_place) : N_(N), C_(C), in_place_(in_place) {}

    Op op() const override { return Op::kRmsnormForward; }

    std::string vars() const override {
        return fmt::format("N={},C={},in_place={}", N_, C_, in_place_ ? 1 : 0);
    }

    void build(CaseTensors& t) const override {
        if (!in_place_) {
            t.add("out", Role::kWrite, N_ * C_);
        }
        t.add("rstd", Role::kWrite, N_);
        t.add("inp", in_place_ ? Role::kInOut : Role::kInput, N_ * C_, -2.0f, 2.0f);
        t.add("weight", Role::kInput, C_, 0.5f, 1.5f);
    }

    void run(const Ctx& ctx, const CaseBindings& b) const override {
        kernels::rmsnorm_forward(ctx, in_place_ ? b.f("inp") : b.f("out"), b.f("rstd"), b.f("inp"),
                                 b.f("weight"), N_, C_, kRmsEps);
    }

private:
    int64_t N_, C_;
    bool in_place_;
};

class RmsnormBackwardCase : public OpCase {
public:
    RmsnormBackwardCase(int64_t N, int64_t C, bool dweight) : N_(N), C_(C), dweight_(dweight) {}

    Op op() const override { return Op::kRmsnormBackward; }

    std::string vars() const override {
        return fmt::format("N={},C={},dweight={}", N_, C_, dweight_ ? 1 : 0);
    }

    void build(CaseTensors& t) const override {
        t.add("dinp", Role::kAccumulate, N_ * C_);
        if (dweight_) {
            t.add("dweight", Role::kAccumulate, C_);
        }
        t.add("dout", Role::kInput, N_ * C_);
        t.add("inp", Role::kInput, N_ * C_, -2.0f, 2.0f);
        t.add("weight", Role::kInput, C_, 0.5f, 1.5f);
        t.add("rstd", Role::kInput, N_);
    }

    void init_inputs(CaseTensors& t, std::mt19937_64& rng) const override {
        OpCase::init_inputs(t, rng);
        std::vector<float> out(static_cast<size_t>(N_ * C_));  // rstd as the forward saves it
        kernels::rmsnorm_forward(kHostCtx, out.data(), t["rstd"].f32.data(), t["inp"].f32.data(),
                                 t["weight"].f32.data(), N_, C_, kRmsEps);
    }

    void run(const Ctx& ctx, const CaseBindings& b) const override {
        kernels::rmsnorm_backward(ctx, b.f("dinp"), dweight_ ? b.f("dweight") : nullptr,
                                  b.f("dout"), b.f("inp"), b.f("weight"), b.f("rstd"), N_, C_);
    }

private:
    int64_t N_, C_;
    bool dweight_;
};

// ---- gemm and linear ------------------------------------------------------------------------

// NMSE bound for gemm and linear: the CUDA GEMM's math mode (kernels/gemm.h) rounds operands to
// 10 (TF32) or 7 (BF16) mantissa bits, a relative error of 2^-11 or 2^-8 per operand, so a
// product is off by about 2^-10.5 or 2^-7.5 and the NMSE is about its square (5e-7, 4e-5);
// the bounds leave 10x for unlucky draws. kFp32 keeps ggml's fp32 bound.
double gemm_max_err() {
    switch (kernels::cuda_gemm_math()) {
        case kernels::GemmMath::kTf32:
            return 5e-6;
        case kernels::GemmMath::kBf16:
            return 4e-4;
        case kernels::GemmMath::kFp32:
            break;
    }
    return 1e-7;
}

class GemmCase : public OpCase {
public:
    GemmCase(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float beta)
        : ta_(ta), tb_(tb), M_(M), N_(N), K_(K), beta_(beta) {}

    Op op() const override { return Op::kGemm; }

    double max_err() const override { return gemm_max_err(); }

    std::string vars() const override {
        return fmt::format("op={}{},M={},N={},K={},beta={}", ta_ ? 'T' : 'N', tb_ ? 'T' : 'N', M_,
                           N_, K_, beta_);
    }

    // A and B rows are padded (lda, ldb > row length); C is dense so that every element of it
    // is an output the harness can judge.
    int64_t lda() const { return (ta_ ? M_ : K_) + 3; }

    int64_t ldb() const { return (tb_ ? K_ : N_) + 1; }

    void build(CaseTensors& t) const override {
        t.add("A", Role::kInput, (ta_ ? K_ : M_) * lda());
        t.add("B", Role::kInput, (tb_ ? N_ : K_) * ldb());
        // beta == 0: C is written without being read (its NaN pre-fill must not leak through).
        t.add("C", beta_ == 0.0f ? Role::kWrite : Role::kInOut, M_ * N_);
    }

    void run(const Ctx& ctx, const CaseBindings& b) const override {
        kernels::gemm(ctx, ta_, tb_, M_, N_, K_, 0.75f, b.f("A"), lda(), b.f("B"), ldb(), beta_,
                      b.f("C"), N_);
    }

private:
    bool ta_, tb_;
    int64_t M_, N_, K_;
    float beta_;
};

class LinearForwardCase : public OpCase {
public:
    LinearForwardCase(int64_t N, int64_t C, int64_t OC, bool bias)
        : N_(N), C_(C), OC_(OC), bias_(bias) {}

    Op op() const override { return Op::kLinearForward; }

    double max_err() const override { return gemm_max_err(); }

    std::string vars() const override {
        return fmt::format("N={},C={},OC={},bias={}", N_, C_, OC_, bias_ ? 1 : 0);
    }

    void build(CaseTensors& t) const override {
        t.add("out", Role::kWrite, N_ * OC_);
        t.add("inp", Role::kInput, N_ * C_);
        t.add("weight", Role::kInput, OC_ * C_);
        if (bias_) {
            t.add("bias", Role::kInput, OC_);
        }
    }

    void run(const Ctx& ctx, const CaseBindings& b) const override {
        kernels::linear_forward(ctx, b.f("out"), b.f("inp"), b.f("weight"),
                                bias_ ? b.f("bias") : nullptr, N_, C_, OC_);
    }

private:
    int64_t N_, C_, OC_;
    bool bias_;
};

class LinearBackwardCase : public OpCase {
public:
    // grads: which of dinp, dweight, dbias are wanted ("iwb" = all three).
    LinearBackwardCase(int64_t N, int64_t C, int64_t OC, std::string grads)
        : N_(N), C_(C), OC_(OC), grads_(std::move(grads)) {}

    Op op() const override { return Op::kLinearBackward; }

    double max_err() const override { return gemm_max_err(); }

    std::string vars() const override {
        return fmt::format("N={},C={},OC={},grads={}", N_, C_, OC_, grads_);
    }

    bool wants(char g) const { return grads_.find(g) != std::string::npos; }

    void build(CaseTensors& t) const override {
        if (wants('i')) {
            t.add("dinp", Role::kAccumulate, N_ * C_);
        }
        if (wants('w')) {
            t.add("dweight", Role::kAccumulate, OC_ * C_);
        }
        if (wants('b')) {
            t.add("dbias", Role::kAccumulate, OC_);
        }
        t.add("dout", Role::kInput, N_ * OC_);
        t.add("inp", Role::kInput, N_ * C_);
        t.add("weight", Role::kInput, OC_ * C_);
    }

    void run(const Ctx& ctx, const CaseBindings& b) const override {
        kernels::linear_backward(ctx, wants('i') ? b.f("dinp") : nullptr,
                                 wants('w') ? b.f("dweight") : nullptr,
                                 wants('b') ? b.f("dbias") : nullptr, b.f("dout"), b.f("inp"),
                                 b.f("weight"), N_, C_, OC_);
    }

private:
    int64_t N_, C_, OC_;
    std::string grads_;
};

// ---- swiglu ---------------------------------------------------------------------------------

class SwigluForwardCase : public OpCase {
public:
    // in_place: out is the gate buffer itself, as the Llama MLP calls it.
    SwigluForwardCase(int64_t n, bool in_place) : n_(n), in_place_(in_place) {}

    Op op() const override { return Op::kSwigluForward; }

    std::string vars() const override {
        return fmt::format("n={},in_place={}", n_, in_place_ ? 1 : 0);
    }

    void build(CaseTensors& t) const override {
        if (!in_place_) {
            t.add("out", Role::kWrite, n_);
        }
        t.add("gate", in_place_ ? Role::kInOut : Role::kInput, n_, -6.0f, 6.0f);
        t.add("up", Role::kInput, n_);
    }

    void run(const Ctx& ctx, const CaseBindings& b) const override {
        kernels::swiglu_forward(ctx, in_place_ ? b.f("gate") : b.f("out"), b.f("gate"), b.f("up"),
                                n_);
    }

private:
    int64_t n_;
    bool in_place_;
};

class SwigluBackwardCase : public OpCase {
public:
    explicit SwigluBackwardCase(int64_t n) : n_(n) {}

    Op op() const override { return Op::kSwigluBackward; }

    std::string vars() const override { return fmt::format("n={}", n_); }

    void build(CaseTensors& t) const override {
        t.add("dgate", Role::kAccumulate, n_);
        t.add("dup", Role::kAccumulate, n_);
        t.add("dout", Role::kInput, n_);
        t.add("gate", Role::kInput, n_, -6.0f, 6.0f);
        t.add("up", Role::kInput, n_);
    }

    void run(const Ctx& ctx, const CaseBindings& b) const override {
        kernels::swiglu_backward(ctx, b.f("dgate"), b.f("dup"), b.f("dout"), b.f("gate"), b.f("up"),
                                 n_);
    }

private:
    int64_t n_;
};

// ---- rope -----------------------------------------------------------------------------------

class RopeCase : public OpCase {
public:
    RopeCase(bool backward, int64_t N, int64_t H, int64_t D, bool llama3)
        : backward_(backward), N_(N), H_(H), D_(D), llama3_(llama3) {}

    Op op() const override { return backward_ ? Op::kRopeBackward : Op::kRopeForward; }

    std::string vars() const override {
        return fmt::format("N={},H={},D={},scaling={}", N_, H_, D_, llama3_ ? "llama3" : "none");
    }

    static constexpr int64_t kTmax = 9000;  // past llama3's original 8192 positions

    void build(CaseTensors& t) const override {
        t.add("x", Role::kInOut, N_ * H_ * D_);
        t.add_i32("pos", N_);
        t.add("cos", Role::kInput, kTmax * D_ / 2);
        t.add("sin", Role::kInput, kTmax * D_ / 2);
    }

    void init_inputs(CaseTensors& t, std::mt19937_64& rng) const override {
        OpCase::init_inputs(t, rng);
        fill_ints(t["pos"], rng, 0, static_cast<int32_t>(kTmax));
        kernels::RopeScaling scaling;
        if (llama3_) {
            scaling.type = kernels::RopeScaling::Type::kLlama3;
            scaling.factor = 8;
        }
        std::vector<float> inv_freq(static_cast<size_t>(D_ / 2));
        kernels::rope_inv_freq(inv_freq.data(), D_, llama3_ ? 500000.0f : 10000.0f, scaling);
        kernels::rope_tables(t["cos"].f32.data(), t["sin"].f32.data(), inv_freq.data(), kTmax, D_);
    }

    void run(const Ctx& ctx, const CaseBindings& b) const override {
        if (backward_) {
            kernels::rope_backward(ctx, b.f("x"), b.i("pos"), b.f("cos"), b.f("sin"), N_, H_, D_);
        } else {
            kernels::rope_forward(ctx, b.f("x"), b.i("pos"), b.f("cos"), b.f("sin"), N_, H_, D_);
        }
    }

private:
    bool backward_;
    int64_t N_, H_, D_;
    bool llama3_;
};

// ---- attention ------------------------------------------------------------------------------

struct AttnShape {
    int64_t B, T, Tk, Hq, Hkv, D, q_pos0;
    bool segments;
    int64_t cache;  // k/v rows per batch in the buffer (>= Tk): a KV cache bigger than Tk
};

class AttentionCase : public OpCase {
public:
    // with_out: the backward also gets the forward's out (the CUDA backend then reads
    // dot(dout, out) from it instead of recomputing out).
    AttentionCase(bool backward, AttnShape s, bool with_out = false)
        : backward_(backward), s_(s), with_out_(with_out) {}

    Op op() const override { return backward_ ? Op::kAttentionBackward : Op::kAttentionForward; }

    // With AttentionImpl::kTensorCores, head dims 64 and 128 run on TF32 tensor cores: operands
    // lose 13 mantissa bits (2^-11 relative), out is off by ~3e-4 relative (NMSE ~1e-7),
    // gradients by ~5e-4 (measured on the H100). With kBf16 (the default) they run on bf16
    // tensor cores: 2^-9 relative per operand, out ~4e-3 relative (NMSE ~2e-5), gradients ~1e-2.
    double max_err() const override {
        const auto impl = kernels::cuda_attention_impl();
        if (s_.D == 64 || s_.D == 128) {
            if (impl == kernels::AttentionImpl::kTensorCores) {
                return backward_ ? 1e-4 : 1e-5;
            }
            if (impl == kernels::AttentionImpl::kBf16) {
                return backward_ ? 2e-3 : 2e-4;
            }
        }
        return 1e-7;
    }

    std::string vars() const override {
        return fmt::format("B={},T={},Tk={},Hq={},Hkv={},D={},q_pos0={},seg={},cache={}{}", s_.B,
                           s_.T, s_.Tk, s_.Hq, s_.Hkv, s_.D, s_.q_pos0, s_.segments ? 1 : 0,
                           s_.cache, with_out_ ? ",out=1" : "");
    }

    int64_t q_count() const { return s_.B * s_.T * s_.Hq * s_.D; }

    int64_t kv_count() const { return s_.B * s_.cache * s_.Hkv * s_.D; }

    void build(CaseTensors& t) const override {
        if (backward_) {
            t.add("dq", Role::kAccumulate, q_count());
            t.add("dk", Role::kAccumulate, kv_count());
            t.add("dv", Role::kAccumulate, kv_count());
            t.add("dout", Role::kInput, q_count());
            t.add("lse", Role::kInput, s_.B * s_.Hq * s_.T);
            if (with_out_) {
                t.add("out", Role::kInput, q_count());
            }
        } else {
            t.add("out", Role::kWrite, q_count());
            t.add("lse", Role::kWrite, s_.B * s_.Hq * s_.T);
        }
        t.add("q", Role::kInput, q_count());
        t.add("k", Role::kInput, kv_count());
        t.add("v", Role::kInput, kv_count());
        if (s_.segments) {
            t.add_i32("seg", s_.B * s_.T);
        }
    }

    void init_inputs(CaseTensors& t, std::mt19937_64& rng) const override {
        OpCase::init_inputs(t, rng);
        if (s_.segments) {
            // Documents of random lengths 1..4 packed back to back.
            auto& seg = t["seg"];
            seg.i32.resize(static_cast<size_t>(seg.count));
            std::uniform_int_distribution<int> len(1, 4);
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
        if (backward_) {  // lse (and out) as the forward saves it
            std::vector<float> scratch(static_cast<size_t>(q_count()));
            float* out = with_out_ ? t["out"].f32.data() : scratch.data();
            auto p = params(out, t["lse"].f32.data(), t["q"].f32.data(), t["k"].f32.data(),
                            t["v"].f32.data(), s_.segments ? t["seg"].i32.data() : nullptr);
            kernels::attention_forward(kHostCtx, p);
        }
    }

    kernels::AttnParams params(float* out, float* lse, const float* q, const float* k,
                               const float* v, const int32_t* seg) const {
        kernels::AttnParams p{};
        p.out = out;
        p.lse = lse;
        p.q = q;
        p.k = k;
        p.v = v;
        p.segment_ids = seg;
        p.B = s_.B;
        p.T = s_.T;
        p.Tk = s_.Tk;
        p.Hq = s_.Hq;
        p.Hkv = s_.Hkv;
        p.D = s_.D;
        p.q_pos0 = s_.q_pos0;
        p.q_row_stride = s_.Hq * s_.D;
        p.q_batch_stride = s_.T * s_.Hq * s_.D;
        p.kv_row_stride = s_.Hkv * s_.D;
        p.kv_batch_stride = s_.cache * s_.Hkv * s_.D;
        return p;
    }

    void run(const Ctx& ctx, const CaseBindings& b) const override {
        const int32_t* seg = s_.segments ? b.i("seg") : nullptr;
        if (backward_) {
            const auto p = params(with_out_ ? b.f("out") : nullptr, b.f("lse"), b.f("q"), b.f("k"),
                                  b.f("v"), seg);
            kernels::attention_backward(ctx, p, b.f("dq"), b.f("dk"), b.f("dv"), b.f("dout"));
        } else {
            kernels::attention_forward(
                ctx, params(b.f("out"), b.f("lse"), b.f("q"), b.f("k"), b.f("v"), seg));
        }
    }

private:
    bool backward_;
    AttnShape s_;
    bool with_out_;
};

// ---- cross-entropy --------------------------------------------------------------------------

class CrossEntropyCase : public OpCase {
public:
    // in_place (backward only): dlogits is the logits buffer itself.
    CrossEntropyCase(bool backward, int64_t N, int64_t V, bool in_place = false)
        : backward_(backward), N_(N), V_(V), in_place_(in_place) {}

    Op op() const override {
        return backward_ ? Op::kCrossEntropyBackward : Op::kCrossEntropyForward;
    }

    std::string vars() const override {
        return in_place_ ? fmt::format("N={},V={},in_place=1", N_, V_)
                         : fmt::format("N={},V={}", N_, V_);
    }

    void build(CaseTensors& t) const override {
        if (backward_) {
            if (!in_place_) {
                t.add("dlogits", Role::kWrite, N_ * V_);  // written, not accumulated
            }
            t.add("lse", Role::kInput, N_);
            t.add("dloss", Role::kInput, N_, 0.5f, 1.5f);
        } else {
            t.add("losses", Role::kWrite, N_);
            t.add("lse", Role::kWrite, N_);
        }
        t.add("logits", in_place_ ? Role::kInOut : Role::kInput, N_ * V_, -8.0f, 8.0f);
        t.add_i32("targets", N_);
    }

    void init_inputs(CaseTensors& t, std::mt19937_64& rng) const override {
        OpCase::init_inputs(t, rng);
        auto& targets = t["targets"];
        fill_ints(targets, rng, 0, static_cast<int32_t>(V_));
        targets.i32[0] = static_cast<int32_t>(V_ - 1);  // the last logit of a row
        if (N_ > 2) {
            targets.i32[1] = -100;  // one ignored row (ignore_index)
        }
        if (backward_) {
            std::vector<float> losses(static_cast<size_t>(N_));
            kernels::cross_entropy_forward(kHostCtx, losses.data(), t["lse"].f32.data(),
                                           t["logits"].f32.data(), targets.i32.data(), N_, V_);
        }
    }

    void run(const Ctx& ctx, const CaseBindings& b) const override {
        if (backward_) {
            kernels::cross_entropy_backward(ctx, in_place_ ? b.f("logits") : b.f("dlogits"),
                                            b.f("logits"), b.f("lse"), b.i("targets"), b.f("dloss"),
                                            N_, V_);
        } else {
            kernels::cross_entropy_forward(ctx, b.f("losses"), b.f("lse"), b.f("logits"),
                                           b.i("targets"), N_, V_);
        }
    }

private:
    bool backward_;
    int64_t N_, V_;
    bool in_place_;
};

}  // namespace

CaseList make_backend_op_cases() {
    CaseList cases;
    auto add = [&](auto* c) {
        cases.emplace_back(c);
    };

    add(new EmbeddingForwardCase(7, 33, 37));
    add(new EmbeddingForwardCase(64, 1025, 131));
    add(new EmbeddingBackwardCase(64, 33, 37));
    add(new EmbeddingBackwardCase(5, 1025, 50));
    add(new EmbeddingForwardCase(1, 4096, 3));  // one row, Llama's width
    add(new EmbeddingBackwardCase(1, 7, 3));
    add(new EmbeddingBackwardCase(600, 65, 50));  // rows past one 256-row chunk, ids repeating

    for (const auto& [N, C] :
         {std::pair<int64_t, int64_t>{1, 33}, std::pair<int64_t, int64_t>{5, 132},
          std::pair<int64_t, int64_t>{3, 260}, std::pair<int64_t, int64_t>{2, 1025},
          std::pair<int64_t, int64_t>{4, 4096}}) {
        add(new RmsnormForwardCase(N, C, false));
        add(new RmsnormBackwardCase(N, C, true));
    }
    add(new RmsnormForwardCase(3, 260, true));
    add(new RmsnormBackwardCase(3, 260, false));

    for (const bool ta : {false, true}) {
        for (const bool tb : {false, true}) {
            add(new GemmCase(ta, tb, 33, 65, 17, 0.0f));
            add(new GemmCase(ta, tb, 33, 65, 17, 0.5f));
            add(new GemmCase(ta, tb, 7, 1, 129, 1.0f));
        }
    }
    add(new LinearForwardCase(5, 33, 17, false));
    add(new LinearForwardCase(5, 33, 17, true));
    add(new LinearForwardCase(3, 1025, 260, true));
    add(new LinearBackwardCase(5, 33, 17, "iwb"));
    add(new LinearBackwardCase(5, 33, 17, "i"));
    add(new LinearBackwardCase(3, 1025, 260, "wb"));

    for (const int64_t n : {1, 33, 14337}) {
        add(new SwigluForwardCase(n, false));
        add(new SwigluBackwardCase(n));
    }
    add(new SwigluForwardCase(1027, true));

    for (const bool backward : {false, true}) {
        add(new RopeCase(backward, 5, 3, 6, false));
        add(new RopeCase(backward, 7, 2, 70, false));
        add(new RopeCase(backward, 9, 4, 128, true));
    }

    const AttnShape attn_shapes[] = {
        {2, 5, 5, 4, 2, 7, 0, false, 5},       // odd head_dim and sequence, GQA
        {1, 33, 33, 8, 2, 64, 0, false, 33},   // a longer prefill
        {2, 9, 9, 4, 2, 8, 0, true, 9},        // packed segments
        {2, 5, 12, 2, 2, 6, 7, false, 16},     // KV cache: 5 new queries after 7 cached keys
        {2, 1, 40, 4, 1, 128, 39, false, 48},  // decode step, MQA, head_dim 128
        // Shapes for the CUDA flash kernels' tiles (fp32: 32 queries x 32 keys, 8 query tiles per
        // backward block; bf16 mma: forward blocks of 128 queries over 64-key tiles, backward
        // blocks of 128 keys over 64-query tiles) and head-dim paths (32, 64, 128):
        {2, 70, 70, 8, 2, 128, 0, false, 70},      // T not a multiple of 32, GQA 4:1, D = 128
        {1, 100, 100, 4, 1, 64, 0, true, 100},     // segments across tiles, GQA 4:1, D = 64
        {2, 37, 50, 4, 1, 8, 13, false, 64},       // q_pos0 > 0, k/v strided in a cache, D = 8
        {1, 5, 20, 2, 1, 33, 3, false, 24},        // keys past the last query (never seen)
        {1, 300, 300, 2, 1, 64, 0, false, 300},    // 10 query tiles: two backward chunks
        {1, 80, 200, 4, 2, 128, 120, false, 210},  // cache, 2 query x 4 key tiles of 64, D = 128
        {1, 300, 300, 8, 2, 128, 0, true, 300},    // 3 blocks of 128 (last partial), segments
    };
    for (const bool backward : {false, true}) {
        for (const auto& s : attn_shapes) {
            add(new AttentionCase(backward, s));
        }
    }
    // T = 1 with no cache: forward only (one key, so P = 1 and dq = dk = 0 up to rounding noise,
    // which a relative measure cannot judge).
    add(new AttentionCase(false, {1, 1, 1, 2, 1, 16, 0, false, 1}));
    add(new AttentionCase(true, {2, 70, 70, 8, 2, 128, 0, false, 70}, true));
    add(new AttentionCase(true, {2, 9, 9, 4, 2, 8, 0, true, 9}, true));

    for (const bool backward : {false, true}) {
        add(new CrossEntropyCase(backward, 7, 37));
        add(new CrossEntropyCase(backward, 3, 32000));
        add(new CrossEntropyCase(backward, 2, 128256));
        add(new CrossEntropyCase(backward, 3, 32003));  // prime
        add(new CrossEntropyCase(backward, 1, 32000));  // one row
        add(new CrossEntropyCase(backward, 4, 50257));  // odd: no float4 path
    }
    add(new CrossEntropyCase(true, 3, 32000, true));  // dlogits over the logits
    add(new CrossEntropyCase(true, 3, 1027, true));
    add_nf4_cases(cases);
    add_train_cases(cases);
    add_encoder_cases(cases);
    add_bf16_cases(cases);
    add_attention_bf16_cases(cases);
    add_rope_bf16_cases(cases);
    add_lora_cases(cases);
    return cases;
}

}  // namespace qforge::test
