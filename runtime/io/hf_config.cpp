// What is here: config.json parsing/validation for the Llama family, and the checkpoint check
// (float tensors, or bitsandbytes NF4 projections checked through their quant state).
#include "runtime/io/hf_config.h"

#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>

namespace qforge::io {

namespace {

using json = nlohmann::json;

// Typed access to one JSON object of config.json; every error names the file and the key path.
class Fields {
public:
    Fields(const json& obj, std::string file, std::string prefix)
        : obj_(obj), file_(std::move(file)), prefix_(std::move(prefix)) {}

    // A key that is absent or null reads as "not given".
    bool has(const char* key) const { return obj_.contains(key) && !obj_[key].is_null(); }

    const json& raw(const char* key) const { return obj_[key]; }

    std::string where(const char* key) const { return file_ + ": \"" + prefix_ + key + "\""; }

    [[noreturn]] void fail_type(const char* key, const char* expected) const {
        QF_FAIL("{} must be {}, got {}", where(key), expected, raw(key).dump());
    }

    void require(const char* key) const {
        QF_CHECK(obj_.contains(key), "{}: missing required key \"{}{}\"", file_, prefix_, key);
        QF_CHECK(!obj_[key].is_null(), "{} is null; expected a value", where(key));
    }

    int64_t integer(const char* key) const {
        require(key);
        const json& v = raw(key);
        if (!v.is_number_integer() ||
            (v.is_number_unsigned() &&
             v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))) {
            fail_type(key, "an integer");
        }
        return v.get<int64_t>();
    }

    int64_t positive(const char* key) const {
        const int64_t v = integer(key);
        QF_CHECK(v > 0, "{} must be a positive integer, got {}", where(key), v);
        return v;
    }

    int64_t positive_or(const char* key, int64_t fallback) const {
        return has(key) ? positive(key) : fallback;
    }

    double number(const char* key) const {
        require(key);
        if (!raw(key).is_number()) {
            fail_type(key, "a number");
        }
        return raw(key).get<double>();
    }

    double number_or(const char* key, double fallback) const {
        return has(key) ? number(key) : fallback;
    }

    bool boolean_or(const char* key, bool fallback) const {
        if (!has(key)) {
            return fallback;
        }
        if (!raw(key).is_boolean()) {
            fail_type(key, "true or false");
        }
        return raw(key).get<bool>();
    }

    std::string string(const char* key) const {
        require(key);
        if (!raw(key).is_string()) {
            fail_type(key, "a string");
        }
        return raw(key).get<std::string>();
    }

    std::string string_or(const char* key, std::string fallback) const {
        return has(key) ? string(key) : fallback;
    }

private:
    const json& obj_;
    std::string file_;
    std::string prefix_;
};

float positive_float(const Fields& f, const char* key, double value) {
    QF_CHECK(value > 0 && value <= std::numeric_limits<float>::max(),
             "{} must be a positive number, got {}", f.where(key), value);
    return static_cast<float>(value);
}

// rope_theta and rope scaling: transformers v5 puts both in "rope_parameters"; v4 has a
// top-level "rope_theta" plus an optional "rope_scaling" ({"rope_type" or "type": ...}).
void parse_rope(const json& root, const std::string& file, LlamaConfig& cfg) {
    const Fields top(root, file, "");
    const char* section = nullptr;
    if (top.has("rope_parameters")) {
        section = "rope_parameters";
    } else if (top.has("rope_scaling")) {
        section = "rope_scaling";
    }
    double theta = top.number_or("rope_theta", 10000.0);
    const Fields* theta_from = &top;  // which object the error message should name
    std::string type = "default";
    std::optional<Fields> params;
    if (section) {
        const json& obj = root[section];
        QF_CHECK(obj.is_object(), "{}: \"{}\" must be an object, got {}", file, section,
                 obj.dump());
        params.emplace(obj, file, std::string(section) + ".");
        for (const auto& [key, value] : obj.items()) {
            // transformers v5 nests one dict per layer type for some models (Gemma); Llama has
            // one set of parameters for every layer.
            QF_CHECK(!value.is_object(),
                     "{}: \"{}.{}\" is an object; per-layer-type RoPE parameters are not "
                     "supported for Llama models",
                     file, section, key);
        }
        if (params->has("rope_theta")) {
            theta = params->number("rope_theta");
            theta_from = &*params;
        }
        if (params->has("rope_type")) {
            type = params->string("rope_type");
        } else if (params->has("type")) {
            type = params->string("type");
        } else {
            QF_CHECK(std::string(section) == "rope_parameters",
                     "{}: \"rope_scaling\" needs a \"rope_type\" (or \"type\") string", file);
        }
    }
    cfg.rope_theta = positive_float(*theta_from, "rope_theta", theta);

    kernels::RopeScaling scaling{};
    scaling.type = kernels::RopeScaling::Type::kNone;
    scaling.factor = 1.0f;
    scaling.low_freq_factor = 1.0f;
    scaling.high_freq_factor = 1.0f;
    scaling.original_max_position = cfg.max_position_embeddings;
    if (type == "llama3") {
        const Fields& p = *params;
        scaling.type = kernels::RopeScaling::Type::kLlama3;
        scaling.factor = positive_float(p, "factor", p.number("factor"));
        scaling.low_freq_factor = positive_float(p, "low_freq_factor", p.number("low_freq_factor"));
        scaling.high_freq_factor =
            positive_float(p, "high_freq_factor", p.number("high_freq_factor"));
        scaling.original_max_position = p.positive("original_max_position_embeddings");
        QF_CHECK(scaling.factor >= 1.0f, "{} must be >= 1, got {}", p.where("factor"),
                 scaling.factor);
        QF_CHECK(scaling.high_freq_factor > scaling.low_freq_factor,
                 "{} ({}) must be greater than low_freq_factor ({})", p.where("high_freq_factor"),
                 scaling.high_freq_factor, scaling.low_freq_factor);
    } else if (type == "linear") {
        const Fields& p = *params;
        scaling.type = kernels::RopeScaling::Type::kLinear;
        scaling.factor = positive_float(p, "factor", p.number("factor"));
        QF_CHECK(scaling.factor >= 1.0f, "{} must be >= 1, got {}", p.where("factor"),
                 scaling.factor);
    } else if (type != "default") {
        QF_FAIL(
            "{}: \"{}\" has rope_type \"{}\", which qforge does not support (supported: "
            "default, llama3, linear)",
            file, section ? section : "rope_parameters", type);
    }
    cfg.rope_scaling = scaling;
}

int32_t token_id(const Fields& f, const char* key, const json& v, int64_t vocab_size) {
    QF_CHECK(v.is_number_integer(),
             "{} must be an integer token id (or a list of them for "
             "eos_token_id), got {}",
             f.where(key), v.dump());
    const int64_t id = v.get<int64_t>();
    QF_CHECK(id >= 0 && id < vocab_size, "{} = {} is outside the vocabulary [0, {})", f.where(key),
             id, vocab_size);
    return static_cast<int32_t>(id);
}

// The sizes behind every expected shape, for error messages.
std::string config_sizes(const LlamaConfig& cfg) {
    return fmt::format(
        "hidden_size {}, intermediate_size {}, heads {}/{} kv, head_dim {}, vocab_size {}",
        cfg.hidden_size, cfg.intermediate_size, cfg.num_attention_heads, cfg.num_key_value_heads,
        cfg.head_dim, cfg.vocab_size);
}

// bitsandbytes 4-bit Linear weights (Linear4bit, saved by transformers) replace the float
// "<name>" [OC, IC] with packed U8 codes plus companion tensors; the logical shape lives only in
// the JSON quant state "<name>.quant_state.bitsandbytes__nf4" (runtime/model/nf4_weight.h has
// the whole layout; Nf4Weight::from_bnb checks the rest when the weight loads).
constexpr std::string_view kBnbNf4State = ".quant_state.bitsandbytes__nf4";
constexpr std::string_view kBnbFp4State = ".quant_state.bitsandbytes__fp4";

bool is_bnb_4bit(const CheckpointReader& ckpt, const std::string& name) {
    return ckpt.contains(name + std::string(kBnbNf4State)) ||
           ckpt.contains(name + std::string(kBnbFp4State)) || ckpt.contains(name + ".absmax");
}

// The "shape" of a quant state: [OC, IC] as two positive integers.
std::vector<int64_t> bnb_state_shape(const CheckpointReader& ckpt, const std::string& state) {
    const std::string where = fmt::format("{}: tensor '{}'", ckpt.file_of(state).string(), state);
    const TensorInfo& info = ckpt.info(state);
    QF_CHECK(info.dtype == DType::kU8 && info.shape.size() == 1,
             "{}: expected a 1-D U8 tensor of JSON bytes (a bitsandbytes quant state), got {} {}",
             where, safetensors_dtype_name(info.dtype), shape_to_string(info.shape));
    const Tensor bytes = ckpt.get(state).contiguous();
    const std::string text(reinterpret_cast<const char*>(bytes.data<uint8_t>()),
                           static_cast<std::size_t>(bytes.numel()));
    json j;
    try {
        j = json::parse(text);
    } catch (const json::parse_error& e) {
        QF_FAIL("{}: quant state is not valid JSON ({})", where, e.what());
    }
    QF_CHECK(j.is_object() && j.contains("shape"), "{}: quant state has no \"shape\" (got {})",
             where, text);
    const json& shape = j["shape"];
    QF_CHECK(shape.is_array() && shape.size() == 2 && shape[0].is_number_integer() &&
                 shape[1].is_number_integer() && shape[0].get<int64_t>() > 0 &&
                 shape[1].get<int64_t>() > 0,
             "{}: quant state \"shape\" must be [out_features, in_features] (two positive "
             "integers), got {}",
             where, shape.dump());
    return {shape[0].get<int64_t>(), shape[1].get<int64_t>()};
}

void validate_bnb_4bit(const LlamaConfig& cfg, const CheckpointReader& ckpt,
                       const std::string& name, const std::vector<int64_t>& shape) {
    const std::string dir = ckpt.dir().string();
    const std::string state = name + std::string(kBnbNf4State);
    QF_CHECK(!ckpt.contains(name + std::string(kBnbFp4State)),
             "{}: '{}' is a bitsandbytes FP4 weight ('{}{}'); qforge reads NF4 only "
             "(bnb_4bit_quant_type=\"nf4\")",
             ckpt.file_of(name + std::string(kBnbFp4State)).string(), name, name, kBnbFp4State);
    QF_CHECK(ckpt.contains(state),
             "{}: '{}.absmax' marks '{}' as a bitsandbytes 4-bit weight, but its quant state '{}' "
             "is missing",
             ckpt.file_of(name + ".absmax").string(), name, name, state);
    const std::vector<int64_t> actual = bnb_state_shape(ckpt, state);
    QF_CHECK(actual == shape,
             "{}: bitsandbytes 4-bit tensor '{}' has shape {} (quant state '{}'), but config.json "
             "implies {} ({})",
             ckpt.file_of(state).string(), name, shape_to_string(actual), state,
             shape_to_string(shape), config_sizes(cfg));
    // The packed codes: two 4-bit values per byte, stored [(numel + 1) / 2, 1] as U8.
    const int64_t packed_bytes = (shape[0] * shape[1] + 1) / 2;
    QF_CHECK(ckpt.contains(name),
             "{}: missing tensor '{}' (the packed 4-bit codes of a bitsandbytes weight, U8 "
             "[{}, 1])",
             dir, name, packed_bytes);
    const TensorInfo& info = ckpt.info(name);
    int64_t numel = 1;
    for (const int64_t d : info.shape) {
        numel *= d;
    }
    QF_CHECK(info.dtype == DType::kU8 && numel == packed_bytes,
             "{}: tensor '{}' holds the packed 4-bit codes of a {} weight, so expected U8 with {} "
             "elements ([{}, 1]), got {} {}",
             ckpt.file_of(name).string(), name, shape_to_string(shape), packed_bytes, packed_bytes,
             safetensors_dtype_name(info.dtype), shape_to_string(info.shape));
}
}  // namespace

LlamaConfig load_llama_config(const std::filesystem::path& config_json_or_dir) {
    const std::filesystem::path path = std::filesystem::is_directory(config_json_or_dir)
                                           ? config_json_or_dir / "config.json"
                                           : config_json_or_dir;
    const std::string file = path.string();
    std::ifstream in(path);
    QF_CHECK(in.good(), "{}: cannot open the model config", file);
    json root;
    try {
        root = json::parse(in);
    } catch (const json::parse_error& e) {
        QF_FAIL("{}: not valid JSON: {}", file, e.what());
    }
    QF_CHECK(root.is_object(), "{}: expected a JSON object, got {}", file, root.type_name());
    const Fields f(root, file, "");

    LlamaConfig cfg;
    cfg.model_type = f.string("model_type");
    if (cfg.model_type == "mistral") {
        // Mistral is Llama with sliding-window attention; without a window it is the same.
        QF_CHECK(!f.has("sliding_window"),
                 "{} = {}: sliding-window attention is not supported (only model_type \"llama\", "
                 "or \"mistral\" with sliding_window null)",
                 f.where("sliding_window"), root["sliding_window"].dump());
    } else {
        QF_CHECK(cfg.model_type == "llama",
                 "{} is \"{}\"; qforge loads Llama-family models (\"llama\", or \"mistral\" "
                 "without sliding window)",
                 f.where("model_type"), cfg.model_type);
    }

    cfg.hidden_size = f.positive("hidden_size");
    cfg.intermediate_size = f.positive("intermediate_size");
    cfg.num_hidden_layers = f.positive("num_hidden_layers");
    cfg.num_attention_heads = f.positive("num_attention_heads");
    cfg.vocab_size = f.positive("vocab_size");
    cfg.num_key_value_heads = f.positive_or("num_key_value_heads", cfg.num_attention_heads);
    if (f.has("head_dim")) {
        cfg.head_dim = f.positive("head_dim");
    } else {
        QF_CHECK(cfg.hidden_size % cfg.num_attention_heads == 0,
                 "{}: hidden_size {} is not divisible by num_attention_heads {} (and no head_dim "
                 "is given)",
                 file, cfg.hidden_size, cfg.num_attention_heads);
        cfg.head_dim = cfg.hidden_size / cfg.num_attention_heads;
    }
    QF_CHECK(cfg.head_dim % 2 == 0, "{}: head_dim {} must be even (RoPE rotates pairs)", file,
             cfg.head_dim);
    QF_CHECK(cfg.num_attention_heads % cfg.num_key_value_heads == 0,
             "{}: num_attention_heads {} is not a multiple of num_key_value_heads {}", file,
             cfg.num_attention_heads, cfg.num_key_value_heads);
    cfg.max_position_embeddings = f.positive_or("max_position_embeddings", 2048);
    cfg.rms_norm_eps = positive_float(f, "rms_norm_eps", f.number_or("rms_norm_eps", 1e-6));
    parse_rope(root, file, cfg);

    cfg.hidden_act = f.string_or("hidden_act", "silu");
    QF_CHECK(cfg.hidden_act == "silu", "{} is \"{}\"; Llama models use \"silu\" (SwiGLU)",
             f.where("hidden_act"), cfg.hidden_act);
    cfg.tie_word_embeddings = f.boolean_or("tie_word_embeddings", false);
    cfg.attention_bias = f.boolean_or("attention_bias", false);
    cfg.mlp_bias = f.boolean_or("mlp_bias", false);

    // transformers' defaults apply when a key is absent (bos 1, eos 2); null means "none".
    if (!root.contains("bos_token_id")) {
        cfg.bos_token_id = 1;
    } else if (!root["bos_token_id"].is_null()) {
        cfg.bos_token_id = token_id(f, "bos_token_id", root["bos_token_id"], cfg.vocab_size);
    }
    if (!root.contains("eos_token_id")) {
        cfg.eos_token_ids = {2};
    } else if (root["eos_token_id"].is_array()) {
        for (const json& id : root["eos_token_id"]) {
            cfg.eos_token_ids.push_back(token_id(f, "eos_token_id", id, cfg.vocab_size));
        }
    } else if (!root["eos_token_id"].is_null()) {
        cfg.eos_token_ids = {token_id(f, "eos_token_id", root["eos_token_id"], cfg.vocab_size)};
    }
    cfg.torch_dtype = f.has("dtype") ? f.string("dtype") : f.string_or("torch_dtype", "");
    return cfg;
}

std::vector<std::pair<std::string, std::vector<int64_t>>> llama_tensor_shapes(
    const LlamaConfig& cfg) {
    const int64_t C = cfg.hidden_size, F = cfg.intermediate_size, V = cfg.vocab_size;
    const int64_t Q = cfg.num_attention_heads * cfg.head_dim;
    const int64_t KV = cfg.num_key_value_heads * cfg.head_dim;
    std::vector<std::pair<std::string, std::vector<int64_t>>> out;
    out.push_back({"model.embed_tokens.weight", {V, C}});
    for (int64_t l = 0; l < cfg.num_hidden_layers; ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".";
        out.push_back({p + "input_layernorm.weight", {C}});
        const std::pair<const char*, std::vector<int64_t>> attn[] = {
            {"q_proj", {Q, C}}, {"k_proj", {KV, C}}, {"v_proj", {KV, C}}, {"o_proj", {C, Q}}};
        for (const auto& [proj, shape] : attn) {
            out.push_back({p + "self_attn." + proj + ".weight", shape});
            if (cfg.attention_bias) {
                out.push_back({p + "self_attn." + proj + ".bias", {shape[0]}});
            }
        }
        out.push_back({p + "post_attention_layernorm.weight", {C}});
        const std::pair<const char*, std::vector<int64_t>> mlp[] = {
            {"gate_proj", {F, C}}, {"up_proj", {F, C}}, {"down_proj", {C, F}}};
        for (const auto& [proj, shape] : mlp) {
            out.push_back({p + "mlp." + proj + ".weight", shape});
            if (cfg.mlp_bias) {
                out.push_back({p + "mlp." + proj + ".bias", {shape[0]}});
            }
        }
    }
    out.push_back({"model.norm.weight", {C}});
    if (!cfg.tie_word_embeddings) {
        out.push_back({"lm_head.weight", {V, C}});
    }
    return out;
}

void validate_llama_checkpoint(const LlamaConfig& cfg, const CheckpointReader& ckpt) {
    const std::string dir = ckpt.dir().string();
    auto expected = llama_tensor_shapes(cfg);
    // A tied checkpoint may still carry lm_head.weight (some exporters write it); check it too.
    if (cfg.tie_word_embeddings && ckpt.contains("lm_head.weight")) {
        expected.push_back({"lm_head.weight", {cfg.vocab_size, cfg.hidden_size}});
    }
    for (const auto& [name, shape] : expected) {
        if (shape.size() == 2 && is_bnb_4bit(ckpt, name)) {
            validate_bnb_4bit(cfg, ckpt, name, shape);
            continue;
        }
        QF_CHECK(ckpt.contains(name), "{}: missing tensor '{}' (config.json implies shape {}{})",
                 dir, name, shape_to_string(shape),
                 name == "lm_head.weight" ? "; tie_word_embeddings is false" : "");
        const TensorInfo& info = ckpt.info(name);
        const std::string file = ckpt.file_of(name).string();
        // A U8 weight is what a bnb checkpoint that lost its quant state looks like.
        const std::string bnb_hint =
            info.dtype == DType::kU8
                ? fmt::format(" (U8: if it is a bitsandbytes 4-bit weight, '{}{}' is missing)",
                              name, kBnbNf4State)
                : std::string();
        QF_CHECK(info.shape == shape,
                 "{}: tensor '{}' has shape {}, but config.json implies {} ({}){}", file, name,
                 shape_to_string(info.shape), shape_to_string(shape), config_sizes(cfg), bnb_hint);
        QF_CHECK(
            info.dtype == DType::kF32 || info.dtype == DType::kBF16 || info.dtype == DType::kF16,
            "{}: tensor '{}' has dtype {}; expected a float dtype (F32, BF16 or F16){}", file, name,
            safetensors_dtype_name(info.dtype), bnb_hint);
    }
    // Weights for more layers than the config declares mean the two do not belong together.
    const std::string prefix = "model.layers.";
    for (const std::string& name : ckpt.names()) {
        if (name.rfind(prefix, 0) != 0) {
            continue;
        }
        const std::size_t dot = name.find('.', prefix.size());
        const std::string index = name.substr(prefix.size(), dot - prefix.size());
        const bool numeric = !index.empty() && index.size() < 10 &&
                             index.find_first_not_of("0123456789") == std::string::npos;
        QF_CHECK(!numeric || std::stoll(index) < cfg.num_hidden_layers,
                 "{}: tensor '{}' belongs to layer {}, but config.json says num_hidden_layers = "
                 "{}",
                 ckpt.file_of(name).string(), name, index, cfg.num_hidden_layers);
    }
}

}  // namespace qforge::io
