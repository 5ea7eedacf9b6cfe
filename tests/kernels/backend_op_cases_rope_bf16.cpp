// What is here: the harness cases of rope_forward_bf16 and rope_backward_to_bf16. Both backends
// evaluate the same pair formula in double and round twice (to fp32, then to bf16), so the CUDA
// outputs must equal the CPU's word for word (bit_exact); the rows are add_u16 tensors whose
// words past H*D (and before an offset start) keep the harness's sentinel on both backends, so
// the cases also prove that padding is left alone. Shapes cover every vector width of the CUDA
// kernel (8 pairs per thread for D = 64 / 128, 4 for the shipped model's D = 8, 2, and the scalar
// path for odd D/2, odd row strides and misaligned pointers), odd N, several H, and the llama3
// tables past 8192 positions.
#include <fmt/format.h>
#include <random>
#include <vector>

#include "kernels/bf16_bits.h"
#include "kernels/op_case.h"
#include "kernels/rope.h"

namespace qforge::test {
namespace {

using kernels::Ctx;
using kernels::Op;

class RopeBf16Case : public OpCase {
public:
    // ld: the bf16 row stride (>= H*D); offset: the rows (and, backward, dx) start this many
    // values into their buffers (1: misaligned, the scalar path).
    RopeBf16Case(bool backward, int64_t N, int64_t H, int64_t D, int64_t ld, int64_t offset = 0,
                 bool llama3 = false)
        : backward_(backward), N_(N), H_(H), D_(D), ld_(ld), offset_(offset), llama3_(llama3) {}

    Op op() const override { return backward_ ? Op::kRopeBackwardToBf16 : Op::kRopeForwardBf16; }

    std::string vars() const override {
        return fmt::format("N={},H={},D={},ld={},offset={},scaling={}", N_, H_, D_, ld_, offset_,
                           llama3_ ? "llama3" : "none");
    }

    bool bit_exact() const override { return true; }

    // past llama3's original 8192 positions; a short table otherwise
    int64_t tmax() const { return llama3_ ? 9000 : 97; }

    void build(CaseTensors& t) const override {
        const int64_t rows = offset_ + N_ * ld_;
        if (backward_) {
            t.add_u16("dst", Role::kWrite, rows);
            t.add("dx", Role::kInput, offset_ + N_ * H_ * D_, -2.0f, 2.0f);
        } else {
            t.add_u16("x", Role::kInOut, rows);
        }
        t.add_i32("pos", N_);
        t.add("cos", Role::kInput, tmax() * D_ / 2);
        t.add("sin", Role::kInput, tmax() * D_ / 2);
    }

    void init_inputs(CaseTensors& t, std::mt19937_64& rng) const override {
        OpCase::init_inputs(t, rng);
        if (!backward_) {
            // random non-zero bf16 values in the H*D columns of each row; the rest stays sentinel
            std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
            uint16_t* x = u16_data(t["x"]) + offset_;
            for (int64_t n = 0; n < N_; n++) {
                for (int64_t c = 0; c < H_ * D_; c++) {
                    uint16_t bits = 0;
                    while ((bits & 0x7FFFu) == 0) {
                        bits = kernels::f32_to_bf16_bits(dist(rng));
                    }
                    x[n * ld_ + c] = bits;
                }
            }
        }
        std::uniform_int_distribution<int32_t> pos(0, static_cast<int32_t>(tmax() - 1));
        auto& positions = t["pos"].i32;
        positions.resize(static_cast<size_t>(N_));
        for (auto& p : positions) {
            p = pos(rng);
        }
        kernels::RopeScaling scaling;
        if (llama3_) {
            scaling.type = kernels::RopeScaling::Type::kLlama3;
            scaling.factor = 8;
        }
        std::vector<float> inv_freq(static_cast<size_t>(D_ / 2));
        kernels::rope_inv_freq(inv_freq.data(), D_, llama3_ ? 500000.0f : 10000.0f, scaling);
        kernels::rope_tables(t["cos"].f32.data(), t["sin"].f32.data(), inv_freq.data(), tmax(), D_);
    }

    void run(const Ctx& ctx, const CaseBindings& b) const override {
        if (backward_) {
            kernels::rope_backward_to_bf16(ctx, b.u16("dst") + offset_, ld_, b.f("dx") + offset_,
                                           b.i("pos"), b.f("cos"), b.f("sin"), N_, H_, D_);
        } else {
            kernels::rope_forward_bf16(ctx, b.u16("x") + offset_, ld_, b.i("pos"), b.f("cos"),
                                       b.f("sin"), N_, H_, D_);
        }
    }

private:
    bool backward_;
    int64_t N_, H_, D_, ld_, offset_;
    bool llama3_;
};

}  // namespace

void add_rope_bf16_cases(CaseList& cases) {
    for (const bool backward : {false, true}) {
        cases.emplace_back(new RopeBf16Case(backward, 1, 1, 2, 2));        // one pair
        cases.emplace_back(new RopeBf16Case(backward, 7, 3, 6, 20));       // D/2 odd: scalar
        cases.emplace_back(new RopeBf16Case(backward, 5, 2, 8, 16));       // shipped D = 8: 4
        cases.emplace_back(new RopeBf16Case(backward, 9, 3, 8, 26));       // ld % 4 == 2: 2
        cases.emplace_back(new RopeBf16Case(backward, 33, 4, 64, 264));    // 8, ld > H*D
        cases.emplace_back(new RopeBf16Case(backward, 5, 2, 128, 257));    // odd ld: scalar
        cases.emplace_back(new RopeBf16Case(backward, 7, 2, 64, 136, 1));  // misaligned: scalar
        cases.emplace_back(new RopeBf16Case(backward, 3, 5, 70, 350));     // dense, D/2 = 35
        cases.emplace_back(new RopeBf16Case(backward, 17, 8, 128, 1032, 0, true));  // llama3
        cases.emplace_back(new RopeBf16Case(backward, 65, 32, 128, 4160));  // 8B q + LoRA cols
    }
}

}  // namespace qforge::test
