// What is here: encoders for dense-index tests (no pretrained encoder ships): the golden tiny
// BERT (MiniLM vocabulary, 2 layers, hidden 64) and a seeded random-weight model in the real
// MiniLM config (6 layers, hidden 384), each in a directory with the MiniLM tokenizer.
#pragma once

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/io/safetensors.h"
#include "runtime/tensor/tensor.h"
#include "support/test_support.h"

namespace qforge::test {

inline std::filesystem::path minilm_tokenizer_dir() {
    return data_dir() / "models" / "all-MiniLM-L6-v2-tokenizer";
}

inline bool have_minilm_tokenizer() {
    return std::filesystem::exists(minilm_tokenizer_dir() / "tokenizer.json");
}

inline void link_minilm_tokenizer(const std::filesystem::path& dir) {
    for (const char* f : {"tokenizer.json", "vocab.txt", "tokenizer_config.json"}) {
        std::filesystem::create_symlink(minilm_tokenizer_dir() / f, dir / f);
    }
}

// <parent>/tiny-encoder: tests/golden/bert/model (config.json, model.safetensors) + tokenizer.
inline std::filesystem::path make_tiny_encoder(const std::filesystem::path& parent) {
    const auto dir = parent / "tiny-encoder";
    std::filesystem::create_directories(dir);
    for (const char* f : {"config.json", "model.safetensors"}) {
        std::filesystem::create_symlink(golden_dir() / "bert" / "model" / f, dir / f);
    }
    link_minilm_tokenizer(dir);
    return dir;
}

// <parent>/minilm-random: the shipped MiniLM config.json (num_hidden_layers overridable) with
// uniform random weights seeded by test_seed() + salt (LayerNorm weights near 1, the rest
// small), in Hugging Face BertModel names, + tokenizer.
inline std::filesystem::path make_random_minilm(const std::filesystem::path& parent,
                                                std::uint64_t salt = 0, int layers = 6) {
    const auto dir = parent / "minilm-random";
    std::filesystem::create_directories(dir);
    std::ifstream in(minilm_tokenizer_dir() / "config.json");
    nlohmann::json cfg = nlohmann::json::parse(in);
    cfg["num_hidden_layers"] = layers;
    std::ofstream(dir / "config.json") << cfg.dump(2);
    const int64_t V = cfg["vocab_size"], H = cfg["hidden_size"], I = cfg["intermediate_size"];
    const int64_t P = cfg["max_position_embeddings"], TV = cfg["type_vocab_size"];
    std::vector<std::pair<std::string, std::vector<int64_t>>> shapes = {
        {"embeddings.word_embeddings.weight", {V, H}},
        {"embeddings.position_embeddings.weight", {P, H}},
        {"embeddings.token_type_embeddings.weight", {TV, H}},
        {"embeddings.LayerNorm.weight", {H}},
        {"embeddings.LayerNorm.bias", {H}}};
    for (int i = 0; i < layers; i++) {
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
    std::uint64_t k = salt * 1000;
    for (const auto& [name, shape] : shapes) {
        Tensor t = Tensor::empty(shape, DType::kF32);
        const bool ln_w = name.find("LayerNorm.weight") != std::string::npos;
        const auto r = random_floats(static_cast<std::size_t>(t.numel()), ln_w ? 0.9f : -0.05f,
                                     ln_w ? 1.1f : 0.05f, k++);
        std::copy(r.begin(), r.end(), t.data<float>());
        tensors.emplace_back(name, t);
    }
    io::safetensors_write(dir / "model.safetensors", tensors);
    link_minilm_tokenizer(dir);
    return dir;
}

}  // namespace qforge::test
