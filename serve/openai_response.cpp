// What is here: the response builders of openai_response.h.
#include "serve/openai_response.h"

namespace qforge::serve {

namespace {
using nlohmann::json;

json bytes_of(const std::string& s) {
    json b = json::array();
    for (unsigned char c : s) {
        b.push_back(static_cast<int>(c));
    }
    return b;
}

// Token text as JSON: nlohmann refuses invalid UTF-8 at dump time (a byte-fallback piece),
// so such bytes are replaced with U+FFFD here.
std::string valid_utf8(const std::string& s) {
    std::string out;
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = c < 0x80         ? 1
                        : (c >> 5) == 6  ? 2
                        : (c >> 4) == 14 ? 3
                        : (c >> 3) == 30 ? 4
                                         : 0;
        bool ok = n > 0 && i + n <= s.size();
        for (std::size_t k = 1; ok && k < n; ++k) {
            ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
        }
        if (ok) {
            out.append(s, i, n);
            i += n;
        } else {
            out += "\xEF\xBF\xBD";
            ++i;
        }
    }
    return out;
}
}  // namespace

json empty_completion_logprobs() {
    return {{"tokens", json::array()},
            {"token_logprobs", json::array()},
            {"top_logprobs", json::array()},
            {"text_offset", json::array()}};
}

void append_completion_logprobs(json& lp, const std::vector<TokenLogprob>& tokens,
                                std::size_t& offset) {
    for (const auto& t : tokens) {
        lp["tokens"].push_back(valid_utf8(t.text));
        lp["token_logprobs"].push_back(t.has_logprob ? json(t.logprob) : json(nullptr));
        if (!t.has_logprob) {
            lp["top_logprobs"].push_back(nullptr);
        } else {
            json top = json::object();
            for (const auto& [text, logprob] : t.top) {
                const std::string key = valid_utf8(text);
                if (!top.contains(key)) {
                    top[key] = logprob;
                }
            }
            lp["top_logprobs"].push_back(std::move(top));
        }
        lp["text_offset"].push_back(offset);
        offset += t.text.size();
    }
}

void append_chat_logprobs(json& content, const std::vector<TokenLogprob>& tokens) {
    for (const auto& t : tokens) {
        json top = json::array();
        for (const auto& [text, logprob] : t.top) {
            top.push_back(
                {{"token", valid_utf8(text)}, {"logprob", logprob}, {"bytes", bytes_of(text)}});
        }
        content.push_back({{"token", valid_utf8(t.text)},
                           {"logprob", t.logprob},
                           {"bytes", bytes_of(t.text)},
                           {"top_logprobs", std::move(top)}});
    }
}

json usage_json(int64_t prompt_tokens, int64_t completion_tokens) {
    return {{"prompt_tokens", prompt_tokens},
            {"completion_tokens", completion_tokens},
            {"total_tokens", prompt_tokens + completion_tokens}};
}

json sources_json(const std::vector<RagSource>& sources) {
    json out = json::array();
    for (const auto& s : sources) {
        out.push_back({{"id", s.id},
                       {"doc_id", valid_utf8(s.doc_id)},
                       {"title", valid_utf8(s.title)},
                       {"source", valid_utf8(s.source)},
                       {"byte_offset", s.byte_offset},
                       {"score", s.score},
                       {"text", valid_utf8(s.text)}});
    }
    return out;
}

}  // namespace qforge::serve
