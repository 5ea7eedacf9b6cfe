// What is here: runtime/tokenizer/tokenizer.h: loading tokenizer.json and
// tokenizer_config.json, and the encode/decode pipeline of HF TokenizerImpl:
//   added tokens cut out -> normalizer -> pre_tokenizer -> BPE -> post_processor;
//   ids -> token strings -> decoder.
// tokenizer.json "truncation" and "padding" are ignored, as transformers ignores them.
#include "runtime/tokenizer/tokenizer.h"

#include <fstream>
#include <iterator>

#include "kernels/common.h"
#include "runtime/tokenizer/added_vocab.h"
#include "runtime/tokenizer/bpe_model.h"
#include "runtime/tokenizer/chat_template.h"
#include "runtime/tokenizer/decoder.h"
#include "runtime/tokenizer/json_where.h"
#include "runtime/tokenizer/normalizer.h"
#include "runtime/tokenizer/post_processor.h"
#include "runtime/tokenizer/pre_tokenizer.h"
#include "runtime/tokenizer/utf8.h"

namespace qforge {

namespace fs = std::filesystem;
using tokenizer::Json;
using tokenizer::JsonWhere;

struct Tokenizer::Impl {
    std::string json_file;
    tokenizer::Normalizer normalizer;
    tokenizer::PreTokenizer pre_tokenizer;
    tokenizer::BpeModel model;
    tokenizer::PostProcessor post_processor;
    tokenizer::Decoder decoder;
    tokenizer::AddedVocab added;

    std::string config_file;  // empty when there is none
    std::optional<std::string> bos_token, eos_token;
    std::optional<std::int32_t> bos_id, eos_id;

    std::optional<std::string> chat_template;  // the source
    std::string chat_template_file;            // where it came from
    std::optional<tokenizer::ChatTemplate> chat_family;
    std::string dir;
};

namespace {

std::string read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    QF_CHECK(in.good(), "{}: cannot open", path.string());
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    QF_CHECK(!in.bad(), "{}: read failed", path.string());
    return text;
}

// bos_token / eos_token: "<s>", {"content": "<s>", ...} (AddedToken form), or null.
std::optional<std::string> config_token(const Json& cfg, const char* key, const JsonWhere& where) {
    if (!cfg.contains(key) || cfg[key].is_null()) {
        return std::nullopt;
    }
    const Json& v = cfg[key];
    if (v.is_string()) {
        return v.get<std::string>();
    }
    if (v.is_object()) {
        return where.at(key).get_string(v, "content");
    }
    where.at(key).fail(
        fmt::format("should be a string or {{\"content\": ...}}, got {}", v.type_name()));
}

// chat_template: a string, or [{"name": ..., "template": ...}] of which "default" is used.
std::optional<std::string> config_chat_template(const Json& cfg, const JsonWhere& where) {
    if (!cfg.contains("chat_template") || cfg["chat_template"].is_null()) {
        return std::nullopt;
    }
    const Json& v = cfg["chat_template"];
    const JsonWhere at = where.at("chat_template");
    if (v.is_string()) {
        return v.get<std::string>();
    }
    if (v.is_array()) {
        for (std::size_t i = 0; i < v.size(); ++i) {
            if (at.at(i).get_string(v[i], "name") == "default") {
                return at.at(i).get_string(v[i], "template");
            }
        }
        at.fail("has no template named \"default\"");
    }
    at.fail(fmt::format("should be a string or a list of {{\"name\", \"template\"}}, got {}",
                        v.type_name()));
}

std::string first_line(std::string_view s) {
    std::string line(s.substr(0, s.find('\n')));
    if (line.size() > 160) {
        line = line.substr(0, 160) + "...";
    }
    return line;
}

}  // namespace

Tokenizer Tokenizer::load(const fs::path& path) {
    auto impl = std::make_shared<Impl>();
    const bool is_dir = fs::is_directory(path);
    const fs::path json_path = is_dir ? path / "tokenizer.json" : path;
    const fs::path dir = is_dir ? path : path.parent_path();
    impl->dir = dir.string();
    QF_CHECK(fs::is_regular_file(json_path), "{}: no tokenizer.json found (expected {})",
             path.string(), json_path.string());
    impl->json_file = json_path.string();

    const Json j = tokenizer::json_parse(read_text(json_path), impl->json_file);
    const JsonWhere root{impl->json_file, ""};
    if (!j.is_object()) {
        root.fail("should be a JSON object with a \"model\"");
    }
    auto field = [&](const char* key) -> const Json& {
        static const Json null_json;
        return j.contains(key) ? j[key] : null_json;
    };
    impl->normalizer = tokenizer::Normalizer::from_json(field("normalizer"), root.at("normalizer"));
    impl->pre_tokenizer =
        tokenizer::PreTokenizer::from_json(field("pre_tokenizer"), root.at("pre_tokenizer"));
    impl->model = tokenizer::BpeModel::from_json(root.get(j, "model"), root.at("model"));
    impl->post_processor =
        tokenizer::PostProcessor::from_json(field("post_processor"), root.at("post_processor"));
    impl->decoder = tokenizer::Decoder::from_json(field("decoder"), root.at("decoder"));
    impl->added = tokenizer::AddedVocab::from_json(field("added_tokens"), root.at("added_tokens"),
                                                   impl->model, impl->normalizer);

    const fs::path config_path = dir / "tokenizer_config.json";
    if (fs::is_regular_file(config_path)) {
        impl->config_file = config_path.string();
        const Json cfg = tokenizer::json_parse(read_text(config_path), impl->config_file);
        const JsonWhere croot{impl->config_file, ""};
        if (!cfg.is_object()) {
            croot.fail("should be a JSON object");
        }
        impl->bos_token = config_token(cfg, "bos_token", croot);
        impl->eos_token = config_token(cfg, "eos_token", croot);
        impl->chat_template = config_chat_template(cfg, croot);
        impl->chat_template_file = impl->config_file;
    }
    // transformers saves templates as chat_template.jinja; it wins over the config's.
    const fs::path jinja_path = dir / "chat_template.jinja";
    if (fs::is_regular_file(jinja_path)) {
        impl->chat_template = read_text(jinja_path);
        impl->chat_template_file = jinja_path.string();
    }
    if (impl->chat_template) {
        impl->chat_family = tokenizer::chat_template_recognize(*impl->chat_template);
    }

    Tokenizer tok;
    tok.impl_ = impl;
    for (auto [name, text, id] : {std::tuple{"bos_token", &impl->bos_token, &impl->bos_id},
                                  std::tuple{"eos_token", &impl->eos_token, &impl->eos_id}}) {
        if (*text) {
            *id = tok.token_to_id(**text);
            QF_CHECK(id->has_value(), "{}: {} \"{}\" is not in the vocabulary of {}",
                     impl->config_file, name, **text, impl->json_file);
        }
    }
    return tok;
}

std::vector<std::int32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
    const std::size_t bad = tokenizer::utf8_find_invalid(text);
    QF_CHECK(bad == std::string_view::npos,
             "Tokenizer::encode: the input is not valid UTF-8 (byte {} of {})", bad, text.size());
    std::vector<std::int32_t> ids;
    std::vector<std::string> words;
    for (tokenizer::Piece& piece : impl_->added.extract_and_normalize(text, impl_->normalizer)) {
        if (piece.id >= 0) {
            ids.push_back(piece.id);
            continue;
        }
        words.clear();
        impl_->pre_tokenizer.pre_tokenize({std::move(piece.text), piece.at_origin}, words);
        for (const std::string& w : words) {
            impl_->model.tokenize(w, ids);
        }
    }
    return add_special_tokens ? impl_->post_processor.apply(ids) : ids;
}

std::string Tokenizer::decode(std::span<const std::int32_t> ids, bool skip_special_tokens) const {
    std::vector<std::string> tokens;
    tokens.reserve(ids.size());
    for (const std::int32_t id : ids) {
        const tokenizer::AddedToken* added = impl_->added.by_id(id);
        const std::string* token = added ? &added->content : impl_->model.id_to_token(id);
        if (token == nullptr) {
            continue;  // HF skips ids it does not know
        }
        if (skip_special_tokens && impl_->added.is_special_content(*token)) {
            continue;
        }
        tokens.push_back(*token);
    }
    return impl_->decoder.decode(std::move(tokens));
}

std::string Tokenizer::id_to_token(std::int32_t id) const {
    if (const tokenizer::AddedToken* added = impl_->added.by_id(id)) {
        return added->content;
    }
    const std::string* token = impl_->model.id_to_token(id);
    QF_CHECK(token != nullptr, "{}: id {} is not in the vocabulary (vocab_size {})",
             impl_->json_file, id, vocab_size());
    return *token;
}

std::optional<std::int32_t> Tokenizer::token_to_id(std::string_view token) const {
    if (const tokenizer::AddedToken* added = impl_->added.by_content(token)) {
        return added->id;
    }
    return impl_->model.token_to_id(token);
}

std::int64_t Tokenizer::vocab_size() const {
    return static_cast<std::int64_t>(std::max(impl_->model.max_id(), impl_->added.max_id())) + 1;
}

std::optional<std::int32_t> Tokenizer::bos_id() const {
    return impl_->bos_id;
}

std::optional<std::int32_t> Tokenizer::eos_id() const {
    return impl_->eos_id;
}

bool Tokenizer::is_special(std::int32_t id) const {
    const tokenizer::AddedToken* added = impl_->added.by_id(id);
    return added != nullptr && added->special;
}

bool Tokenizer::has_chat_template() const {
    return impl_->chat_template.has_value();
}

std::string Tokenizer::apply_chat_template(const std::vector<ChatMessage>& messages,
                                           bool add_generation_prompt) const {
    if (!impl_->chat_template) {
        QF_FAIL(
            "{}: the model has no chat template (no \"chat_template\" in "
            "tokenizer_config.json and no chat_template.jinja)",
            impl_->dir);
    }
    if (!impl_->chat_family) {
        QF_FAIL(
            "{}: chat_template is not one of the supported families (Llama-2 chat, "
            "Llama-3 Instruct, ChatML); its first line is: {}",
            impl_->chat_template_file, first_line(*impl_->chat_template));
    }
    return tokenizer::chat_template_render(
        *impl_->chat_family, messages, add_generation_prompt,
        {impl_->bos_token, impl_->eos_token,
         impl_->config_file.empty() ? impl_->dir + "/tokenizer_config.json" : impl_->config_file});
}

}  // namespace qforge
