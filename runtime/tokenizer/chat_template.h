// What is here: chat templates without a Jinja engine. A template is recognised by its
// structure (its jinja_tokens() stream equals that of a known family: Llama-2 chat,
// Llama-3 Instruct, ChatML, or ChatML with a default system message as Qwen2 writes it), and
// each family is rendered by plain C++ that produces exactly what transformers'
// apply_chat_template(tokenize=False) produces.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/tokenizer/chat_message.h"

namespace qforge::tokenizer {

enum class ChatFamily { kLlama2, kLlama3, kChatMl, kChatMlDefaultSystem };

struct ChatTemplate {
    ChatFamily family;
    std::string default_system_block;  // kChatMlDefaultSystem: the literal it emits first
};

// The family of `source`, or nullopt when it is none of the supported ones.
std::optional<ChatTemplate> chat_template_recognize(std::string_view source);

// The special tokens the templates use (tokenizer_config.json's bos_token / eos_token).
struct ChatSpecialTokens {
    std::optional<std::string> bos_token;
    std::optional<std::string> eos_token;
    std::string config_file;  // named when a template needs a token the config lacks
};

// Renders `tmpl`. Raises what the template raises (Llama-2: roles must alternate) as a
// qforge::Error.
std::string chat_template_render(const ChatTemplate& tmpl, const std::vector<ChatMessage>& messages,
                                 bool add_generation_prompt, const ChatSpecialTokens& tokens);

// Python's str.strip() (Jinja's trim filter).
std::string python_strip(std::string_view s);

}  // namespace qforge::tokenizer
