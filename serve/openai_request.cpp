// What is here: parse_completion_request (see openai_request.h). Ranges follow OpenAI's API
// reference: temperature [0, 2], top_p (0, 1], logprobs 0..20 (completions: up to 5 in
// OpenAI, 20 here as in vLLM), n = 1 only, up to 16 stop strings.
#include "serve/openai_request.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "serve/api_error.h"

namespace qforge::serve {

namespace {

using nlohmann::json;

ApiError bad(const std::string& param, const std::string& message) {
    return ApiError(400, message, param);
}

const json* field(const json& body, const char* name) {
    auto it = body.find(name);
    return it == body.end() || it->is_null() ? nullptr : &*it;
}

bool get_bool(const json& body, const char* name, bool fallback) {
    const json* v = field(body, name);
    if (v == nullptr) {
        return fallback;
    }
    if (!v->is_boolean()) {
        throw bad(name, fmt::format("'{}' must be a boolean, got {}", name, v->dump()));
    }
    return v->get<bool>();
}

std::optional<int64_t> get_int(const json& body, const char* name, int64_t lo, int64_t hi) {
    const json* v = field(body, name);
    if (v == nullptr) {
        return std::nullopt;
    }
    if (!v->is_number_integer()) {
        throw bad(name, fmt::format("'{}' must be an integer, got {}", name, v->dump()));
    }
    const auto x = v->get<int64_t>();
    if (x < lo || x > hi) {
        throw bad(name, fmt::format("'{}' must be in [{}, {}], got {}", name, lo, hi, x));
    }
    return x;
}

std::optional<double> get_number(const json& body, const char* name) {
    const json* v = field(body, name);
    if (v == nullptr) {
        return std::nullopt;
    }
    if (!v->is_number()) {
        throw bad(name, fmt::format("'{}' must be a number, got {}", name, v->dump()));
    }
    return v->get<double>();
}

// Message content: a string, or an array of {"type": "text", "text": ...} parts.
std::string content_text(const json& content, std::size_t i) {
    const std::string param = fmt::format("messages[{}].content", i);
    if (content.is_null()) {
        return {};
    }
    if (content.is_string()) {
        return content.get<std::string>();
    }
    if (!content.is_array()) {
        throw bad(param, "'" + param + "' must be a string or an array of text parts");
    }
    std::string text;
    for (const auto& part : content) {
        if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") ||
            !part["text"].is_string()) {
            throw bad(param, "'" + param +
                                 "' parts must be {\"type\": \"text\", \"text\": ...}; only text "
                                 "content is supported");
        }
        text += part["text"].get<std::string>();
    }
    return text;
}

void parse_prompt(const json& body, CompletionRequest& r) {
    const json* p = field(body, "prompt");
    if (p == nullptr) {
        throw bad("prompt", "'prompt' is required");
    }
    if (p->is_string()) {
        r.prompt = p->get<std::string>();
        return;
    }
    if (p->is_array() && p->size() == 1 && (*p)[0].is_string()) {
        r.prompt = (*p)[0].get<std::string>();
        return;
    }
    if (p->is_array() && !p->empty() && (*p)[0].is_number_integer()) {
        std::vector<int32_t> ids;
        for (const auto& x : *p) {
            if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() > INT32_MAX) {
                throw bad("prompt", "'prompt' token ids must be non-negative integers");
            }
            ids.push_back(static_cast<int32_t>(x.get<int64_t>()));
        }
        r.prompt_ids = std::move(ids);
        return;
    }
    throw bad("prompt",
              "'prompt' must be a string, an array of one string, or an array of token ids "
              "(one prompt per request)");
}

void parse_messages(const json& body, CompletionRequest& r) {
    const json* m = field(body, "messages");
    if (m == nullptr || !m->is_array() || m->empty()) {
        throw bad("messages", "'messages' must be a non-empty array of {role, content}");
    }
    for (std::size_t i = 0; i < m->size(); ++i) {
        const json& msg = (*m)[i];
        const std::string param = fmt::format("messages[{}]", i);
        if (!msg.is_object() || !msg.contains("role") || !msg["role"].is_string()) {
            throw bad(param, "'" + param + "' must be an object with a string 'role'");
        }
        const auto role = msg["role"].get<std::string>();
        if (role != "system" && role != "user" && role != "assistant" && role != "developer") {
            throw bad(param + ".role", fmt::format("'{}.role' must be system, developer, user or "
                                                   "assistant, got '{}'",
                                                   param, role));
        }
        r.messages.push_back({role == "developer" ? "system" : role,
                              content_text(msg.contains("content") ? msg["content"] : json(), i)});
    }
}

void parse_stop(const json& body, CompletionRequest& r) {
    const json* s = field(body, "stop");
    if (s == nullptr) {
        return;
    }
    if (s->is_string()) {
        r.stop.push_back(s->get<std::string>());
    } else if (s->is_array() && s->size() <= 16) {
        for (const auto& x : *s) {
            if (!x.is_string()) {
                throw bad("stop", "'stop' must be a string or an array of strings");
            }
            r.stop.push_back(x.get<std::string>());
        }
    } else {
        throw bad("stop", "'stop' must be a string or an array of at most 16 strings");
    }
}

void parse_rag(const json& body, CompletionRequest& r) {
    const json* g = field(body, "rag");
    if (g == nullptr) {
        return;
    }
    if (!g->is_object()) {
        throw bad("rag",
                  "'rag' must be an object {\"index\": true, \"k\": 5, \"corrective\": "
                  "false}");
    }
    try {
        r.rag.enabled = get_bool(*g, "index", false);
        r.rag.k = get_int(*g, "k", 1, 32).value_or(r.rag.k);
        r.rag.corrective = get_bool(*g, "corrective", false);
    } catch (ApiError& e) {
        e.param = "rag." + e.param;
        e.message = "rag: " + e.message;
        throw;
    }
}

}  // namespace

CompletionRequest parse_completion_request(const std::string& body_text, bool chat) {
    json body;
    try {
        body = json::parse(body_text);
    } catch (const json::exception& e) {
        throw ApiError(400, std::string("the request body is not valid JSON: ") + e.what());
    }
    if (!body.is_object()) {
        throw ApiError(400, "the request body must be a JSON object");
    }
    CompletionRequest r;
    r.chat = chat;
    const json* model = field(body, "model");
    if (model == nullptr || !model->is_string()) {
        throw bad("model",
                  "'model' is required: the base model's or an adapter's name "
                  "(GET /v1/models)");
    }
    r.model = model->get<std::string>();
    if (chat) {
        parse_messages(body, r);
    } else {
        parse_prompt(body, r);
    }
    if (auto n = get_int(body, "n", 1, 1 << 20); n && *n != 1) {
        throw bad("n", fmt::format("'n' must be 1 (one choice per request), got {}", *n));
    }
    const int64_t kMaxTokens = int64_t{1} << 30;
    r.max_tokens = get_int(body, "max_tokens", chat ? 1 : 0, kMaxTokens);
    if (chat) {
        if (auto m = get_int(body, "max_completion_tokens", 1, kMaxTokens)) {
            r.max_tokens = m;
        }
    }
    if (auto t = get_number(body, "temperature")) {
        if (*t < 0.0 || *t > 2.0) {
            throw bad("temperature", fmt::format("'temperature' must be in [0, 2], got {}", *t));
        }
        r.temperature = static_cast<float>(*t);
    }
    if (auto p = get_number(body, "top_p")) {
        if (!(*p > 0.0 && *p <= 1.0)) {
            throw bad("top_p", fmt::format("'top_p' must be in (0, 1], got {}", *p));
        }
        r.top_p = static_cast<float>(*p);
    }
    r.top_k = std::max<int64_t>(0, get_int(body, "top_k", -1, 1 << 30).value_or(0));
    if (const json* s = field(body, "seed")) {
        if (!s->is_number_integer()) {
            throw bad("seed", fmt::format("'seed' must be an integer, got {}", s->dump()));
        }
        r.seed =
            s->is_number_unsigned() ? s->get<uint64_t>() : static_cast<uint64_t>(s->get<int64_t>());
    }
    parse_stop(body, r);
    r.stream = get_bool(body, "stream", false);
    if (const json* so = field(body, "stream_options")) {
        if (!so->is_object()) {
            throw bad("stream_options", "'stream_options' must be an object");
        }
        r.include_usage = get_bool(*so, "include_usage", false);
    }
    if (chat) {
        const bool want = get_bool(body, "logprobs", false);
        const auto top = get_int(body, "top_logprobs", 0, 20);
        if (top && !want) {
            throw bad("top_logprobs", "'top_logprobs' needs 'logprobs': true");
        }
        r.logprobs = want ? static_cast<int>(top.value_or(0)) : -1;
    } else {
        if (auto n = get_int(body, "logprobs", 0, 20)) {
            r.logprobs = static_cast<int>(*n);
        }
        r.echo = get_bool(body, "echo", false);
    }
    if (!chat && r.max_tokens == 0 && !r.echo) {
        throw bad("max_tokens", "'max_tokens' may be 0 only with 'echo': true (prompt scoring)");
    }
    r.ignore_eos = get_bool(body, "ignore_eos", false);
    parse_rag(body, r);
    return r;
}

}  // namespace qforge::serve
