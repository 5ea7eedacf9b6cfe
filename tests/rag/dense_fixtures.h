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
#include "support/random_bert.h"
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
    BertSizes sizes;
    sizes.vocab = cfg["vocab_size"];
    sizes.hidden = cfg["hidden_size"];
    sizes.intermediate = cfg["intermediate_size"];
    sizes.max_positions = cfg["max_position_embeddings"];
    sizes.type_vocab = cfg["type_vocab_size"];
    sizes.layers = layers;
    const auto tensors = random_bert_tensors(sizes, salt * 1000);
    io::safetensors_write(dir / "model.safetensors", tensors);
    link_minilm_tokenizer(dir);
    return dir;
}

}  // namespace qforge::test
