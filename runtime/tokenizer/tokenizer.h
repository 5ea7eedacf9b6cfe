// What is here: qforge::Tokenizer, a Hugging Face tokenizer.json (BPE: SentencePiece-style
// with byte fallback, or byte-level GPT-2/Llama-3 style) that encodes and decodes exactly as
// HF `tokenizers` does, plus tokenizer_config.json's bos/eos tokens and chat template.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/tokenizer/chat_message.h"

namespace qforge {

class Tokenizer {
public:
    // `path` is a model directory (tokenizer.json, optional tokenizer_config.json and
    // chat_template.jinja) or a tokenizer.json file (a tokenizer_config.json beside it is
    // read too). Any unsupported component or malformed field is a qforge::Error naming the
    // file and the JSON path.
    static Tokenizer load(const std::filesystem::path& path);

    // Added/special tokens are cut out first, the rest is normalized, pre-tokenized and run
    // through BPE. add_special_tokens applies the post_processor (e.g. BOS), as HF does.
    // Invalid UTF-8 input is a qforge::Error.
    std::vector<std::int32_t> encode(std::string_view text, bool add_special_tokens = true) const;

    // HF decode: ids -> token strings (unknown ids are skipped; special tokens too when
    // skip_special_tokens) -> the decoder chain.
    std::string decode(std::span<const std::int32_t> ids, bool skip_special_tokens = false) const;

    // The token string of an id (added tokens first); an unknown id is a qforge::Error.
    std::string id_to_token(std::int32_t id) const;
    std::optional<std::int32_t> token_to_id(std::string_view token) const;

    // Largest id of the model vocab and the added tokens, plus one.
    std::int64_t vocab_size() const;

    // tokenizer_config.json's bos_token / eos_token (a string or {"content": ...}).
    std::optional<std::int32_t> bos_id() const;
    std::optional<std::int32_t> eos_id() const;

    // True for added tokens marked "special" (<s>, <|eot_id|>, ...).
    bool is_special(std::int32_t id) const;

    bool has_chat_template() const;

    // Renders the chat template for the families it recognises by structure: Llama-2 chat,
    // Llama-3 Instruct and ChatML (with or without a default system message, e.g. Qwen2).
    // Any other template, or none, is a qforge::Error saying so.
    std::string apply_chat_template(const std::vector<ChatMessage>& messages,
                                    bool add_generation_prompt = true) const;

    struct Impl;

private:
    std::shared_ptr<const Impl> impl_;
};

}  // namespace qforge
