// What is here: the harness cases of nf4_dequantize and nf4_quantize_device. The weights are
// quantized on the CPU (nf4_quantize, as at load time) and every backend must dequantize them bit
// for bit like the CPU reference. Every numel is off the 64-value block (a partial last block), two
// are odd (a half-used last byte), and the larger ones span two 256-block nested groups. The device
// quantizer must reproduce the CPU quantizer's storage bit for bit on the same kind of shapes.
#include <algorithm>
#include <fmt/format.h>
#include <random>
#include <vector>

#include "kernels/nf4.h"
#include "kernels/op_case.h"

namespace qforge::test {
namespace {

using kernels::Ctx;
using kernels::Op;

class Nf4DequantizeCase : public OpCase {
public:
    // outliers: one block is scaled by 40, as a few outlier channels of real weights are, so the
    // absmax values (and their 8-bit codes) spread over a wide range.
    Nf4DequantizeCase(int64_t OC, int64_t IC, bool outliers)
        : OC_(OC), IC_(IC), outliers_(outliers) {}

    Op op() const override { return Op::kNf4Dequantize; }

    std::string vars() const override {
        return fmt::format("OC={},IC={},outliers={}", OC_, IC_, outliers_ ? 1 : 0);
    }

    bool bit_exact() const override { return true; }

    int64_t numel() const { return OC_ * IC_; }

    void build(CaseTensors& t) const override {
        const kernels::Nf4Sizes sizes = kernels::nf4_storage_sizes(numel());
        t.add("out", Role::kWrite, numel());
        t.add_bytes("packed", sizes.packed_bytes);
        t.add_bytes("absmax_q", sizes.blocks);
        t.add("nested_absmax", Role::kInput, sizes.nested_blocks);
        t.add("nested_code", Role::kInput, 256);
        t.add("code", Role::kInput, 16);
        t.add("offset", Role::kInput, 1);  // passed by value: run() reads the host copy
    }

    void init_inputs(CaseTensors& t, std::mt19937_64& rng) const override {
        OpCase::init_inputs(t, rng);
        std::normal_distribution<float> dist(0.0f, 0.02f);  // the spread of real Linear weights
        std::vector<float> w(static_cast<size_t>(numel()));
        for (auto& x : w) {
            x = dist(rng);
        }
        if (outliers_) {
            const int64_t blocks = (numel() + kernels::kNf4BlockSize - 1) / kernels::kNf4BlockSize;
            const int64_t b = std::uniform_int_distribution<int64_t>(0, blocks - 1)(rng);
            for (int64_t i = b * kernels::kNf4BlockSize;
                 i < std::min(numel(), (b + 1) * kernels::kNf4BlockSize); i++) {
                w[static_cast<size_t>(i)] *= 40.0f;
            }
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
        kernels::nf4_dequantize(ctx, b.f("out"), view);
    }

private:
    int64_t OC_, IC_;
    bool outliers_;
};

// nf4_quantize_device: every backend must produce the CPU quantizer's storage bit for bit
// (packed codes, absmax codes, nested absmax and offset).
class Nf4QuantizeDeviceCase : public OpCase {
public:
    // zero_block: one 64-block is all zeros (absmax 0: NaN codes, as in bitsandbytes).
    Nf4QuantizeDeviceCase(int64_t numel, bool outliers, bool zero_block)
        : numel_(numel), outliers_(outliers), zero_block_(zero_block) {}

    Op op() const override { return Op::kNf4QuantizeDevice; }

    std::string vars() const override {
        return fmt::format("numel={},outliers={},zero_block={}", numel_, outliers_ ? 1 : 0,
                           zero_block_ ? 1 : 0);
    }

    bool bit_exact() const override { return true; }

    void build(CaseTensors& t) const override {
        const kernels::Nf4Sizes sizes = kernels::nf4_storage_sizes(numel_);
        t.add("w", Role::kInput, numel_);
        t.add_bytes("packed", sizes.packed_bytes).role = Role::kWrite;
        t.add_bytes("absmax_q", sizes.blocks).role = Role::kWrite;
        t.add("nested_absmax", Role::kWrite, sizes.nested_blocks);
        t.add("offset", Role::kWrite, 1);
    }

    void init_inputs(CaseTensors& t, std::mt19937_64& rng) const override {
        OpCase::init_inputs(t, rng);
        std::normal_distribution<float> dist(0.0f, 0.02f);
        auto& w = t["w"].f32;
        for (auto& x : w) {
            x = dist(rng);
        }
        const int64_t blocks = (numel_ + kernels::kNf4BlockSize - 1) / kernels::kNf4BlockSize;
        auto scale_block = [&](int64_t b, float factor) {
            for (int64_t i = b * kernels::kNf4BlockSize;
                 i < std::min(numel_, (b + 1) * kernels::kNf4BlockSize); i++) {
                w[static_cast<size_t>(i)] *= factor;
            }
        };
        if (outliers_) {
            scale_block(std::uniform_int_distribution<int64_t>(0, blocks - 1)(rng), 40.0f);
        }
        if (zero_block_) {
            scale_block(blocks / 2, 0.0f);
        }
    }

    void run(const Ctx& ctx, const CaseBindings& b) const override {
        kernels::nf4_quantize_device(ctx, b.f("w"), numel_, b.u8("packed"), b.u8("absmax_q"),
                                     b.f("nested_absmax"), b.f("offset"));
    }

private:
    int64_t numel_;
    bool outliers_, zero_block_;
};

}  // namespace

void add_nf4_cases(CaseList& cases) {
    cases.emplace_back(new Nf4QuantizeDeviceCase(1, false, false));  // one value, half a byte
    cases.emplace_back(new Nf4QuantizeDeviceCase(231, false, true));
    cases.emplace_back(new Nf4QuantizeDeviceCase(67 * 260, true, false));   // 2 nested groups
    cases.emplace_back(new Nf4QuantizeDeviceCase(129 * 4097, true, true));  // 33 nested groups
    cases.emplace_back(new Nf4DequantizeCase(7, 33, false));     // 231 values: 4 blocks, odd
    cases.emplace_back(new Nf4DequantizeCase(67, 260, false));   // 273 blocks: 2 nested groups
    cases.emplace_back(new Nf4DequantizeCase(1025, 17, true));   // odd, 2 nested groups, outlier
    cases.emplace_back(new Nf4DequantizeCase(129, 4097, true));  // 8259 blocks: 33 nested groups
}

}  // namespace qforge::test
