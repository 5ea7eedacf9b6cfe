// What is here: the harness cases of the bf16 operand ops. convert_to_bf16 (and its batch),
// convert_from_bf16 and nf4_dequantize_bf16 must match the CPU bit for bit (outputs are add_u16
// tensors, so the columns past `cols` of every row keep the harness's sentinel on both
// backends; the fp32 output of convert_from_bf16 is one too, two words a value, so that the NaN
// and inf it must produce pass the harness's finiteness check and its bits are compared);
// shapes cover the vector paths (cols, strides multiples of 4 / 8), the scalar fallbacks (odd
// cols, odd strides, a misaligned pointer) and, for NF4, 8-value groups that straddle rows. One
// convert case carries NaN, inf, overflow, ties and subnormals. gemm_bf16 runs every transpose pair
// with beta 0 and not, odd and 8-aligned leading dimensions, and K = 0, compared by NMSE (both
// backends multiply the same bf16 values exactly and sum in fp32). gemm_bf16_to_bf16 runs every
// transpose pair over odd and 8-aligned lda / ldb / ldc, a tensor-core shape and K = 0; its bf16
// C (padding columns keep the sentinel) is judged like the next three. swiglu_forward_bf16,
// swiglu_backward_bf16 (random non-zero bf16 inputs) and rmsnorm_forward_bf16 round fp32 values
// that the backends compute differently (CPU in double, CUDA in fp32 with expf), so their outputs
// must be within one bf16 ulp of the CPU's (OpCase::bf16_abs_floor), over the same vector /
// scalar shapes, misaligned inputs and outputs, and padding columns that keep the sentinel.
#include <algorithm>
#include <bit>
#include <fmt/format.h>
#include <limits>
#include <random>
#include <vector>

#include "kernels/bf16.h"
#include "kernels/bf16_bits.h"
#include "kernels/cross_entropy.h"
#include "kernels/gemm.h"
#include "kernels/nf4.h"
#include "kernels/op_case.h"
#include "kernels/rmsnorm.h"
#include "kernels/swiglu.h"

namespace qforge::test {
namespace {

using kernels::Ctx;
using kernels::Op;

// The fp32 inputs where rounding is interesting, by bit pattern.
constexpr uint32_t kSpecialBits[] = {
    0x7FC00000u,  // quiet NaN
    0xFFC00001u,  // negative NaN with a payload
    0x7F800001u,  // signalling NaN: its payload sits in the bits that rounding drops
    0x7F800000u,  // inf
    0xFF800000u,  // -inf
    0x7F7FFFFFu,  // FLT_MAX: rounds up to inf
    0x7F7F7FFFu,  // just below the rounding point: stays finite
    0x3F808000u,  // 1 + 2^-8: a tie, to even (down)
    0x3F818000u,  // a tie, to even (up)
    0xBF808001u,  // just past a tie: up in magnitude
    0x00008000u,  // a subnormal tie: to 0
    0x00018000u,  // a subnormal tie: up
    0x80000001u,  // the smallest negative subnormal
    0x00000000u,  // +0
    0x80000000u,  // -0
};

class ConvertToBf16Case : public OpCase {
public:
    // in_offset: the op reads from in + in_offset (1: a float4-misaligned start).
    ConvertToBf16Case(int64_t rows, int64_t cols, int64_t ld_in, int64_t ld_out, float scale,
                      int64_t in_offset = 0, bool special = false)
        : rows_(rows),
          cols_(cols),
          ld_in_(ld_in),
          ld_out_(ld_out),
          scale_(scale),
          in_offset_(in_offset),
          special_(special) {}

    Op op() const override { return Op::kConvertToBf16; }

    std::string vars() const override {
        return fmt::format("rows={},cols={},ld_in={},ld_out={},scale={},in_offset={},special={}",
                           rows_, cols_, ld_in_, ld_out_, scale_, in_offset_, special_ ? 1 : 0);
    }

    bool bit_exact() const override { return true; }

    void build(CaseTensors& t) const override {
        t.add("in", Role::kInput, in_offset_ + rows_ * ld_in_, -4.0f, 4.0f);
        t.add_u16("out", Role::kWrite, rows_ * ld_out_);
    }

    void init_inputs(CaseTensors& t, std::mt19937_64& rng) const override {
        OpCase::init_inputs(t, rng);
        if (special_) {
            auto& in = t["in"].f32;
            size_t k = 0;
            for (const uint32_t bits : kSpecialBits) {
                in[static_cast<size_t>(in_offset_) + k] = std::bit_cast<float>(bits);
                k += 3;  // spread over rows and columns
            }
        }
    }

    void run(const Ctx& ctx, const CaseBindings& b) const override {
        kernels::convert_to_bf16(ctx, b.u16("out"), ld_out_, b.f("in") + in_offset_, ld_in_, rows_,
                                 cols_, scale_);
    }

private:
    int64_t rows_, cols_, ld_in_, ld_out_;
    float scale_;
    int64_t in_offset_;
    bool special_;
};

// convert_to_bf16_batch over a packed LoRA operand's layout, as the train step uses it: per
// projection (out, in) a scaled B (out, r) into the columns [in, in + r) of the first out rows
// and A (r, in) into the r rows below, of one (out + r, ld) matrix each; a projection with r = 0
// adds two empty conversions. More projections than one launch covers split into launches.
class ConvertToBf16BatchCase : public OpCase {
public:
    struct Projection {
        int64_t out, in, r;
    };

    explicit ConvertToBf16BatchCase(std::vector<Projection> projections)
        : projections_(std::move(projections)) {}

    Op op() const override { return Op::kConvertToBf16Batch; }

    std::string vars() const override {
        std::string v;
        for (const auto& p : projections_) {
            v += fmt::format("{}{}x{}r{}", v.empty() ? "" : ",", p.out, p.in, p.r);
        }
        return v;
    }

    bool bit_exact() const override { return true; }

    void build(CaseTensors& t) const override {
        int64_t in = 0, out = 0;
        for (const auto& p : projections_) {
            in += p.r * (p.out + p.in);
            out += (p.out + p.r) * ld(p);
        }
        t.add("factors", Role::kInput, std::max<int64_t>(1, in), -4.0f, 4.0f);
        t.add_u16("packed", Role::kWrite, out);
    }

    void run(const Ctx& ctx, const CaseBindings& b) const override {
        std::vector<kernels::Bf16Conversion> conversions;
        const float* in = b.f("factors");
        uint16_t* out = b.u16("packed");
        float scale = 0.75f;
        for (const auto& p : projections_) {
            const int64_t ld_p = ld(p);
            conversions.push_back(
                {out + p.in, ld_p, in, std::max<int64_t>(1, p.r), p.out, p.r, scale});  // B, scaled
            conversions.push_back(
                {out + p.out * ld_p, ld_p, in + p.out * p.r, p.in, p.r, p.in, 1.0f});  // A
            in += p.r * (p.out + p.in);
            out += (p.out + p.r) * ld_p;
            scale += 0.5f;
        }
        kernels::convert_to_bf16_batch(ctx, conversions);
    }

private:
    static int64_t ld(const Projection& p) { return (p.in + p.r + 7) / 8 * 8; }

    std::vector<Projection> projections_;
};

// bf16 inputs with a special meaning, by bit pattern: convert_from_bf16 must keep every bit.
constexpr uint16_t kSpecialBf16[] = {
    0x7FC0u,  // quiet NaN
    0xFFC1u,  // negative NaN with a payload
    0x7F81u,  // signalling NaN: a float operation would quiet it
    0x7F80u,  // inf
    0xFF80u,  // -inf
    0x7F7Fu,  // the largest finite bf16
    0x0001u,  // the smallest subnormal
    0x807Fu,  // the largest negative subnormal
    0x0080u,  // the smallest normal
    0x0000u,  // +0
    0x8000u,  // -0
};

// convert_from_bf16 over random 16-bit patterns (every class: normals, subnormals, zeros, inf,
// NaN with payloads) plus kSpecialBf16. in_offset counts bf16 words (1: an 8-byte-misaligned
// start), out_offset fp32 values (1: a 16-byte-misaligned start); either takes the scalar path.
class ConvertFromBf16Case : public OpCase {
public:
    ConvertFromBf16Case(int64_t rows, int64_t cols, int64_t ld_in, int64_t ld_out,
                        int64_t in_offset = 0, int64_t out_offset = 0)
        : rows_(rows),
          cols_(cols),
          ld_in_(ld_in),
          ld_out_(ld_out),
          in_offset_(in_offset),
          out_offset_(out_offset) {}

    Op op() const override { return Op::kConvertFromBf16; }

    std::string vars() const override {
        return fmt::format("rows={},cols={},ld_in={},ld_out={},in_offset={},out_offset={}", rows_,
                           cols_, ld_in_, ld_out_, in_offset_, out_offset_);
    }

    bool bit_exact() const override { return true; }

    void build(CaseTensors& t) const override {
        t.add_u16("in", Role::kInput, in_offset_ + rows_ * ld_in_);
        // fp32 values held as pairs of 16-bit words: every word starts as the sentinel.
        t.add_u16("out", Role::kWrite, 2 * (out_offset_ + rows_ * ld_out_));
    }

    void init_inputs(CaseTensors& t, std::mt19937_64& rng) const override {
        OpCase::init_inputs(t, rng);
        CaseTensor& in = t["in"];
        uint16_t* v = u16_data(in);
        const int64_t n = in_offset_ + rows_ * ld_in_;
        std::uniform_int_distribution<uint32_t> bits(0, 0xFFFF);
        for (int64_t e = 0; e < n; e++) {
            v[e] = static_cast<uint16_t>(bits(rng));
        }
        // The specials spread over rows and columns of the read region.
        int64_t k = 0;
        for (const uint16_t s : kSpecialBf16) {
            const int64_t r = k % rows_, c = (k * 5) % cols_;
            v[in_offset_ + r * ld_in_ + c] = s;
            k++;
        }
    }

    void run(const Ctx& ctx, const CaseBindings& b) const override {
        float* out = reinterpret_cast<float*>(b.u16("out")) + out_offset_;
        kernels::convert_from_bf16(ctx, out, ld_out_, b.u16("in") + in_offset_, ld_in_, rows_,
                                   cols_);
    }

private:
    int64_t rows_, cols_, ld_in_, ld_out_, in_offset_, out_offset_;
};

// nf4_dequantize_bf16 of weights quantized on the CPU, as Nf4DequantizeCase does for fp32.
class Nf4DequantizeBf16Case : public OpCase {
public:
    // out_offset: the op writes from out + out_offset (1: a 16-byte-misaligned start).
    Nf4DequantizeBf16Case(int64_t rows, int64_t cols, int64_t ld_out, int64_t out_offset = 0)
        : rows_(rows), cols_(cols), ld_out_(ld_out), out_offset_(out_offset) {}

    Op op() const override { return Op::kNf4DequantizeBf16; }

    std::string vars() const override {
        return fmt::format("rows={},cols={},ld_out={},out_offset={}", rows_, cols_, ld_out_,
                           out_offset_);
    }

    bool bit_exact() const override { return true; }

    int64_t numel() const { return rows_ * cols_; }

    void build(CaseTensors& t) const override {
        const kernels::Nf4Sizes sizes = kernels::nf4_storage_sizes(numel());
        t.add_u16("out", Role::kWrite, out_offset_ + rows_ * ld_out_);
        t.add_bytes("packed", sizes.packed_bytes);
        t.add_bytes("absmax_q", sizes.blocks);
        t.add("nested_absmax", Role::kInput, sizes.nested_blocks);
        t.add("nested_code", Role::kInput, 256);
        t.add("code", Role::kInput, 16);
        t.add("offset", Role::kInput, 1);  // passed by value: run() reads the host copy
    }

    void init_inputs(CaseTensors& t, std::mt19937_64& rng) const override {
        OpCase::init_inputs(t, rng);
        std::normal_distribution<float> dist(0.0f, 0.02f);
        std::vector<float> w(static_cast<size_t>(numel()));
        for (auto& x : w) {
            x = dist(rng);
        }
        // One block of outliers, so the absmax codes spread over a wide range.
        for (int64_t i = 0; i < std::min<int64_t>(numel(), kernels::kNf4BlockSize); i++) {
            w[static_cast<size_t>(i)] *= 40.0f;
        }
        kernels::nf4_quantize(w.data(), numel(), byte_data(t["packed"]), byte_data(t["absmax_q"]),
                              t["nested_absmax"].f32.data(), t["offset"].f32.data());
        const float* nested = kernels::dynamic_map_signed();
        t["nested_code"].f32.assign(nested, nested + 256);
        const float* code = kernels::nf4_code_table();
        t["code"].f32.assign(code, code + 16);
    }

    void run(const Ctx& ctx, const CaseBindings& b) const override {
        const kernels::Nf4View view{
            .packed = b.u8("packed"),
            .absmax_q = b.u8("absmax_q"),
            .nested_absmax = b.f("nested_absmax"),
            .nested_code = b.f("nested_code"),
            .code = b.f("code"),
            .offset = b.host("offset").f32[0],
            .numel = numel(),
        };
        kernels::nf4_dequantize_bf16(ctx, b.u16("out") + out_offset_, ld_out_, view, rows_, cols_);
    }

private:
    int64_t rows_, cols_, ld_out_, out_offset_;
};

// Fills every word of the add_u16 tensor x with a random non-zero bf16 value, uniform in [lo, hi)
// before rounding.
void fill_bf16(CaseTensor& x, std::mt19937_64& rng, float lo, float hi) {
    std::uniform_real_distribution<float> dist(lo, hi);
    uint16_t* v = u16_data(x);
    for (int64_t e = 0; e < 2 * x.count; e++) {
        uint16_t bits = 0;
        while ((bits & 0x7FFFu) == 0) {  // never a zero
            bits = kernels::f32_to_bf16_bits(dist(rng));
        }
        v[e] = bits;
    }
}

class GemmBf16Case : public OpCase {
public:
    // pad_a, pad_b: lda - (stored row length of A), likewise B (7 with a row length of 1 mod 8
    // gives 16-byte rows).
    GemmBf16Case(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float beta, int64_t pad_a,
                 int64_t pad_b)
        : ta_(ta), tb_(tb), M_(M), N_(N), K_(K), beta_(beta), pad_a_(pad_a), pad_b_(pad_b) {}

    Op op() const override { return Op::kGemmBf16; }

    std::string vars() const override {
        return fmt::format("op={}{},M={},N={},K={},beta={},lda={},ldb={}", ta_ ? 'T' : 'N',
                           tb_ ? 'T' : 'N', M_, N_, K_, beta_, lda(), ldb());
    }

    int64_t lda() const { return std::max<int64_t>(1, (ta_ ? M_ : K_) + pad_a_); }

    int64_t ldb() const { return std::max<int64_t>(1, (tb_ ? K_ : N_) + pad_b_); }

    void build(CaseTensors& t) const override {
        t.add_u16("A", Role::kInput, (ta_ ? K_ : M_) * lda());
        t.add_u16("B", Role::kInput, (tb_ ? N_ : K_) * ldb());
        // C is dense so that every element is an output the harness judges; beta == 0 must not
        // read it (its NaN pre-fill must not leak through).
        t.add("C", beta_ == 0.0f ? Role::kWrite : Role::kInOut, M_ * N_);
    }

    void init_inputs(CaseTensors& t, std::mt19937_64& rng) const override {
        OpCase::init_inputs(t, rng);
        fill_bf16(t["A"], rng, -1.0f, 1.0f);
        fill_bf16(t["B"], rng, -1.0f, 1.0f);
    }

    void run(const Ctx& ctx, const CaseBindings& b) const override {
        kernels::gemm_bf16(ctx, ta_, tb_, M_, N_, K_, 0.75f, b.u16("A"), lda(), b.u16("B"), ldb(),
                           beta_, b.f("C"), N_);
    }

private:
    bool ta_, tb_;
    int64_t M_, N_, K_;
    float beta_;
    int64_t pad_a_, pad_b_;
};

// gemm_bf16_add: D = 0.75 op(A) op(B) + R out of place; R is an input that must stay as it is, D
// is written without being read (its NaN pre-fill must not leak through).
class GemmBf16AddCase : public GemmBf16Case {
public:
    GemmBf16AddCase(bool ta, bool tb, int64_t M, int64_t N, int64_t K, int64_t pad_a, int64_t pad_b)
        : GemmBf16Case(ta, tb, M, N, K, 1.0f, pad_a, pad_b),
          M_(M),
          N_(N),
          K_(K),
          ta_(ta),
          tb_(tb) {}

    std::string vars() const override { return "add," + GemmBf16Case::vars(); }

    void build(CaseTensors& t) const override {
        t.add_u16("A", Role::kInput, (ta_ ? K_ : M_) * lda());
        t.add_u16("B", Role::kInput, (tb_ ? N_ : K_) * ldb());
        t.add("R", Role::kInput, M_ * N_);
        t.add("D", Role::kWrite, M_ * N_);
    }

    void run(const Ctx& ctx, const CaseBindings& b) const override {
        kernels::gemm_bf16_add(ctx, ta_, tb_, M_, N_, K_, 0.75f, b.u16("A"), lda(), b.u16("B"),
                               ldb(), b.f("R"), b.f("D"), N_);
    }

private:
    int64_t M_, N_, K_;
    bool ta_, tb_;
};

// gemm_bf16_to_bf16: C (M, N) bf16 with row stride ldc = N + pad_c, whose padding columns keep
// the sentinel. pad_*: as in GemmBf16Case.
class GemmBf16ToBf16Case : public OpCase {
public:
    GemmBf16ToBf16Case(bool ta, bool tb, int64_t M, int64_t N, int64_t K, int64_t pad_a,
                       int64_t pad_b, int64_t pad_c)
        : ta_(ta), tb_(tb), M_(M), N_(N), K_(K), pad_a_(pad_a), pad_b_(pad_b), pad_c_(pad_c) {}

    Op op() const override { return Op::kGemmBf16ToBf16; }

    std::string vars() const override {
        return fmt::format("op={}{},M={},N={},K={},lda={},ldb={},ldc={}", ta_ ? 'T' : 'N',
                           tb_ ? 'T' : 'N', M_, N_, K_, lda(), ldb(), ldc());
    }

    // Both backends multiply the same bf16 values exactly but sum them in different orders in
    // fp32 (OpenBLAS vs cuBLASLt's tensor-core tiles, maybe split K). Two such sums of K terms
    // differ by about sqrt(K) 2^-24 times the size of the partial sums (at most K 2^-24):
    // 2^-20 of max |C| for K = 256. Near a rounding boundary that flips one bf16 ulp (allowed);
    // only for an element that cancels to far below max |C| can it be more ulps of that
    // element, hence an absolute floor of 2^-16 max |C| (16x the typical difference at K = 256,
    // still 2^-8 of one ulp of the largest values, so a wrong sum cannot hide under it).
    double bf16_abs_floor() const override { return 0x1p-16; }

    int64_t lda() const { return std::max<int64_t>(1, (ta_ ? M_ : K_) + pad_a_); }

    int64_t ldb() const { return std::max<int64_t>(1, (tb_ ? K_ : N_) + pad_b_); }

    int64_t ldc() const { return std::max<int64_t>(1, N_ + pad_c_); }

    void build(CaseTensors& t) const override {
        t.add_u16("A", Role::kInput, (ta_ ? K_ : M_) * lda());
        t.add_u16("B", Role::kInput, (tb_ ? N_ : K_) * ldb());
        t.add_u16("C", Role::kWrite, M_ * ldc());
    }

    void init_inputs(CaseTensors& t, std::mt19937_64& rng) const override {
        OpCase::init_inputs(t, rng);
        fill_bf16(t["A"], rng, -1.0f, 1.0f);
        fill_bf16(t["B"], rng, -1.0f, 1.0f);
    }

    void run(const Ctx& ctx, const CaseBindings& b) const override {
        kernels::gemm_bf16_to_bf16(ctx, ta_, tb_, M_, N_, K_, 0.75f, b.u16("A"), lda(), b.u16("B"),
                                   ldb(), b.u16("C"), ldc());
    }

private:
    bool ta_, tb_;
    int64_t M_, N_, K_;
    int64_t pad_a_, pad_b_, pad_c_;
};

// swiglu_forward_bf16 / swiglu_backward_bf16: (N, F) bf16 inputs (random, non-zero; gate in about
// [-6, 6]) read from in_offset, bf16 outputs with row stride ld written from out_offset (1:
// misaligned, the scalar path).
class SwigluBf16Case : public OpCase {
public:
    SwigluBf16Case(bool backward, int64_t N, int64_t F, int64_t ld, int64_t in_offset = 0,
                   int64_t out_offset = 0)
        : backward_(backward),
          N_(N),
          F_(F),
          ld_(ld),
          in_offset_(in_offset),
          out_offset_(out_offset) {}

    Op op() const override { return backward_ ? Op::kSwigluBackwardBf16 : Op::kSwigluForwardBf16; }

    std::string vars() const override {
        return fmt::format("N={},F={},ld={},in_offset={},out_offset={}", N_, F_, ld_, in_offset_,
                           out_offset_);
    }

    // dgate's fp32 value is a product with 1 + g (1 - sigmoid(g)), which cancels near g = -1.28:
    // there the CUDA fp32 and CPU double values differ by ~1e-7 absolute, more than a bf16 ulp
    // of such a small value.
    double bf16_abs_floor() const override { return backward_ ? 0x1p-20 : 0.0; }

    void build(CaseTensors& t) const override {
        const int64_t out = out_offset_ + N_ * ld_;
        if (backward_) {
            t.add_u16("dgate", Role::kWrite, out);
            t.add_u16("dup", Role::kWrite, out);
            t.add_u16("dh", Role::kInput, in_offset_ + N_ * F_);
        } else {
            t.add_u16("h", Role::kWrite, out);
        }
        t.add_u16("gate", Role::kInput, in_offset_ + N_ * F_);
        t.add_u16("up", Role::kInput, in_offset_ + N_ * F_);
    }

    void init_inputs(CaseTensors& t, std::mt19937_64& rng) const override {
        OpCase::init_inputs(t, rng);
        if (backward_) {
            fill_bf16(t["dh"], rng, -1.0f, 1.0f);
        }
        fill_bf16(t["gate"], rng, -6.0f, 6.0f);
        fill_bf16(t["up"], rng, -1.0f, 1.0f);
    }

    void run(const Ctx& ctx, const CaseBindings& b) const override {
        const uint16_t* gate = b.u16("gate") + in_offset_;
        const uint16_t* up = b.u16("up") + in_offset_;
        if (backward_) {
            kernels::swiglu_backward_bf16(ctx, b.u16("dgate") + out_offset_,
                                          b.u16("dup") + out_offset_, ld_, b.u16("dh") + in_offset_,
                                          gate, up, N_, F_);
        } else {
            kernels::swiglu_forward_bf16(ctx, b.u16("h") + out_offset_, ld_, gate, up, N_, F_);
        }
    }

private:
    bool backward_;
    int64_t N_, F_, ld_, in_offset_, out_offset_;
};

class RmsnormForwardBf16Case : public OpCase {
public:
    RmsnormForwardBf16Case(int64_t N, int64_t C, int64_t ld_out, int64_t out_offset = 0,
                           bool rstd = true)
        : N_(N), C_(C), ld_out_(ld_out), out_offset_(out_offset), rstd_(rstd) {}

    Op op() const override { return Op::kRmsnormForwardBf16; }

    std::string vars() const override {
        return fmt::format("N={},C={},ld_out={},out_offset={},rstd={}", N_, C_, ld_out_,
                           out_offset_, rstd_ ? 1 : 0);
    }

    void build(CaseTensors& t) const override {
        t.add_u16("out", Role::kWrite, out_offset_ + N_ * ld_out_);
        if (rstd_) {
            t.add("rstd", Role::kWrite, N_);
        }
        t.add("inp", Role::kInput, N_ * C_, -2.0f, 2.0f);
        t.add("weight", Role::kInput, C_, 0.5f, 1.5f);
    }

    void run(const Ctx& ctx, const CaseBindings& b) const override {
        kernels::rmsnorm_forward_bf16(ctx, b.u16("out") + out_offset_, ld_out_,
                                      rstd_ ? b.f("rstd") : nullptr, b.f("inp"), b.f("weight"), N_,
                                      C_, 1e-5f);
    }

private:
    int64_t N_, C_, ld_out_, out_offset_;
    bool rstd_;
};

}  // namespace

// cross_entropy_backward_bf16: dlogits (N, V) bf16 in rows of stride ld = V + pad whose padding
// keeps the sentinel; lse from the CPU forward; one target at the last logit, one ignored row.
class CrossEntropyBackwardBf16Case : public OpCase {
public:
    CrossEntropyBackwardBf16Case(int64_t N, int64_t V, int64_t pad) : N_(N), V_(V), pad_(pad) {}

    Op op() const override { return Op::kCrossEntropyBackward; }

    std::string vars() const override { return fmt::format("bf16,N={},V={},ld={}", N_, V_, ld()); }

    int64_t ld() const { return V_ + pad_; }

    void build(CaseTensors& t) const override {
        t.add_u16("dlogits", Role::kWrite, N_ * ld());
        t.add("lse", Role::kInput, N_);
        t.add("dloss", Role::kInput, N_, 0.5f, 1.5f);
        t.add("logits", Role::kInput, N_ * V_, -8.0f, 8.0f);
        t.add_i32("targets", N_);
    }

    void init_inputs(CaseTensors& t, std::mt19937_64& rng) const override {
        OpCase::init_inputs(t, rng);
        auto& targets = t["targets"];
        std::uniform_int_distribution<int32_t> pick(0, static_cast<int32_t>(V_ - 1));
        targets.i32.resize(static_cast<size_t>(targets.count));
        for (auto& v : targets.i32) {
            v = pick(rng);
        }
        targets.i32[0] = static_cast<int32_t>(V_ - 1);
        if (N_ > 2) {
            targets.i32[1] = -100;
        }
        std::vector<float> losses(static_cast<size_t>(N_));
        kernels::cross_entropy_forward(Ctx{}, losses.data(), t["lse"].f32.data(),
                                       t["logits"].f32.data(), targets.i32.data(), N_, V_);
    }

    void run(const Ctx& ctx, const CaseBindings& b) const override {
        kernels::cross_entropy_backward_bf16(ctx, b.u16("dlogits"), ld(), b.f("logits"), b.f("lse"),
                                             b.i("targets"), b.f("dloss"), N_, V_);
    }

private:
    int64_t N_, V_, pad_;
};

void add_bf16_cases(CaseList& cases) {
    cases.emplace_back(new ConvertToBf16Case(1, 1, 1, 1, 1.0f));
    cases.emplace_back(new ConvertToBf16Case(7, 33, 35, 40, 0.37f));         // scalar: odd cols
    cases.emplace_back(new ConvertToBf16Case(5, 64, 64, 64, 1.0f));          // float4, dense
    cases.emplace_back(new ConvertToBf16Case(3, 128, 132, 136, 2.5f));       // float4, ld > cols
    cases.emplace_back(new ConvertToBf16Case(17, 1028, 1028, 1030, -0.5f));  // ld_out % 4: scalar
    cases.emplace_back(new ConvertToBf16Case(9, 256, 260, 264, 1.0f, 1));    // misaligned in
    cases.emplace_back(new ConvertToBf16Case(65, 4100, 4100, 4104, 0.125f));
    cases.emplace_back(new ConvertToBf16Case(4, 16, 16, 20, 1.0f, 0, true));  // specials, float4
    cases.emplace_back(new ConvertToBf16Case(5, 13, 13, 15, 1.0f, 0, true));  // specials, scalar

    // a layer's seven projections (GQA shapes, odd sizes), one without LoRA; then 9 x 2 = 18
    // conversions: two launches
    cases.emplace_back(new ConvertToBf16BatchCase({{64, 48, 8},
                                                   {16, 48, 8},
                                                   {16, 48, 8},
                                                   {48, 64, 8},
                                                   {172, 64, 16},
                                                   {172, 64, 0},
                                                   {64, 172, 16}}));
    cases.emplace_back(new ConvertToBf16BatchCase({{33, 17, 3},
                                                   {5, 7, 1},
                                                   {129, 31, 5},
                                                   {8, 8, 8},
                                                   {1, 1, 1},
                                                   {40, 24, 16},
                                                   {7, 300, 2},
                                                   {300, 7, 2},
                                                   {65, 65, 4}}));

    cases.emplace_back(new ConvertFromBf16Case(1, 1, 1, 1));
    cases.emplace_back(new ConvertFromBf16Case(7, 33, 35, 40));           // scalar: odd cols
    cases.emplace_back(new ConvertFromBf16Case(5, 64, 64, 64));           // vector, dense
    cases.emplace_back(new ConvertFromBf16Case(3, 128, 132, 136));        // vector, ld > cols
    cases.emplace_back(new ConvertFromBf16Case(5, 13, 15, 13));           // scalar: odd ld_in
    cases.emplace_back(new ConvertFromBf16Case(17, 1028, 1028, 1030));    // ld_out % 4: scalar
    cases.emplace_back(new ConvertFromBf16Case(9, 256, 260, 264, 1, 0));  // misaligned in
    cases.emplace_back(new ConvertFromBf16Case(9, 256, 260, 264, 0, 1));  // misaligned out
    cases.emplace_back(new ConvertFromBf16Case(65, 4100, 4104, 4108));    // vector, many rows

    cases.emplace_back(new Nf4DequantizeBf16Case(7, 33, 40));        // groups straddle rows
    cases.emplace_back(new Nf4DequantizeBf16Case(12, 20, 24));       // some groups in one row
    cases.emplace_back(new Nf4DequantizeBf16Case(64, 72, 80));       // 16-byte stores, ld > cols
    cases.emplace_back(new Nf4DequantizeBf16Case(67, 256, 256));     // dense, 2 nested groups
    cases.emplace_back(new Nf4DequantizeBf16Case(33, 64, 68));       // ld_out % 8 != 0: scalar
    cases.emplace_back(new Nf4DequantizeBf16Case(16, 64, 64, 1));    // misaligned out: scalar
    cases.emplace_back(new Nf4DequantizeBf16Case(1025, 17, 17));     // odd numel, half a byte
    cases.emplace_back(new Nf4DequantizeBf16Case(129, 4104, 4112));  // 33 nested groups

    for (const bool ta : {false, true}) {
        for (const bool tb : {false, true}) {
            cases.emplace_back(new GemmBf16Case(ta, tb, 33, 65, 17, 0.0f, 3, 1));
            cases.emplace_back(new GemmBf16Case(ta, tb, 33, 65, 17, 0.5f, 0, 0));
            cases.emplace_back(new GemmBf16Case(ta, tb, 7, 1, 129, 1.0f, 2, 5));
            cases.emplace_back(new GemmBf16Case(ta, tb, 64, 128, 256, 0.0f, 8, 0));  // tensor cores
        }
    }
    cases.emplace_back(new GemmBf16Case(false, false, 5, 7, 0, 0.5f, 0, 0));  // K = 0: C *= beta
    cases.emplace_back(new GemmBf16Case(true, false, 5, 7, 0, 0.0f, 0, 0));   // K = 0: C = 0
    cases.emplace_back(new GemmBf16AddCase(false, true, 33, 65, 17, 3, 1));
    cases.emplace_back(new GemmBf16AddCase(true, false, 64, 128, 256, 8, 0));  // tensor cores
    cases.emplace_back(new GemmBf16AddCase(false, false, 5, 7, 0, 0, 0));      // K = 0: D = R
    cases.emplace_back(new CrossEntropyBackwardBf16Case(5, 1000, 8));          // vec4 rows
    cases.emplace_back(new CrossEntropyBackwardBf16Case(3, 37, 3));            // odd V: scalar path
    cases.emplace_back(new CrossEntropyBackwardBf16Case(4, 32000, 0));         // Llama-2 vocab

    for (const bool ta : {false, true}) {
        for (const bool tb : {false, true}) {
            cases.emplace_back(new GemmBf16ToBf16Case(ta, tb, 33, 65, 17, 3, 1, 2));    // odd ld
            cases.emplace_back(new GemmBf16ToBf16Case(ta, tb, 24, 40, 32, 0, 0, 0));    // 8-aligned
            cases.emplace_back(new GemmBf16ToBf16Case(ta, tb, 7, 1, 129, 2, 5, 7));     // ldc 8
            cases.emplace_back(new GemmBf16ToBf16Case(ta, tb, 64, 128, 256, 8, 0, 8));  // tensor
        }
    }
    cases.emplace_back(new GemmBf16ToBf16Case(false, false, 5, 7, 0, 0, 0, 3));  // K = 0: C = 0
    cases.emplace_back(new GemmBf16ToBf16Case(true, true, 6, 9, 0, 0, 0, 0));    // K = 0, dense

    for (const bool backward : {false, true}) {
        cases.emplace_back(new SwigluBf16Case(backward, 1, 1, 1));
        cases.emplace_back(new SwigluBf16Case(backward, 7, 33, 40));        // scalar: odd F
        cases.emplace_back(new SwigluBf16Case(backward, 5, 64, 64));        // vec4, dense
        cases.emplace_back(new SwigluBf16Case(backward, 3, 128, 136));      // vec4, ld > F
        cases.emplace_back(new SwigluBf16Case(backward, 9, 36, 38));        // ld % 4: scalar
        cases.emplace_back(new SwigluBf16Case(backward, 33, 2050, 2056));   // F % 4 == 2: scalar
        cases.emplace_back(new SwigluBf16Case(backward, 4, 64, 68, 1, 0));  // misaligned inputs
        cases.emplace_back(new SwigluBf16Case(backward, 4, 64, 68, 0, 1));  // misaligned outputs
        cases.emplace_back(new SwigluBf16Case(backward, 65, 1028, 1044));   // vec4, many rows
    }

    cases.emplace_back(new RmsnormForwardBf16Case(1, 1, 1));
    cases.emplace_back(new RmsnormForwardBf16Case(7, 33, 40));       // scalar: odd C
    cases.emplace_back(new RmsnormForwardBf16Case(5, 64, 64));       // float4, dense
    cases.emplace_back(new RmsnormForwardBf16Case(3, 260, 268));     // float4, ld > C
    cases.emplace_back(new RmsnormForwardBf16Case(9, 36, 38));       // ld % 4: scalar
    cases.emplace_back(new RmsnormForwardBf16Case(4, 64, 68, 1));    // misaligned out: scalar
    cases.emplace_back(new RmsnormForwardBf16Case(2, 1025, 1031));   // 512 threads, scalar
    cases.emplace_back(new RmsnormForwardBf16Case(17, 4096, 4112));  // Llama width + LoRA r
    cases.emplace_back(new RmsnormForwardBf16Case(6, 128, 128, 0, false));  // no rstd
}

}  // namespace qforge::test
