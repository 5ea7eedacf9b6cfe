// What is here: config.json parsing (classic keys and transformers v5 rope_parameters, real
// files from ../shared/data and tests/golden), each validation error, and
// validate_llama_checkpoint against real and deliberately mismatched checkpoints, including
// bitsandbytes 4-bit checkpoints written through Nf4Weight::to_bnb.
#include <cstring>
#include <filesystem>
#include <fstream>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <string>

#include "runtime/io/hf_config.h"
#include "runtime/model/nf4_weight.h"
#include "runtime/tensor/half.h"
#include "support/test_support.h"

namespace qforge::io {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using ::testing::AllOf;
using ::testing::HasSubstr;
using Type = kernels::RopeScaling::Type;

fs::path stories_dir() {
    return test::data_dir() / "models/stories260K";
}

json stories_config() {
    std::ifstream in(stories_dir() / "config.json");
    return json::parse(in);
}

// Writes `config` as <dir>/config.json and returns the directory.
fs::path write_config(const test::TempDir& dir, const json& config) {
    std::ofstream(dir.path() / "config.json") << config.dump(2);
    return dir.path();
}

std::string config_error(const json& config) {
    test::TempDir dir;
    try {
        load_llama_config(write_config(dir, config));
    } catch (const Error& e) {
        return e.what();
    }
    ADD_FAILURE() << "accepted " << config.dump();
    return "";
}

std::string validate_error(const LlamaConfig& cfg, const CheckpointReader& ckpt) {
    try {
        validate_llama_checkpoint(cfg, ckpt);
    } catch (const Error& e) {
        return e.what();
    }
    ADD_FAILURE() << "checkpoint accepted";
    return "";
}

TEST(HfConfig, Stories260K) {
    const LlamaConfig c = load_llama_config(stories_dir());
    EXPECT_EQ(c.model_type, "llama");
    EXPECT_EQ(c.hidden_size, 64);
    EXPECT_EQ(c.intermediate_size, 172);
    EXPECT_EQ(c.num_hidden_layers, 5);
    EXPECT_EQ(c.num_attention_heads, 8);
    EXPECT_EQ(c.num_key_value_heads, 4);
    EXPECT_EQ(c.head_dim, 8);
    EXPECT_EQ(c.vocab_size, 512);
    EXPECT_EQ(c.max_position_embeddings, 512);
    EXPECT_FLOAT_EQ(c.rms_norm_eps, 1e-5f);
    EXPECT_FLOAT_EQ(c.rope_theta, 10000.0f);
    EXPECT_EQ(c.rope_scaling.type, Type::kNone);
    EXPECT_TRUE(c.tie_word_embeddings);
    EXPECT_FALSE(c.attention_bias);
    EXPECT_FALSE(c.mlp_bias);
    EXPECT_EQ(c.hidden_act, "silu");
    EXPECT_EQ(c.bos_token_id, 1);
    EXPECT_EQ(c.eos_token_ids, (std::vector<int32_t>{2}));
    EXPECT_EQ(c.torch_dtype, "float32");

    const CheckpointReader ckpt = CheckpointReader::open(stories_dir());
    EXPECT_NO_THROW(validate_llama_checkpoint(c, ckpt));
    EXPECT_FALSE(ckpt.contains("lm_head.weight"));
    EXPECT_EQ(ckpt.info("model.layers.0.self_attn.q_proj.weight").shape,
              (std::vector<int64_t>{64, 64}));
    EXPECT_EQ(ckpt.info("model.layers.0.self_attn.v_proj.weight").shape,
              (std::vector<int64_t>{32, 64}));
    EXPECT_EQ(ckpt.info("model.layers.2.mlp.gate_proj.weight").shape,
              (std::vector<int64_t>{172, 64}));
    // The expected-tensor list covers the file exactly (tied: no lm_head).
    EXPECT_EQ(llama_tensor_shapes(c).size(), ckpt.names().size());
}

TEST(HfConfig, TransformersV5Llama3RopeParametersAndShards) {
    const fs::path dir = test::golden_dir() / "models/llama3-hd128-scaled";
    const LlamaConfig c = load_llama_config(dir / "config.json");
    EXPECT_EQ(c.head_dim, 128);
    EXPECT_EQ(c.num_key_value_heads, 1);
    EXPECT_EQ(c.max_position_embeddings, 131072);
    EXPECT_FLOAT_EQ(c.rope_theta, 500000.0f);
    EXPECT_EQ(c.rope_scaling.type, Type::kLlama3);
    EXPECT_FLOAT_EQ(c.rope_scaling.factor, 8.0f);
    EXPECT_FLOAT_EQ(c.rope_scaling.low_freq_factor, 1.0f);
    EXPECT_FLOAT_EQ(c.rope_scaling.high_freq_factor, 4.0f);
    EXPECT_EQ(c.rope_scaling.original_max_position, 8192);
    EXPECT_EQ(c.torch_dtype, "bfloat16");  // v5 writes "dtype"
    EXPECT_FALSE(c.tie_word_embeddings);
    EXPECT_NO_THROW(validate_llama_checkpoint(c, CheckpointReader::open(dir)));
}

TEST(HfConfig, TransformersV5DefaultRope) {
    for (const char* name : {"llama-hd64-gqa", "llama-mha-f32-tied"}) {
        const fs::path dir = test::golden_dir() / "models" / name;
        const LlamaConfig c = load_llama_config(dir);
        EXPECT_EQ(c.rope_scaling.type, Type::kNone) << name;
        EXPECT_FLOAT_EQ(c.rope_theta, 10000.0f);
        EXPECT_NO_THROW(validate_llama_checkpoint(c, CheckpointReader::open(dir))) << name;
    }
}

TEST(HfConfig, ClassicRopeScalingKeys) {
    json j = stories_config();
    j["rope_theta"] = 500000;                 // an integer is a valid number
    j["rope_scaling"] = {{"type", "llama3"},  // older files say "type"
                         {"factor", 32},
                         {"low_freq_factor", 1.0},
                         {"high_freq_factor", 4.0},
                         {"original_max_position_embeddings", 8192}};
    test::TempDir dir;
    LlamaConfig c = load_llama_config(write_config(dir, j));
    EXPECT_FLOAT_EQ(c.rope_theta, 500000.0f);
    EXPECT_EQ(c.rope_scaling.type, Type::kLlama3);
    EXPECT_FLOAT_EQ(c.rope_scaling.factor, 32.0f);

    j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 2.0}};
    c = load_llama_config(write_config(dir, j));
    EXPECT_EQ(c.rope_scaling.type, Type::kLinear);
    EXPECT_FLOAT_EQ(c.rope_scaling.factor, 2.0f);

    j["rope_scaling"] = nullptr;
    EXPECT_EQ(load_llama_config(write_config(dir, j)).rope_scaling.type, Type::kNone);
}

TEST(HfConfig, DefaultsForOptionalKeys) {
    json j = stories_config();
    for (const char* key : {"num_key_value_heads", "head_dim", "max_position_embeddings",
                            "rope_theta", "rms_norm_eps", "hidden_act", "tie_word_embeddings",
                            "attention_bias", "mlp_bias", "torch_dtype"}) {
        j.erase(key);
    }
    j["eos_token_id"] = {2, 7};
    j["bos_token_id"] = nullptr;
    test::TempDir dir;
    const LlamaConfig c = load_llama_config(write_config(dir, j) / "config.json");
    EXPECT_EQ(c.num_key_value_heads, 8);
    EXPECT_EQ(c.head_dim, 8);
    EXPECT_EQ(c.max_position_embeddings, 2048);
    EXPECT_FLOAT_EQ(c.rope_theta, 10000.0f);
    EXPECT_FLOAT_EQ(c.rms_norm_eps, 1e-6f);
    EXPECT_EQ(c.hidden_act, "silu");
    EXPECT_FALSE(c.tie_word_embeddings);
    EXPECT_EQ(c.bos_token_id, -1);
    EXPECT_EQ(c.eos_token_ids, (std::vector<int32_t>{2, 7}));
    EXPECT_EQ(c.torch_dtype, "");
}

TEST(HfConfig, MistralWithoutSlidingWindowIsLlama) {
    json j = stories_config();
    j["model_type"] = "mistral";
    j["sliding_window"] = nullptr;
    test::TempDir dir;
    EXPECT_EQ(load_llama_config(write_config(dir, j)).model_type, "mistral");
    j["sliding_window"] = 4096;
    EXPECT_THAT(config_error(j), AllOf(HasSubstr("sliding_window"), HasSubstr("4096")));
}

TEST(HfConfigBad, MissingRequiredKeys) {
    for (const char* key : {"model_type", "hidden_size", "intermediate_size", "num_hidden_layers",
                            "num_attention_heads", "vocab_size"}) {
        json j = stories_config();
        j.erase(key);
        EXPECT_THAT(config_error(j), AllOf(HasSubstr("config.json"),
                                           HasSubstr(std::string("missing required key \"") + key)))
            << key;
    }
}

TEST(HfConfigBad, WrongJsonTypes) {
    const std::pair<const char*, json> cases[] = {
        {"hidden_size", "64"},         {"hidden_size", 64.5},      {"num_hidden_layers", true},
        {"rms_norm_eps", "1e-5"},      {"tie_word_embeddings", 1}, {"hidden_act", 3},
        {"model_type", json::array()}, {"head_dim", 8.0},          {"num_key_value_heads", "4"},
    };
    for (const auto& [key, value] : cases) {
        json j = stories_config();
        j[key] = value;
        EXPECT_THAT(config_error(j), AllOf(HasSubstr("config.json"),
                                           HasSubstr(std::string("\"") + key + "\" must be")))
            << key << " = " << value.dump();
    }
    json j = stories_config();
    j["vocab_size"] = nullptr;
    EXPECT_THAT(config_error(j), AllOf(HasSubstr("\"vocab_size\""), HasSubstr("null")));
}

TEST(HfConfigBad, SizesMustBePositive) {
    for (const char* key :
         {"hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
          "num_key_value_heads", "vocab_size", "head_dim", "max_position_embeddings"}) {
        for (int v : {0, -3}) {
            json j = stories_config();
            j[key] = v;
            EXPECT_THAT(config_error(j), AllOf(HasSubstr(key), HasSubstr("positive"))) << key;
        }
    }
    json j = stories_config();
    j["rms_norm_eps"] = 0;
    EXPECT_THAT(config_error(j), AllOf(HasSubstr("rms_norm_eps"), HasSubstr("positive")));
}

TEST(HfConfigBad, HeadArithmetic) {
    json j = stories_config();
    j["num_key_value_heads"] = 3;
    EXPECT_THAT(config_error(j), HasSubstr("num_attention_heads 8 is not a multiple of "
                                           "num_key_value_heads 3"));
    j = stories_config();
    j.erase("head_dim");
    j["num_attention_heads"] = 6;
    j["num_key_value_heads"] = 2;
    EXPECT_THAT(config_error(j), HasSubstr("hidden_size 64 is not divisible by "
                                           "num_attention_heads 6"));
    j = stories_config();
    j["head_dim"] = 7;
    EXPECT_THAT(config_error(j), HasSubstr("head_dim 7 must be even"));
}

TEST(HfConfigBad, ArchitectureChoices) {
    json j = stories_config();
    j["hidden_act"] = "gelu";
    EXPECT_THAT(config_error(j), AllOf(HasSubstr("hidden_act"), HasSubstr("gelu")));
    j = stories_config();
    j["model_type"] = "gpt2";
    EXPECT_THAT(config_error(j), AllOf(HasSubstr("model_type"), HasSubstr("gpt2")));
}

TEST(HfConfigBad, RopeParameters) {
    json j = stories_config();
    j["rope_parameters"] = {{"rope_type", "yarn"}, {"rope_theta", 10000.0}, {"factor", 4.0}};
    EXPECT_THAT(config_error(j), AllOf(HasSubstr("rope_type \"yarn\""), HasSubstr("not support")));
    j["rope_parameters"] = {{"rope_type", "llama3"},
                            {"factor", 8.0},
                            {"low_freq_factor", 1.0},
                            {"original_max_position_embeddings", 8192}};
    EXPECT_THAT(config_error(j),
                HasSubstr("missing required key \"rope_parameters.high_freq_factor\""));
    j["rope_parameters"] = {{"rope_type", "llama3"},
                            {"factor", 8.0},
                            {"low_freq_factor", 4.0},
                            {"high_freq_factor", 1.0},
                            {"original_max_position_embeddings", 8192}};
    EXPECT_THAT(config_error(j), HasSubstr("must be greater than low_freq_factor"));
    j["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", -1.0}};
    EXPECT_THAT(config_error(j),
                AllOf(HasSubstr("\"rope_parameters.rope_theta\""), HasSubstr("positive")));
    j["rope_parameters"] = {{"full_attention", {{"rope_type", "default"}}}};
    EXPECT_THAT(config_error(j), HasSubstr("per-layer-type"));
    j["rope_parameters"] = "llama3";
    EXPECT_THAT(config_error(j), HasSubstr("\"rope_parameters\" must be an object"));
    j = stories_config();
    j["rope_scaling"] = {{"rope_type", "dynamic"}, {"factor", 2.0}};
    EXPECT_THAT(config_error(j), AllOf(HasSubstr("rope_scaling"), HasSubstr("\"dynamic\"")));
    j["rope_scaling"] = {{"factor", 2.0}};
    EXPECT_THAT(config_error(j), HasSubstr("needs a \"rope_type\""));
    j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 0.5}};
    EXPECT_THAT(config_error(j), AllOf(HasSubstr("rope_scaling.factor"), HasSubstr(">= 1")));
}

TEST(HfConfigBad, TokenIds) {
    json j = stories_config();
    j["eos_token_id"] = {2, 600};
    EXPECT_THAT(config_error(j), AllOf(HasSubstr("eos_token_id"), HasSubstr("600")));
    j["eos_token_id"] = "2";
    EXPECT_THAT(config_error(j), HasSubstr("eos_token_id"));
    j = stories_config();
    j["bos_token_id"] = -1;
    EXPECT_THAT(config_error(j), HasSubstr("bos_token_id"));
}

TEST(HfConfigBad, UnreadableFiles) {
    test::TempDir dir;
    EXPECT_THROW(load_llama_config(dir.path()), Error);  // no config.json
    std::ofstream(dir.path() / "config.json") << "{\"model_type\": \"llama\",";
    try {
        load_llama_config(dir.path());
        FAIL();
    } catch (const Error& e) {
        EXPECT_THAT(e.what(), AllOf(HasSubstr("config.json"), HasSubstr("not valid JSON")));
    }
    EXPECT_THAT(config_error(json::array({1, 2})), HasSubstr("expected a JSON object"));
}

TEST(HfCheckpoint, ShapesThatDisagreeWithTheWeights) {
    const CheckpointReader ckpt = CheckpointReader::open(stories_dir());
    const std::string file = (stories_dir() / "model.safetensors").string();
    LlamaConfig c = load_llama_config(stories_dir());

    LlamaConfig wrong = c;
    wrong.intermediate_size = 100;
    EXPECT_THAT(validate_error(wrong, ckpt),
                AllOf(HasSubstr(file), HasSubstr("'model.layers.0.mlp.gate_proj.weight'"),
                      HasSubstr("has shape [172, 64]"), HasSubstr("implies [100, 64]")));

    wrong = c;
    wrong.num_key_value_heads = 8;
    EXPECT_THAT(validate_error(wrong, ckpt),
                AllOf(HasSubstr("'model.layers.0.self_attn.k_proj.weight'"),
                      HasSubstr("has shape [32, 64]"), HasSubstr("implies [64, 64]")));

    wrong = c;
    wrong.num_hidden_layers = 6;
    EXPECT_THAT(validate_error(wrong, ckpt),
                AllOf(HasSubstr("missing tensor 'model.layers.5.input_layernorm.weight'")));

    wrong = c;
    wrong.num_hidden_layers = 4;
    EXPECT_THAT(validate_error(wrong, ckpt),
                AllOf(HasSubstr(file), HasSubstr("layer 4"), HasSubstr("num_hidden_layers = 4")));

    wrong = c;
    wrong.tie_word_embeddings = false;
    EXPECT_THAT(validate_error(wrong, ckpt),
                AllOf(HasSubstr("missing tensor 'lm_head.weight'"), HasSubstr("[512, 64]")));

    wrong = c;
    wrong.attention_bias = true;
    EXPECT_THAT(validate_error(wrong, ckpt),
                HasSubstr("missing tensor 'model.layers.0.self_attn.q_proj.bias'"));
}

TEST(HfCheckpoint, ConfigFileThatDisagreesWithTheWeights) {
    // The same check driven from a config.json on disk, as the loader uses it.
    json j = stories_config();
    j["hidden_size"] = 96;
    j["head_dim"] = 12;
    test::TempDir dir;
    const LlamaConfig c = load_llama_config(write_config(dir, j));
    EXPECT_THAT(validate_error(c, CheckpointReader::open(stories_dir())),
                AllOf(HasSubstr("model.safetensors"), HasSubstr("'model.embed_tokens.weight'"),
                      HasSubstr("has shape [512, 64]"), HasSubstr("implies [512, 96]")));
}

TEST(HfCheckpoint, NonFloatWeightsAreRejected) {
    // A tiny Llama written by safetensors_write, with one tensor of the wrong dtype.
    json j = stories_config();
    j["hidden_size"] = 8;
    j["head_dim"] = 2;
    j["num_attention_heads"] = 4;
    j["num_key_value_heads"] = 2;
    j["intermediate_size"] = 12;
    j["num_hidden_layers"] = 1;
    j["vocab_size"] = 16;
    j["tie_word_embeddings"] = false;
    test::TempDir dir;
    const LlamaConfig c = load_llama_config(write_config(dir, j));
    std::vector<std::pair<std::string, Tensor>> tensors;
    uint64_t salt = 0;
    for (const auto& [name, shape] : llama_tensor_shapes(c)) {
        const DType dt = name == "model.layers.0.mlp.up_proj.weight" ? DType::kI32 : DType::kBF16;
        Tensor t = Tensor::empty(shape, dt);
        const auto v = test::random_floats(static_cast<std::size_t>(t.numel()), -1, 1, ++salt);
        for (std::size_t i = 0; i < v.size(); ++i) {
            if (dt == DType::kI32) {
                t.data<int32_t>()[i] = static_cast<int32_t>(v[i] * 100);
            } else {
                t.data<uint16_t>()[i] = f32_to_bf16(v[i]);
            }
        }
        tensors.emplace_back(name, t);
    }
    safetensors_write(dir.path() / "model.safetensors", tensors);
    EXPECT_THAT(validate_error(c, CheckpointReader::open(dir.path())),
                AllOf(HasSubstr("'model.layers.0.mlp.up_proj.weight'"), HasSubstr("dtype I32"),
                      HasSubstr("model.safetensors")));

    // With that tensor fixed the same checkpoint passes.
    for (auto& [name, t] : tensors) {
        if (t.dtype() == DType::kI32) {
            t = Tensor::empty(t.shape(), DType::kF16);
            for (int64_t i = 0; i < t.numel(); ++i) {
                t.data<uint16_t>()[i] = f32_to_f16(0.01f * static_cast<float>(i + 1));
            }
        }
    }
    safetensors_write(dir.path() / "model.safetensors", tensors);
    EXPECT_NO_THROW(validate_llama_checkpoint(c, CheckpointReader::open(dir.path())));
}

// ---- bitsandbytes 4-bit checkpoints ---------------------------------------------------------

using Named = std::vector<std::pair<std::string, Tensor>>;

// A small Llama whose odd hidden size and FFN width give projections of odd numel (735, 378,
// 126 values: partial last NF4 blocks, a half-used last byte).
LlamaConfig small_bnb_config(const test::TempDir& dir) {
    json j = stories_config();
    j["hidden_size"] = 21;
    j["head_dim"] = 6;
    j["num_attention_heads"] = 3;
    j["num_key_value_heads"] = 1;
    j["intermediate_size"] = 35;
    j["num_hidden_layers"] = 2;
    j["vocab_size"] = 40;
    j["tie_word_embeddings"] = false;
    return load_llama_config(write_config(dir, j));
}

bool is_projection(const std::string& name) {
    return name.ends_with("_proj.weight");
}

// The tensors transformers saves for a bnb 4-bit model (Linear4bit projections, everything else
// in bf16), the projections quantized with Nf4Weight and written by to_bnb. `quantize` picks
// which projections are 4-bit; the others stay bf16.
Named bnb_tensors(const LlamaConfig& cfg, bool (*quantize)(const std::string&)) {
    Named out;
    uint64_t salt = 0;
    for (const auto& [name, shape] : llama_tensor_shapes(cfg)) {
        const auto v = test::random_floats(
            static_cast<std::size_t>(shape[0]) * (shape.size() > 1 ? shape[1] : 1), -0.1f, 0.1f,
            ++salt);
        if (quantize(name)) {
            Tensor w = Tensor::empty(shape, DType::kF32);
            std::memcpy(w.raw_data(), v.data(), v.size() * sizeof(float));
            for (auto& t : Nf4Weight::quantize(w).to_bnb(name)) {
                out.push_back(std::move(t));
            }
            continue;
        }
        Tensor t = Tensor::empty(shape, DType::kBF16);
        for (std::size_t i = 0; i < v.size(); ++i) {
            t.data<uint16_t>()[i] = f32_to_bf16(v[i]);
        }
        out.emplace_back(name, t);
    }
    return out;
}

Tensor json_bytes(const std::string& s) {
    Tensor t = Tensor::empty({static_cast<int64_t>(s.size())}, DType::kU8);
    std::memcpy(t.raw_data(), s.data(), s.size());
    return t;
}

std::string text_of(const Tensor& t) {
    return std::string(reinterpret_cast<const char*>(t.data<uint8_t>()),
                       static_cast<std::size_t>(t.numel()));
}

// Writes `tensors` as <dir>/model.safetensors and opens the directory as a checkpoint.
CheckpointReader write_checkpoint(const test::TempDir& dir, const Named& tensors) {
    safetensors_write(dir.path() / "model.safetensors", tensors);
    return CheckpointReader::open(dir.path());
}

Named without(Named tensors, const std::string& name) {
    std::erase_if(tensors, [&](const auto& t) { return t.first == name; });
    return tensors;
}

Named replaced(Named tensors, const std::string& name, const Tensor& value) {
    for (auto& [n, t] : tensors) {
        if (n == name) {
            t = value;
        }
    }
    return tensors;
}

const Tensor& find(const Named& tensors, const std::string& name) {
    for (const auto& [n, t] : tensors) {
        if (n == name) {
            return t;
        }
    }
    QF_FAIL("no tensor '{}'", name);
}

const std::string kGate0 = "model.layers.0.mlp.gate_proj.weight";
const std::string kQ0 = "model.layers.0.self_attn.q_proj.weight";
const std::string kUp1 = "model.layers.1.mlp.up_proj.weight";
const std::string kNf4State = ".quant_state.bitsandbytes__nf4";

TEST(HfCheckpointBnb, Nf4ProjectionsPassValidation) {
    test::TempDir dir;
    const LlamaConfig c = small_bnb_config(dir);
    const Named tensors = bnb_tensors(c, is_projection);
    EXPECT_EQ(tensors.size(), 2u + 2u * (2u + 7u * 6u) + 1u);  // embed, lm_head, norm; 7 bnb x6
    const CheckpointReader ckpt = write_checkpoint(dir, tensors);
    EXPECT_NO_THROW(validate_llama_checkpoint(c, ckpt));

    // What validation accepted, the loader reads, with the shapes config.json implies.
    for (const auto& [name, shape] : llama_tensor_shapes(c)) {
        if (is_projection(name)) {
            const Nf4Weight w = Nf4Weight::from_bnb(ckpt, name);
            EXPECT_EQ(w.rows(), shape[0]) << name;
            EXPECT_EQ(w.cols(), shape[1]) << name;
        }
    }

    // Mixed: only layer 0 quantized (e.g. layers kept in bf16 via llm_int8_skip_modules).
    test::TempDir mixed;
    const LlamaConfig c2 = small_bnb_config(mixed);
    const Named some = bnb_tensors(c2, [](const std::string& name) {
        return is_projection(name) && name.starts_with("model.layers.0.");
    });
    EXPECT_NO_THROW(validate_llama_checkpoint(c2, write_checkpoint(mixed, some)));
}

TEST(HfCheckpointBnb, ConfigThatDisagreesWithTheQuantStateShape) {
    test::TempDir dir;
    const LlamaConfig c = small_bnb_config(dir);
    const CheckpointReader ckpt = write_checkpoint(dir, bnb_tensors(c, is_projection));
    const std::string file = (dir.path() / "model.safetensors").string();

    LlamaConfig wrong = c;
    wrong.intermediate_size = 36;
    EXPECT_THAT(validate_error(wrong, ckpt),
                AllOf(HasSubstr(file), HasSubstr("bitsandbytes 4-bit tensor '" + kGate0 + "'"),
                      HasSubstr("has shape [35, 21]"), HasSubstr(kGate0 + kNf4State),
                      HasSubstr("implies [36, 21]"), HasSubstr("intermediate_size 36")));

    wrong = c;
    wrong.num_key_value_heads = 3;
    EXPECT_THAT(validate_error(wrong, ckpt),
                AllOf(HasSubstr("'model.layers.0.self_attn.k_proj.weight'"),
                      HasSubstr("has shape [6, 21]"), HasSubstr("implies [18, 21]")));

    wrong = c;
    wrong.num_hidden_layers = 1;  // layer 1's bnb tensors do not belong to this config
    EXPECT_THAT(validate_error(wrong, ckpt),
                AllOf(HasSubstr("layer 1"), HasSubstr("num_hidden_layers = 1")));
}

TEST(HfCheckpointBnb, QuantStateThatDisagreesWithTheConfig) {
    test::TempDir dir;
    const LlamaConfig c = small_bnb_config(dir);
    const Named good = bnb_tensors(c, is_projection);
    const std::string state = text_of(find(good, kUp1 + kNf4State));
    ASSERT_NE(state.find("\"shape\": [35, 21]"), std::string::npos) << state;
    auto with_state = [&](const std::string& text) {
        test::TempDir d;
        return validate_error(
            c, write_checkpoint(d, replaced(good, kUp1 + kNf4State, json_bytes(text))));
    };

    std::string transposed = state;
    transposed.replace(transposed.find("[35, 21]"), 8, "[21, 35]");
    EXPECT_THAT(with_state(transposed),
                AllOf(HasSubstr("model.safetensors"), HasSubstr("'" + kUp1 + "'"),
                      HasSubstr("has shape [21, 35]"), HasSubstr("implies [35, 21]")));

    std::string three_d = state;
    three_d.replace(three_d.find("[35, 21]"), 8, "[35, 21, 1]");
    EXPECT_THAT(with_state(three_d),
                AllOf(HasSubstr(kUp1 + kNf4State), HasSubstr("[out_features, in_features]"),
                      HasSubstr("[35,21,1]")));

    EXPECT_THAT(with_state("{\"quant_type\": \"nf4\"}"),
                AllOf(HasSubstr(kUp1 + kNf4State), HasSubstr("no \"shape\"")));
    EXPECT_THAT(with_state(state.substr(0, state.size() / 2)),
                AllOf(HasSubstr(kUp1 + kNf4State), HasSubstr("not valid JSON")));
}

TEST(HfCheckpointBnb, MissingOrMalformedCompanionTensors) {
    test::TempDir dir;
    const LlamaConfig c = small_bnb_config(dir);
    const Named good = bnb_tensors(c, is_projection);
    auto error_of = [&](const Named& tensors) {
        test::TempDir d;
        return validate_error(c, write_checkpoint(d, tensors));
    };

    // absmax says "4-bit" but the quant state with the shape is gone.
    EXPECT_THAT(error_of(without(good, kQ0 + kNf4State)),
                AllOf(HasSubstr("'" + kQ0 + ".absmax'"),
                      HasSubstr("quant state '" + kQ0 + kNf4State + "' is missing")));

    // The packed codes themselves are gone, or have the wrong size or dtype.
    EXPECT_THAT(error_of(without(good, kGate0)),
                AllOf(HasSubstr("missing tensor '" + kGate0 + "'"), HasSubstr("packed 4-bit"),
                      HasSubstr("U8 [368, 1]")));
    EXPECT_THAT(error_of(replaced(good, kGate0, Tensor::zeros({367, 1}, DType::kU8))),
                AllOf(HasSubstr("'" + kGate0 + "'"), HasSubstr("expected U8 with 368 elements"),
                      HasSubstr("got U8 [367, 1]")));
    EXPECT_THAT(error_of(replaced(good, kGate0, Tensor::zeros({92}, DType::kF32))),
                AllOf(HasSubstr("'" + kGate0 + "'"), HasSubstr("got F32 [92]")));

    // FP4 is a different code; it is refused by name rather than misread.
    Named fp4 = without(good, kQ0 + kNf4State);
    fp4.emplace_back(kQ0 + ".quant_state.bitsandbytes__fp4", find(good, kQ0 + kNf4State));
    EXPECT_THAT(error_of(fp4),
                AllOf(HasSubstr("'" + kQ0 + "'"), HasSubstr("FP4"), HasSubstr("NF4 only")));

    // Packed U8 codes with no quant state or absmax: not recognisably bnb, so the float check
    // applies, and its message points at the missing quant state.
    Named bare = without(without(good, kQ0 + kNf4State), kQ0 + ".absmax");
    EXPECT_THAT(error_of(bare),
                AllOf(HasSubstr("'" + kQ0 + "' has shape [189, 1]"), HasSubstr("implies [18, 21]"),
                      HasSubstr("'" + kQ0 + kNf4State + "' is missing")));
}

}  // namespace
}  // namespace qforge::io
