// What is here: Server (see server.h): start-up (model, tokenizer, adapters, index, KV cache)
// and the routes. Generation requests are parsed, checked and tokenized on the event-loop
// thread, then handed to the Engine; each request's events come back through a Call posted
// to the event loop, which streams them as server-sent events or gathers one JSON response.
#include "serve/server.h"

#include <atomic>
#include <chrono>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>

#include "kernels/common.h"
#include "rag/bm25_index.h"
#include "runtime/model/llama.h"
#include "runtime/tokenizer/tokenizer.h"
#include "serve/adapter_registry.h"
#include "serve/api_error.h"
#include "serve/engine.h"
#include "serve/http_server.h"
#include "serve/metrics.h"
#include "serve/openai_request.h"
#include "serve/openai_response.h"
#include "serve/rag_context.h"

namespace qforge::serve {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int64_t kDefaultMaxLen = 2048;  // per-slot context when the model allows more

std::string dump(const json& j) {
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

json parse_object(const std::string& body) {
    json j;
    try {
        j = json::parse(body);
    } catch (const json::exception& e) {
        throw ApiError(400, std::string("the request body is not valid JSON: ") + e.what());
    }
    if (!j.is_object()) {
        throw ApiError(400, "the request body must be a JSON object");
    }
    return j;
}

std::string string_field(const json& j, const char* name) {
    auto it = j.find(name);
    if (it == j.end() || !it->is_string()) {
        throw ApiError(400, fmt::format("'{}' is required (a string)", name), name);
    }
    return it->get<std::string>();
}

// When the tokenizer has no chat template qforge can render: plain "Role: text" turns.
std::string plain_chat(const std::vector<ChatMessage>& messages) {
    std::string out;
    for (const auto& m : messages) {
        std::string role = m.role;
        if (!role.empty()) {
            role[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(role[0])));
        }
        out += role + ": " + m.content + "\n\n";
    }
    return out + "Assistant:";
}

}  // namespace

struct Server::Impl {
    struct Call;

    ServeOptions options;
    std::string name;
    LlamaModel model;
    Tokenizer tokenizer;
    AdapterRegistry adapters;
    std::optional<rag::Bm25Index> index;
    bool chat_template = false;
    int64_t max_len = 0;
    int64_t created = unix_now();
    Metrics metrics;
    std::unique_ptr<Engine> engine;
    std::unique_ptr<HttpServer> http;
    std::atomic<uint64_t> next_id{1};

    explicit Impl(ServeOptions o)
        : options(std::move(o)),
          model(LlamaModel::load(options.model, {options.quantize_nf4})),
          tokenizer(Tokenizer::load(options.model)),
          adapters(model.config()) {}

    void route(HttpRequest req, std::shared_ptr<Responder> res);
    void generate(HttpRequest& req, const std::shared_ptr<Responder>& res, bool chat);
    json models_json() const;

    void send(const std::shared_ptr<Responder>& res, const std::string& endpoint, int status,
              const std::string& type, std::string body, Clock::time_point t0) {
        metrics.request_done(endpoint, status,
                             std::chrono::duration<double>(Clock::now() - t0).count());
        res->send(status, type, std::move(body));
    }
};

// One generation request's response, built on the event-loop thread from engine events.
struct Server::Impl::Call {
    Impl* server = nullptr;
    std::shared_ptr<Responder> res;
    std::string endpoint, id, model;
    bool chat = false, stream = false, include_usage = false, echo = false, started = false;
    int logprobs = -1;
    std::string echo_text;
    std::vector<RagSource> sources;
    bool rag = false;
    Clock::time_point t0 = Clock::now();
    int64_t created = unix_now();
    std::string text;
    json lp;  // completions: {tokens, ...}; chat: content array
    std::size_t offset = 0;

    json choice(std::string delta, json logprob_part, const json& finish) const {
        json c = {{"index", 0}, {"logprobs", std::move(logprob_part)}, {"finish_reason", finish}};
        if (chat) {
            c["delta"] = delta.empty() && !finish.is_null() ? json::object()
                                                            : json{{"content", std::move(delta)}};
        } else {
            c["text"] = std::move(delta);
        }
        return c;
    }

    json envelope() const {
        return {{"id", id},
                {"object",
                 chat ? (stream ? "chat.completion.chunk" : "chat.completion") : "text_completion"},
                {"created", created},
                {"model", model}};
    }

    void sse(const json& j) { res->write("data: " + dump(j) + "\n\n"); }

    void on_event(GenEvent ev) {
        std::string delta = std::move(ev.text);
        std::vector<TokenLogprob> tokens = std::move(ev.prompt);
        if (!started && echo) {
            delta = echo_text + delta;
        }
        tokens.insert(tokens.end(), std::make_move_iterator(ev.tokens.begin()),
                      std::make_move_iterator(ev.tokens.end()));
        started = true;
        const bool failed =
            ev.done && (ev.finish_reason == "error" || ev.finish_reason == "timeout");
        const int status = ev.finish_reason == "timeout" ? 408 : 500;
        const ApiError err(
            status, ev.finish_reason == "timeout" ? "the request timed out" : ev.error, {},
            status == 408 ? "timeout" : "server_error", status == 408 ? "timeout" : "");
        const json finish = ev.done && !failed ? json(ev.finish_reason) : json(nullptr);

        if (stream) {
            json part = nullptr;
            if (logprobs >= 0) {
                if (chat) {
                    part = {{"content", json::array()}};
                    append_chat_logprobs(part["content"], tokens);
                } else {
                    part = empty_completion_logprobs();
                    append_completion_logprobs(part, tokens, offset);
                }
            }
            if (!failed && (!delta.empty() || ev.done)) {
                json chunk = envelope();
                chunk["choices"] = json::array({choice(std::move(delta), std::move(part), finish)});
                if (ev.done && rag) {
                    chunk["sources"] = sources_json(sources);
                }
                sse(chunk);
            }
            if (ev.done) {
                if (failed) {
                    res->write("data: " + error_body(err) + "\n\n");
                } else if (include_usage) {
                    json u = envelope();
                    u["choices"] = json::array();
                    u["usage"] = usage_json(ev.prompt_tokens, ev.completion_tokens);
                    sse(u);
                }
                res->write("data: [DONE]\n\n");
                res->end_stream();
                finish_metrics(failed ? status : 200);
            }
            return;
        }
        text += delta;
        if (logprobs >= 0) {
            if (chat) {
                append_chat_logprobs(lp, tokens);
            } else {
                append_completion_logprobs(lp, tokens, offset);
            }
        }
        if (!ev.done) {
            return;
        }
        if (failed) {
            res->send(status, "application/json", error_body(err));
            finish_metrics(status);
            return;
        }
        json out = envelope();
        json c = {{"index", 0}, {"finish_reason", ev.finish_reason}};
        if (chat) {
            c["message"] = {{"role", "assistant"}, {"content", text}};
            c["logprobs"] = logprobs >= 0 ? json{{"content", lp}} : json(nullptr);
        } else {
            c["text"] = text;
            c["logprobs"] = logprobs >= 0 ? lp : json(nullptr);
        }
        out["choices"] = json::array({std::move(c)});
        out["usage"] = usage_json(ev.prompt_tokens, ev.completion_tokens);
        if (rag) {
            out["sources"] = sources_json(sources);
        }
        res->send(200, "application/json", dump(out));
        finish_metrics(200);
    }

    void finish_metrics(int status) {
        server->metrics.request_done(endpoint, status,
                                     std::chrono::duration<double>(Clock::now() - t0).count());
    }
};

json Server::Impl::models_json() const {
    json data = json::array();
    data.push_back({{"id", name},
                    {"object", "model"},
                    {"created", created},
                    {"owned_by", "qforge"},
                    {"root", options.model.string()},
                    {"parent", nullptr},
                    {"max_model_len", max_len}});
    for (const auto& a : adapters.list()) {
        data.push_back({{"id", a.name},
                        {"object", "model"},
                        {"created", a.created},
                        {"owned_by", "qforge"},
                        {"root", a.path.string()},
                        {"parent", name},
                        {"max_model_len", max_len},
                        {"lora_rank", a.rank}});
    }
    return {{"object", "list"}, {"data", std::move(data)}};
}

void Server::Impl::generate(HttpRequest& req, const std::shared_ptr<Responder>& res, bool chat) {
    const auto t0 = Clock::now();
    CompletionRequest cr = parse_completion_request(req.body, chat);

    GenRequest g;
    if (cr.model != name) {
        g.adapter = adapters.find(cr.model);
        if (!g.adapter) {
            throw ApiError(404,
                           fmt::format("The model '{}' does not exist; GET /v1/models lists the "
                                       "base model '{}' and the loaded adapters",
                                       cr.model, name),
                           "model", "invalid_request_error", "model_not_found");
        }
    }
    auto call = std::make_shared<Call>();
    call->server = this;
    call->res = res;
    call->t0 = t0;
    call->endpoint = chat ? "/v1/chat/completions" : "/v1/completions";
    call->chat = chat;
    call->stream = cr.stream;
    call->include_usage = cr.include_usage;
    call->echo = cr.echo;
    call->logprobs = cr.logprobs;
    call->model = cr.model;
    call->id = fmt::format("{}-{:016x}", chat ? "chatcmpl" : "cmpl", next_id.fetch_add(1));
    if (cr.logprobs >= 0) {
        call->lp = chat ? json::array() : empty_completion_logprobs();
    }

    // Retrieval: the query is the prompt, or the last user message.
    if (cr.rag.enabled) {
        if (!index) {
            throw ApiError(400, "rag.index needs a server started with --index", "rag.index");
        }
        std::string query = cr.prompt;
        if (chat) {
            for (const auto& m : cr.messages) {
                if (m.role == "user") {
                    query = m.content;
                }
            }
        }
        call->rag = true;
        call->sources = retrieve_sources(*index, query, cr.rag);
    }
    const std::string context = sources_block(call->sources);

    if (chat) {
        if (!context.empty()) {
            if (cr.messages.front().role == "system") {
                cr.messages.front().content = context + cr.messages.front().content;
            } else {
                cr.messages.insert(cr.messages.begin(), {"system", context});
            }
        }
        g.prompt = chat_template
                       ? tokenizer.encode(tokenizer.apply_chat_template(cr.messages, true), false)
                       : tokenizer.encode(plain_chat(cr.messages), true);
    } else if (cr.prompt_ids) {
        QF_CHECK(context.empty(), "rag needs a text prompt");
        g.prompt = *cr.prompt_ids;
        for (int32_t id : g.prompt) {
            if (id >= model.config().vocab_size) {
                throw ApiError(400,
                               fmt::format("prompt token id {} is outside the vocabulary (size {})",
                                           id, model.config().vocab_size),
                               "prompt");
            }
        }
        call->echo_text = tokenizer.decode(g.prompt, true);
    } else {
        g.prompt = tokenizer.encode(context + cr.prompt, true);
        call->echo_text = context + cr.prompt;
    }
    const auto n_prompt = static_cast<int64_t>(g.prompt.size());
    const std::string prompt_param = chat ? "messages" : "prompt";
    if (n_prompt == 0) {
        throw ApiError(400, "the prompt encodes to no tokens", prompt_param);
    }
    if (n_prompt >= max_len) {
        throw ApiError(400,
                       fmt::format("the prompt has {} tokens; this server's context is {} "
                                   "(--max-len), which must also hold the completion",
                                   n_prompt, max_len),
                       prompt_param, "invalid_request_error", "context_length_exceeded");
    }
    int64_t max_tokens =
        cr.max_tokens.value_or(chat ? std::min(options.max_tokens, max_len - n_prompt)
                                    : std::min<int64_t>(16, max_len - n_prompt));
    if (max_tokens > options.max_tokens) {
        throw ApiError(
            400,
            fmt::format("'max_tokens' is {}; this server allows at most {} (--max-tokens)",
                        max_tokens, options.max_tokens),
            "max_tokens");
    }
    if (n_prompt + max_tokens > max_len) {
        throw ApiError(400,
                       fmt::format("the prompt ({} tokens) plus max_tokens ({}) exceeds this "
                                   "server's context of {} tokens (--max-len)",
                                   n_prompt, max_tokens, max_len),
                       "max_tokens", "invalid_request_error", "context_length_exceeded");
    }
    g.max_tokens = max_tokens;
    static std::atomic<uint64_t> seeds{std::random_device{}()};
    g.sampling = {cr.temperature, cr.top_k, cr.top_p,
                  cr.seed.value_or(seeds.fetch_add(0x9E3779B97F4A7C15ULL))};
    g.stop = cr.stop;
    g.ignore_eos = cr.ignore_eos;
    g.logprobs = cr.logprobs;
    g.prompt_logprobs = cr.echo && cr.logprobs >= 0;
    g.arrival = t0;
    g.deadline = t0 + std::chrono::duration_cast<Clock::duration>(
                          std::chrono::duration<double>(options.request_timeout_seconds));
    g.cancelled = res->cancelled();
    g.sink = [call](GenEvent ev) {
        call->res->post([call, ev = std::move(ev)]() mutable { call->on_event(std::move(ev)); });
    };
    if (cr.stream) {
        res->begin_stream(200, "text/event-stream");
        if (chat) {  // the first chunk names the role, as OpenAI's does
            json first = call->envelope();
            first["choices"] = json::array({{{"index", 0},
                                             {"delta", {{"role", "assistant"}, {"content", ""}}},
                                             {"logprobs", nullptr},
                                             {"finish_reason", nullptr}}});
            call->sse(first);
        }
    }
    if (!engine->submit(std::move(g))) {
        const ApiError e(429,
                         fmt::format("the server is at its limit of {} concurrent requests "
                                     "(--max-concurrent); retry later",
                                     options.max_concurrent),
                         {}, "rate_limit_error", "rate_limit_exceeded");
        if (cr.stream) {
            call->res->write("data: " + error_body(e) + "\n\ndata: [DONE]\n\n");
            call->res->end_stream();
            call->finish_metrics(429);
        } else {
            throw e;
        }
        return;
    }
    metrics.prompt_tokens(n_prompt);
}

void Server::Impl::route(HttpRequest req, std::shared_ptr<Responder> res) {
    const auto t0 = Clock::now();
    const std::string& p = req.path;
    std::string endpoint = p;
    try {
        auto want = [&](const char* method) {
            if (req.method != method) {
                throw ApiError(405, fmt::format("{} takes {}, not {}", p, method, req.method));
            }
        };
        if (p == "/v1/completions" || p == "/v1/chat/completions") {
            want("POST");
            generate(req, res, p == "/v1/chat/completions");
            return;
        }
        if (p == "/health") {
            want("GET");
            return send(res, endpoint, 200, "application/json", R"({"status":"ok"})", t0);
        }
        if (p == "/metrics") {
            want("GET");
            return send(res, endpoint, 200, "text/plain; version=0.0.4",
                        metrics.prometheus(engine->stats(), adapters.size()), t0);
        }
        if (p == "/v1/models") {
            want("GET");
            return send(res, endpoint, 200, "application/json", dump(models_json()), t0);
        }
        if (p.rfind("/v1/models/", 0) == 0) {
            want("GET");
            endpoint = "/v1/models/{id}";
            const std::string id = p.substr(std::string("/v1/models/").size());
            const json all = models_json();
            for (const auto& m : all["data"]) {
                if (m["id"] == id) {
                    return send(res, endpoint, 200, "application/json", dump(m), t0);
                }
            }
            throw ApiError(404, fmt::format("The model '{}' does not exist", id), "model",
                           "invalid_request_error", "model_not_found");
        }
        if (p == "/v1/load_lora_adapter" || p == "/v1/unload_lora_adapter") {
            want("POST");
            if (!options.allow_runtime_lora) {
                throw ApiError(403,
                               "loading and unloading adapters at run time is off "
                               "(qforge serve --no-runtime-lora)");
            }
            const json body = parse_object(req.body);
            const std::string lora = string_field(body, "lora_name");
            if (p == "/v1/load_lora_adapter") {
                const std::string path = string_field(body, "lora_path");
                if (lora == name) {
                    throw ApiError(400, fmt::format("'{}' is the base model's name", lora),
                                   "lora_name");
                }
                try {
                    adapters.load(lora, path);
                } catch (const qforge::Error& e) {
                    throw ApiError(400, fmt::format("cannot load adapter '{}': {}", lora, e.what()),
                                   "lora_path");
                }
                return send(res, endpoint, 200, "text/plain",
                            fmt::format("Success: LoRA adapter '{}' added successfully.", lora),
                            t0);
            }
            if (!adapters.unload(lora)) {
                throw ApiError(404, fmt::format("no adapter named '{}' is loaded", lora),
                               "lora_name", "invalid_request_error", "model_not_found");
            }
            return send(res, endpoint, 200, "text/plain",
                        fmt::format("Success: LoRA adapter '{}' removed successfully.", lora), t0);
        }
        endpoint = "other";
        throw ApiError(404, fmt::format("no route for {} {}", req.method, p), {},
                       "invalid_request_error", "not_found");
    } catch (const ApiError& e) {
        send(res, endpoint, e.status, "application/json", error_body(e), t0);
    } catch (const qforge::Error& e) {  // bad input found below the API layer (e.g. UTF-8)
        send(res, endpoint, 400, "application/json", error_body(ApiError(400, e.what())), t0);
    } catch (const std::exception& e) {
        send(res, endpoint, 500, "application/json",
             error_body(
                 ApiError(500, std::string("internal error: ") + e.what(), {}, "server_error")),
             t0);
    }
}

Server::Server(ServeOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
    Impl& m = *impl_;
    const auto& o = m.options;
    m.name = o.served_model_name.empty() ? std::filesystem::path(o.model).filename().string()
                                         : o.served_model_name;
    if (m.name.empty()) {
        m.name = std::filesystem::absolute(o.model).parent_path().filename().string();
    }
    const int64_t ctx = m.model.config().max_position_embeddings;
    m.max_len = o.max_len > 0 ? o.max_len : std::min(ctx, kDefaultMaxLen);
    QF_CHECK(m.max_len <= ctx, "serve: --max-len {} exceeds the model's context of {} tokens",
             m.max_len, ctx);
    QF_CHECK(o.max_tokens >= 1, "serve: --max-tokens must be >= 1, got {}", o.max_tokens);
    QF_CHECK(o.request_timeout_seconds > 0, "serve: --timeout must be > 0 seconds, got {}",
             o.request_timeout_seconds);
    for (const auto& [name, dir] : o.adapters) {
        QF_CHECK(name != m.name, "serve: --adapter {}={}: the name is the base model's", name,
                 dir.string());
        try {
            m.adapters.load(name, dir);
        } catch (const ApiError& e) {
            QF_FAIL("serve: --adapter {}={}: {}", name, dir.string(), e.message);
        }
    }
    if (!o.index.empty()) {
        m.index.emplace(rag::Bm25Index::load(o.index));
    }
    try {
        (void)m.tokenizer.apply_chat_template({{"user", "hi"}}, true);
        m.chat_template = true;
    } catch (const qforge::Error&) {
        m.chat_template = false;  // plain "Role: text" turns (docs/serve.md)
    }
    EngineOptions eo;
    eo.max_batch = o.max_batch;
    eo.max_len = m.max_len;
    eo.max_queue = o.max_concurrent;
    eo.device = o.device;
    m.engine = std::make_unique<Engine>(m.model, m.tokenizer, eo, &m.metrics);
    HttpOptions ho;
    ho.host = o.host;
    ho.port = o.port;
    ho.max_body_bytes = o.max_body_bytes;
    ho.error_body = [](int status, const std::string& message) {
        return error_body(status, message);
    };
    m.http =
        std::make_unique<HttpServer>(ho, [this](HttpRequest req, std::shared_ptr<Responder> res) {
            impl_->route(std::move(req), std::move(res));
        });
}

Server::~Server() {
    stop();
}

uint16_t Server::port() const {
    return impl_->http->port();
}

const std::string& Server::model_name() const {
    return impl_->name;
}

void Server::start() {
    impl_->http->start();
}

void Server::run_until_signal() {
    impl_->http->stop_on_signals();
    impl_->http->start();
    impl_->http->wait();
    stop();
}

void Server::stop() {
    // The engine first: its last events are posted to the event loop, which is still alive.
    impl_->engine->stop();
    impl_->http->stop();
    impl_->http->wait();
}

std::string Server::describe() const {
    const Impl& m = *impl_;
    const auto s = m.engine->stats();
    std::string adapters;
    for (const auto& a : m.adapters.list()) {
        adapters += (adapters.empty() ? "" : ", ") + a.name;
    }
    return fmt::format(
        "model {} ({} layers, hidden {}, base weights {:.2f} MiB{}); adapters: {}; index: {}; "
        "KV cache {} slots x {} positions ({:.2f} MiB); chat template: {}",
        m.name, m.model.config().num_hidden_layers, m.model.config().hidden_size,
        static_cast<double>(m.model.weight_bytes()) / (1 << 20),
        m.options.quantize_nf4 ? ", nf4" : "", adapters.empty() ? "none" : adapters,
        m.index ? m.options.index.string() : "none", s.slots, m.max_len,
        static_cast<double>(s.kv_bytes) / (1 << 20), m.chat_template ? "tokenizer's" : "plain");
}

}  // namespace qforge::serve
