// Tests for runtime/model/nf4_weight.h: quantizing tensors, the bitsandbytes checkpoint form
// (to_bnb -> safetensors_write -> from_bnb), its validation, and the error NF4 gives on the real
// stories260K projections.
#include <cmath>
#include <cstring>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kernels/nf4.h"
#include "runtime/io/safetensors.h"
#include "runtime/model/nf4_weight.h"
#include "runtime/tensor/half.h"
#include "support/test_support.h"

namespace qforge {
namespace {

using Named = std::vector<std::pair<std::string, Tensor>>;

Tensor f32_tensor(std::vector<int64_t> shape, const std::vector<float>& values) {
    Tensor t = Tensor::empty(std::move(shape), DType::kF32);
    std::memcpy(t.raw_data(), values.data(), values.size() * sizeof(float));
    return t;
}

std::vector<float> dequantized(const Nf4Weight& w) {
    std::vector<float> out(static_cast<std::size_t>(w.rows() * w.cols()), std::nanf(""));
    w.dequantize(out.data());
    return out;
}

std::string state_json(const Named& tensors) {
    for (const auto& [name, t] : tensors) {
        if (name.ends_with(".quant_state.bitsandbytes__nf4")) {
            return std::string(reinterpret_cast<const char*>(t.data<uint8_t>()),
                               static_cast<std::size_t>(t.numel()));
        }
    }
    return "";
}

// Writes tensors to <dir>/model.safetensors and reads the weight back.
Nf4Weight reload(const test::TempDir& dir, const Named& tensors, const std::string& name) {
    io::safetensors_write(dir.path() / "model.safetensors", tensors);
    return Nf4Weight::from_bnb(io::CheckpointReader::open(dir.path()), name);
}

// Expects from_bnb to fail on `tensors` with a message containing `needle`.
void expect_load_error(const Named& tensors, const std::string& needle) {
    test::TempDir dir;
    try {
        reload(dir, tensors, "layer.weight");
        ADD_FAILURE() << "expected an error containing \"" << needle << "\"";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
}

Named replaced(Named tensors, const std::string& name, Tensor t) {
    for (auto& [n, v] : tensors) {
        if (n == name) {
            v = std::move(t);
        }
    }
    return tensors;
}

Tensor json_bytes(const std::string& s) {
    Tensor t = Tensor::empty({static_cast<int64_t>(s.size())}, DType::kU8);
    std::memcpy(t.raw_data(), s.data(), s.size());
    return t;
}

TEST(Nf4Weight, QuantizeMatchesTheKernelAndCountsItsBytes) {
    const int64_t rows = 173, cols = 409, n = rows * cols;
    const std::vector<float> values = test::random_floats(static_cast<std::size_t>(n), -0.5f, 0.5f);
    const Nf4Weight w = Nf4Weight::quantize(f32_tensor({rows, cols}, values));
    EXPECT_EQ(w.rows(), rows);
    EXPECT_EQ(w.cols(), cols);

    const kernels::Nf4Sizes s = kernels::nf4_storage_sizes(n);
    std::vector<uint8_t> packed(static_cast<std::size_t>(s.packed_bytes));
    std::vector<uint8_t> absmax_q(static_cast<std::size_t>(s.blocks));
    std::vector<float> nested(static_cast<std::size_t>(s.nested_blocks));
    float offset = 0.0f;
    kernels::nf4_quantize(values.data(), n, packed.data(), absmax_q.data(), nested.data(), &offset);
    const kernels::Nf4View v = w.view();
    EXPECT_EQ(v.numel, n);
    EXPECT_EQ(v.offset, offset);
    EXPECT_EQ(std::memcmp(v.packed, packed.data(), packed.size()), 0);
    EXPECT_EQ(std::memcmp(v.absmax_q, absmax_q.data(), absmax_q.size()), 0);
    EXPECT_EQ(std::memcmp(v.nested_absmax, nested.data(), nested.size() * sizeof(float)), 0);

    // 35379 packed + 1106 absmax codes + 5 nested fp32 + 16 + 256 fp32 table entries + offset
    EXPECT_EQ(w.storage_bytes(), 35379u + 1106u + 5u * 4 + 16u * 4 + 256u * 4 + 4);
    const std::vector<float> out = dequantized(w);
    double err = 0.0;
    for (std::size_t i = 0; i < out.size(); i++) {
        err = std::max(err, std::fabs(static_cast<double>(out[i]) - values[i]));
    }
    EXPECT_LT(err, 0.5 * 0.16);  // absmax <= 0.5 times the largest NF4 half-gap (0.152) + slack
}

TEST(Nf4Weight, Bf16InputQuantizesItsF32Value) {
    const int64_t rows = 29, cols = 71;  // 2059 values: 32 full blocks and one of 11
    const std::vector<float> values = test::random_floats(static_cast<std::size_t>(rows * cols));
    Tensor bf16 = Tensor::empty({rows, cols}, DType::kBF16);
    std::vector<float> widened(values.size());
    for (std::size_t i = 0; i < values.size(); i++) {
        bf16.data<uint16_t>()[i] = f32_to_bf16(values[i]);
        widened[i] = bf16_to_f32(bf16.data<uint16_t>()[i]);
    }
    const Nf4Weight a = Nf4Weight::quantize(bf16);
    const Nf4Weight b = Nf4Weight::quantize(f32_tensor({rows, cols}, widened));
    EXPECT_EQ(dequantized(a), dequantized(b));
    const auto j = nlohmann::json::parse(state_json(a.to_bnb("x.weight")));
    EXPECT_EQ(j.at("dtype"), "bfloat16");
    EXPECT_EQ(nlohmann::json::parse(state_json(b.to_bnb("x.weight"))).at("dtype"), "float32");
}

// The hand-written two-block example of tests/kernels/test_nf4.cpp (offset exactly 1.5), as the
// tensors bitsandbytes would save for it.
TEST(Nf4Weight, ToBnbWritesBitsandbytesTensorsAndJson) {
    const float* c = kernels::nf4_code_table();
    std::vector<float> values(128);
    for (int i = 0; i < 64; i++) {
        values[static_cast<std::size_t>(i)] = 2.0f * c[i % 16];
        values[static_cast<std::size_t>(64 + i)] = c[15 - i % 16];
    }
    const Named t = Nf4Weight::quantize(f32_tensor({2, 64}, values)).to_bnb("m.q_proj.weight");
    ASSERT_EQ(t.size(), 6u);
    auto expect = [&](std::size_t i, const std::string& name, DType dtype,
                      std::vector<int64_t> shape) {
        EXPECT_EQ(t[i].first, name);
        EXPECT_EQ(t[i].second.dtype(), dtype) << name;
        EXPECT_EQ(t[i].second.shape(), shape) << name;
    };
    expect(0, "m.q_proj.weight", DType::kU8, {64, 1});
    expect(1, "m.q_proj.weight.absmax", DType::kU8, {2});
    expect(2, "m.q_proj.weight.quant_map", DType::kF32, {16});
    expect(3, "m.q_proj.weight.nested_absmax", DType::kF32, {1});
    expect(4, "m.q_proj.weight.nested_quant_map", DType::kF32, {256});
    EXPECT_EQ(t[0].second.data<uint8_t>()[0], 0x01);
    EXPECT_EQ(t[0].second.data<uint8_t>()[63], 0x10);
    EXPECT_EQ(t[1].second.data<uint8_t>()[0], 255);
    EXPECT_EQ(t[1].second.data<uint8_t>()[1], 0);
    EXPECT_EQ(t[3].second.data<float>()[0], 0.5f);
    EXPECT_EQ(state_json(t),
              "{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"float32\", "
              "\"shape\": [2, 64], \"nested_blocksize\": 256, \"nested_dtype\": \"float32\", "
              "\"nested_offset\": 1.5}");
}

TEST(Nf4Weight, SafetensorsRoundTripIsExact) {
    const int64_t rows = 173, cols = 409;  // numel 70757: odd, not a multiple of 64
    const Nf4Weight w = Nf4Weight::quantize(
        f32_tensor({rows, cols}, test::random_floats(static_cast<std::size_t>(rows * cols))));
    const Named tensors = w.to_bnb("model.layers.0.self_attn.q_proj.weight");
    test::TempDir dir;
    const Nf4Weight back = reload(dir, tensors, "model.layers.0.self_attn.q_proj.weight");
    EXPECT_EQ(back.rows(), rows);
    EXPECT_EQ(back.cols(), cols);
    EXPECT_EQ(back.view().offset, w.view().offset);
    EXPECT_EQ(back.storage_bytes(), w.storage_bytes());
    const std::vector<float> a = dequantized(w), b = dequantized(back);
    ASSERT_EQ(a.size(), b.size());
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
    // Writing what was read gives the same bytes again (JSON included).
    const Named again = back.to_bnb("model.layers.0.self_attn.q_proj.weight");
    ASSERT_EQ(again.size(), tensors.size());
    for (std::size_t i = 0; i < tensors.size(); i++) {
        EXPECT_EQ(again[i].first, tensors[i].first);
        ASSERT_EQ(again[i].second.nbytes(), tensors[i].second.nbytes()) << tensors[i].first;
        EXPECT_EQ(std::memcmp(again[i].second.raw_data(), tensors[i].second.raw_data(),
                              tensors[i].second.nbytes()),
                  0)
            << tensors[i].first;
    }
    // nested_offset holds the fp32 offset's exact double value.
    const auto j = nlohmann::json::parse(state_json(tensors));
    EXPECT_EQ(j.at("nested_offset").get<double>(), static_cast<double>(w.view().offset));
}

TEST(Nf4Weight, FromBnbRejectsWhatItCannotRead) {
    const Named good =
        Nf4Weight::quantize(f32_tensor({3, 100}, test::random_floats(300))).to_bnb("layer.weight");
    const std::string state = state_json(good);
    auto with_state = [&](const std::string& from, const std::string& to) {
        std::string s = state;
        s.replace(s.find(from), from.size(), to);
        return replaced(good, "layer.weight.quant_state.bitsandbytes__nf4", json_bytes(s));
    };

    Named missing = good;
    missing.erase(missing.begin() + 1);  // no .absmax
    expect_load_error(missing, "missing tensor 'layer.weight.absmax'");
    expect_load_error(with_state("\"nf4\"", "\"fp4\""), "\"quant_type\": \"nf4\"");
    expect_load_error(with_state("\"blocksize\": 64", "\"blocksize\": 128"), "\"blocksize\": 64");
    expect_load_error(with_state("[3, 100]", "[3, 101]"), "expected u8 with 152 elements");
    expect_load_error(with_state("[3, 100]", "[300]"), "\"shape\"");
    expect_load_error(with_state("\"nested_offset\"", "\"offset\""), "not double-quantized");
    expect_load_error(with_state("{", "["), "not valid JSON");
    expect_load_error(replaced(good, "layer.weight.quant_state.bitsandbytes__nf4",
                               json_bytes("{\"quant_type\": ")),
                      "not valid JSON");

    Tensor map = good[2].second.clone();
    map.data<float>()[3] = 0.25f;
    expect_load_error(replaced(good, "layer.weight.quant_map", map), "quant_map'[3]");
    Tensor absmax_f32 = Tensor::empty({5}, DType::kF32);  // a non-nested checkpoint's absmax
    absmax_f32.fill(1.0f);
    expect_load_error(replaced(good, "layer.weight.absmax", absmax_f32), "8-bit absmax codes");

    test::TempDir dir;
    io::safetensors_write(dir.path() / "model.safetensors", good);
    EXPECT_THROW(Nf4Weight::from_bnb(io::CheckpointReader::open(dir.path()), "other.weight"),
                 Error);
}

TEST(Nf4Weight, QuantizeRejectsBadTensors) {
    EXPECT_THROW(Nf4Weight::quantize(f32_tensor({6}, test::random_floats(6))), Error);
    EXPECT_THROW(Nf4Weight::quantize(Tensor::zeros({2, 3}, DType::kI32)), Error);
    EXPECT_THROW(Nf4Weight::quantize(Tensor()), Error);
    EXPECT_THROW(Nf4Weight::quantize(Tensor::empty({0, 3}, DType::kF32)), Error);
}

// Every projection of the real stories260K checkpoint (q_proj named in the brief; down_proj has
// 172 columns, not a multiple of 64). NF4 with 64-blocks keeps the relative Frobenius error of
// Gaussian-like weights near 9% (measured 8.7-9.4% here); outside 5-11% something is wrong.
TEST(Nf4Weight, RealStories260KProjections) {
    const auto dir = test::data_dir() / "models/stories260K";
    if (!std::filesystem::exists(dir / "model.safetensors")) {
        GTEST_SKIP() << "no " << dir << " (set QFORGE_DATA)";
    }
    const auto ckpt = io::CheckpointReader::open(dir);
    for (int layer = 0; layer < 5; layer++) {
        for (const char* proj : {"self_attn.q_proj", "mlp.down_proj"}) {
            const std::string name = fmt::format("model.layers.{}.{}.weight", layer, proj);
            const Tensor w = ckpt.get(name);
            const Nf4Weight q = Nf4Weight::quantize(w);
            const std::vector<float> out = dequantized(q);
            const float* ref = w.data<float>();
            double diff = 0.0, norm = 0.0;
            for (std::size_t i = 0; i < out.size(); i++) {
                diff += (static_cast<double>(ref[i]) - out[i]) * (ref[i] - out[i]);
                norm += static_cast<double>(ref[i]) * ref[i];
            }
            const double rel = std::sqrt(diff / norm);
            EXPECT_GT(rel, 0.05) << name;
            EXPECT_LT(rel, 0.11) << name;
            RecordProperty(name, fmt::format("{:.4f}", rel));
        }
    }
}

}  // namespace
}  // namespace qforge
