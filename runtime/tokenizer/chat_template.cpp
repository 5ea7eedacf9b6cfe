// What is here: runtime/tokenizer/chat_template.h. The reference templates below are the ones
// the models ship in tokenizer_config.json; tests/golden/make_golden_tokenizers.py renders
// them with transformers for the golden outputs this code must reproduce.
#include "runtime/tokenizer/chat_template.h"

#include "kernels/common.h"
#include "runtime/tokenizer/jinja_tokens.h"
#include "runtime/tokenizer/utf8.h"

namespace qforge::tokenizer {

namespace {

// meta-llama/Llama-2-*-chat-hf.
constexpr std::string_view kLlama2 =
    R"TPL({% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\n' + system_message + '\n<</SYS>>\n\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %})TPL";

// meta-llama/Meta-Llama-3-*-Instruct.
constexpr std::string_view kLlama3 =
    R"TPL({% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %})TPL";

// Plain ChatML.
constexpr std::string_view kChatMl =
    R"TPL({% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %})TPL";

// ChatML with a default system message (Qwen2 / Qwen1.5). '\x01' stands for the literal the
// template emits when the conversation has no system message of its own.
constexpr std::string_view kChatMlDefaultSystem =
    R"TPL({% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '\x01' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %})TPL";

constexpr std::string_view kSlot = "\x01";

struct Reference {
    ChatFamily family;
    std::vector<JinjaToken> tokens;
};

const std::vector<Reference>& references() {
    static const std::vector<Reference> refs = [] {
        std::vector<Reference> r;
        for (const auto& [family, source] :
             {std::pair{ChatFamily::kLlama2, kLlama2}, std::pair{ChatFamily::kLlama3, kLlama3},
              std::pair{ChatFamily::kChatMl, kChatMl},
              std::pair{ChatFamily::kChatMlDefaultSystem, kChatMlDefaultSystem}}) {
            auto tokens = jinja_tokens(source);
            QF_CHECK(tokens.has_value(), "built-in chat template does not lex");
            r.push_back({family, std::move(*tokens)});
        }
        return r;
    }();
    return refs;
}

const char* family_name(ChatFamily f) {
    switch (f) {
        case ChatFamily::kLlama2:
            return "Llama-2 chat";
        case ChatFamily::kLlama3:
            return "Llama-3 Instruct";
        case ChatFamily::kChatMl:
            return "ChatML";
        case ChatFamily::kChatMlDefaultSystem:
            return "ChatML (default system message)";
    }
    return "?";
}

const std::string& need(const std::optional<std::string>& token, const char* name, ChatFamily f,
                        const ChatSpecialTokens& tokens) {
    if (!token) {
        QF_FAIL("{}: the {} chat template uses {}, which tokenizer_config.json does not set",
                tokens.config_file, family_name(f), name);
    }
    return *token;
}

std::string render_llama2(const std::vector<ChatMessage>& messages,
                          const ChatSpecialTokens& tokens) {
    QF_CHECK(!messages.empty(), "chat template (Llama-2 chat): no messages to render");
    std::optional<std::string> system;
    std::size_t first = 0;
    if (messages[0].role == "system") {
        system = messages[0].content;
        first = 1;
    }
    std::string out;
    for (std::size_t k = first; k < messages.size(); ++k) {
        const std::size_t i = k - first;
        const ChatMessage& m = messages[k];
        if ((m.role == "user") != (i % 2 == 0)) {
            QF_FAIL(
                "chat template (Llama-2 chat): Conversation roles must alternate "
                "user/assistant/user/assistant/... (message {} has role \"{}\")",
                k, m.role);
        }
        const std::string content =
            (i == 0 && system) ? "<<SYS>>\n" + *system + "\n<</SYS>>\n\n" + m.content : m.content;
        if (m.role == "user") {
            out += need(tokens.bos_token, "bos_token", ChatFamily::kLlama2, tokens) + "[INST] " +
                   python_strip(content) + " [/INST]";
        } else if (m.role == "assistant") {
            out += ' ';
            out += python_strip(content);
            out += ' ';
            out += need(tokens.eos_token, "eos_token", ChatFamily::kLlama2, tokens);
        }
    }
    return out;
}

std::string render_llama3(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                          const ChatSpecialTokens& tokens) {
    std::string out;
    for (std::size_t i = 0; i < messages.size(); ++i) {
        if (i == 0) {
            out += need(tokens.bos_token, "bos_token", ChatFamily::kLlama3, tokens);
        }
        out += "<|start_header_id|>" + messages[i].role + "<|end_header_id|>\n\n" +
               python_strip(messages[i].content) + "<|eot_id|>";
    }
    if (add_generation_prompt) {
        out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
    }
    return out;
}

std::string render_chatml(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                          const std::string* default_system) {
    std::string out;
    for (std::size_t i = 0; i < messages.size(); ++i) {
        if (default_system && i == 0 && messages[0].role != "system") {
            out += *default_system;
        }
        out += "<|im_start|>" + messages[i].role + "\n" + messages[i].content + "<|im_end|>\n";
    }
    if (add_generation_prompt) {
        out += "<|im_start|>assistant\n";
    }
    return out;
}

}  // namespace

std::string python_strip(std::string_view s) {
    std::size_t begin = 0;
    while (begin < s.size()) {
        std::size_t next = begin;
        if (!is_python_space(utf8_next(s, next))) {
            break;
        }
        begin = next;
    }
    std::size_t end = s.size();
    while (end > begin) {
        std::size_t start = end - 1;
        while (start > begin && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) {
            --start;
        }
        std::size_t i = start;
        if (!is_python_space(utf8_next(s, i))) {
            break;
        }
        end = start;
    }
    return std::string(s.substr(begin, end - begin));
}

std::optional<ChatTemplate> chat_template_recognize(std::string_view source) {
    const auto tokens = jinja_tokens(source);
    if (!tokens) {
        return std::nullopt;
    }
    for (const Reference& ref : references()) {
        if (ref.tokens.size() != tokens->size()) {
            continue;
        }
        ChatTemplate found{ref.family, {}};
        bool same = true;
        for (std::size_t k = 0; k < tokens->size() && same; ++k) {
            const JinjaToken& want = ref.tokens[k];
            const JinjaToken& got = (*tokens)[k];
            if (want.kind == JinjaToken::Kind::kString && want.value == kSlot) {
                same = got.kind == JinjaToken::Kind::kString;
                found.default_system_block = got.value;
            } else {
                same = want == got;
            }
        }
        if (same) {
            return found;
        }
    }
    return std::nullopt;
}

std::string chat_template_render(const ChatTemplate& tmpl, const std::vector<ChatMessage>& messages,
                                 bool add_generation_prompt, const ChatSpecialTokens& tokens) {
    switch (tmpl.family) {
        case ChatFamily::kLlama2:
            return render_llama2(messages, tokens);  // this template has no generation prompt
        case ChatFamily::kLlama3:
            return render_llama3(messages, add_generation_prompt, tokens);
        case ChatFamily::kChatMl:
            return render_chatml(messages, add_generation_prompt, nullptr);
        case ChatFamily::kChatMlDefaultSystem:
            return render_chatml(messages, add_generation_prompt, &tmpl.default_system_block);
    }
    QF_FAIL("unknown chat template family");
}

}  // namespace qforge::tokenizer
