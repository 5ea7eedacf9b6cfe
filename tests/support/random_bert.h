// What is here: the tensors of a Hugging Face BertModel (the names BertEncoder loads) with
// uniform random values, for tests that need an encoder checkpoint without shipped weights.
// Header-only: it needs qforge::runtime, which only some test executables link.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "runtime/tensor/tensor.h"
#include "support/test_support.h"

namespace qforge::test {

struct BertSizes {
    int64_t vocab = 0, hidden = 0, intermediate = 0, max_positions = 0, type_vocab = 0;
    int64_t layers = 0;
};

// LayerNorm weights uniform in [0.9, 1.1), every other tensor in [-0.05, 0.05); tensor i is
// drawn by random_floats with salt first_salt + i (test_seed()-based, replayable).
inline std::vector<std::pair<std::string, Tensor>> random_bert_tensors(const BertSizes& s,
                                                                       std::uint64_t first_salt) {
    const int64_t H = s.hidden, I = s.intermediate;
    std::vector<std::pair<std::string, std::vector<int64_t>>> shapes = {
        {"embeddings.word_embeddings.weight", {s.vocab, H}},
        {"embeddings.position_embeddings.weight", {s.max_positions, H}},
        {"embeddings.token_type_embeddings.weight", {s.type_vocab, H}},
        {"embeddings.LayerNorm.weight", {H}},
        {"embeddings.LayerNorm.bias", {H}}};
    for (int64_t i = 0; i < s.layers; i++) {
        const std::string p = "encoder.layer." + std::to_string(i) + ".";
        for (const char* n : {"query", "key", "value"}) {
            shapes.push_back({p + "attention.self." + n + ".weight", {H, H}});
            shapes.push_back({p + "attention.self." + n + ".bias", {H}});
        }
        shapes.push_back({p + "attention.output.dense.weight", {H, H}});
        shapes.push_back({p + "attention.output.dense.bias", {H}});
        shapes.push_back({p + "attention.output.LayerNorm.weight", {H}});
        shapes.push_back({p + "attention.output.LayerNorm.bias", {H}});
        shapes.push_back({p + "intermediate.dense.weight", {I, H}});
        shapes.push_back({p + "intermediate.dense.bias", {I}});
        shapes.push_back({p + "output.dense.weight", {H, I}});
        shapes.push_back({p + "output.dense.bias", {H}});
        shapes.push_back({p + "output.LayerNorm.weight", {H}});
        shapes.push_back({p + "output.LayerNorm.bias", {H}});
    }
    std::vector<std::pair<std::string, Tensor>> tensors;
    std::uint64_t salt = first_salt;
    for (const auto& [name, shape] : shapes) {
        Tensor t = Tensor::empty(shape, DType::kF32);
        const bool ln_w = name.find("LayerNorm.weight") != std::string::npos;
        const auto r = random_floats(static_cast<std::size_t>(t.numel()), ln_w ? 0.9f : -0.05f,
                                     ln_w ? 1.1f : 0.05f, salt++);
        std::copy(r.begin(), r.end(), t.data<float>());
        tensors.emplace_back(name, t);
    }
    return tensors;
}

}  // namespace qforge::test
