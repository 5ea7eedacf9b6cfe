// What is here: load_bert_config (config.json -> BertConfig, with every check in one place).
#include "runtime/encoder/bert_config.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "kernels/common.h"

namespace qforge::io {

namespace {

using Json = nlohmann::json;

int64_t read_int(const Json& j, const std::string& file, const char* key, int64_t fallback,
                 bool required) {
    const auto it = j.find(key);
    if (it == j.end() || it->is_null()) {
        QF_CHECK(!required, "{}: \"{}\" is missing (expected a positive integer)", file, key);
        return fallback;
    }
    QF_CHECK(it->is_number_integer() && it->get<int64_t>() > 0,
             "{}: \"{}\" expected a positive integer, got {}", file, key, it->dump());
    return it->get<int64_t>();
}

}  // namespace

BertConfig load_bert_config(const std::filesystem::path& config_json_or_dir) {
    const std::filesystem::path path = std::filesystem::is_directory(config_json_or_dir)
                                           ? config_json_or_dir / "config.json"
                                           : config_json_or_dir;
    const std::string file = path.string();
    std::ifstream in(path);
    QF_CHECK(in.good(), "{}: cannot open (expected a Hugging Face BERT config.json)", file);
    Json j;
    try {
        j = Json::parse(in);
    } catch (const Json::parse_error& e) {
        QF_FAIL("{}: not valid JSON: {}", file, e.what());
    }
    QF_CHECK(j.is_object(), "{}: expected a JSON object", file);

    BertConfig c;
    c.vocab_size = read_int(j, file, "vocab_size", 0, true);
    c.hidden_size = read_int(j, file, "hidden_size", 0, true);
    c.num_hidden_layers = read_int(j, file, "num_hidden_layers", 0, true);
    c.num_attention_heads = read_int(j, file, "num_attention_heads", 0, true);
    c.intermediate_size = read_int(j, file, "intermediate_size", 0, true);
    c.max_position_embeddings = read_int(j, file, "max_position_embeddings", 512, false);
    c.type_vocab_size = read_int(j, file, "type_vocab_size", 2, false);
    QF_CHECK(c.hidden_size % c.num_attention_heads == 0,
             "{}: hidden_size {} is not a multiple of num_attention_heads {}", file, c.hidden_size,
             c.num_attention_heads);
    if (j.contains("layer_norm_eps") && !j["layer_norm_eps"].is_null()) {
        QF_CHECK(j["layer_norm_eps"].is_number() && j["layer_norm_eps"].get<double>() >= 0.0,
                 "{}: \"layer_norm_eps\" expected a number >= 0, got {}", file,
                 j["layer_norm_eps"].dump());
        c.layer_norm_eps = j["layer_norm_eps"].get<float>();
    }
    if (j.contains("hidden_act")) {
        QF_CHECK(j["hidden_act"].is_string() && j["hidden_act"] == "gelu",
                 "{}: \"hidden_act\" {} is not supported (expected \"gelu\", the exact erf GELU)",
                 file, j["hidden_act"].dump());
    }
    if (j.contains("position_embedding_type") && !j["position_embedding_type"].is_null()) {
        QF_CHECK(j["position_embedding_type"] == "absolute",
                 "{}: \"position_embedding_type\" {} is not supported (expected \"absolute\")",
                 file, j["position_embedding_type"].dump());
    }
    if (j.contains("pad_token_id") && j["pad_token_id"].is_number_integer()) {
        c.pad_token_id = j["pad_token_id"].get<int32_t>();
    }
    if (j.contains("is_decoder")) {
        QF_CHECK(j["is_decoder"] == false,
                 "{}: \"is_decoder\" true is not supported (expected a bidirectional encoder)",
                 file);
    }
    return c;
}

}  // namespace qforge::io
