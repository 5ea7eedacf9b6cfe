// What is here: HttpJudge (see http_judge.h): request bodies and response parsing.
#include "evaluation/judge/http_judge.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "evaluation/judge/http_post.h"
#include "kernels/common.h"

namespace qforge::eval {

using nlohmann::json;

HttpJudge::HttpJudge(std::string base_url, std::string model, std::string api_key, double timeout_s)
    : model_(std::move(model)), api_key_(std::move(api_key)), timeout_s_(timeout_s) {
    while (!base_url.empty() && base_url.back() == '/') {
        base_url.pop_back();
    }
    const std::string tail = "/chat/completions";
    const bool full = base_url.size() >= tail.size() &&
                      base_url.compare(base_url.size() - tail.size(), tail.size(), tail) == 0;
    url_ = full ? base_url : base_url + tail;
    parse_http_url(url_);  // fail early on a bad URL
}

std::string HttpJudge::post(const std::string& body) {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!api_key_.empty()) {
        headers.emplace_back("Authorization", "Bearer " + api_key_);
    }
    const HttpResponse r = http_post_json(url_, body, headers, timeout_s_, "judge");
    QF_CHECK(r.status >= 200 && r.status < 300, "judge {}: HTTP {}: {}", url_, r.status,
             r.body.substr(0, 300));
    return r.body;
}

namespace {

json parse_reply(const std::string& url, const std::string& body) {
    json j;
    try {
        j = json::parse(body);
    } catch (const json::exception& e) {
        QF_FAIL("judge {}: the reply is not JSON ({}): {}", url, e.what(), body.substr(0, 200));
    }
    QF_CHECK(j.contains("choices") && j["choices"].is_array() && !j["choices"].empty(),
             "judge {}: the reply has no choices[0]: {}", url, body.substr(0, 300));
    return j["choices"][0];
}

std::string message_text(const json& choice) {
    if (choice.contains("message") && choice["message"].contains("content") &&
        choice["message"]["content"].is_string()) {
        return choice["message"]["content"].get<std::string>();
    }
    return choice.value("text", std::string());
}

}  // namespace

std::string HttpJudge::complete(const std::string& prompt, int64_t max_tokens) {
    const json body = {{"model", model_},
                       {"messages", json::array({{{"role", "user"}, {"content", prompt}}})},
                       {"max_tokens", max_tokens},
                       {"temperature", 0}};
    return message_text(parse_reply(url_, post(body.dump())));
}

std::vector<TokenLogprob> HttpJudge::next_token_logprobs(const std::string& prompt, int top_k) {
    const json body = {
        {"model", model_},  {"messages", json::array({{{"role", "user"}, {"content", prompt}}})},
        {"max_tokens", 1},  {"temperature", 0},
        {"logprobs", true}, {"top_logprobs", std::clamp(top_k, 1, 20)}};
    const json choice = parse_reply(url_, post(body.dump()));
    std::vector<TokenLogprob> out;
    const json* lp = choice.contains("logprobs") && choice["logprobs"].is_object()
                         ? &choice["logprobs"]
                         : nullptr;
    if (lp && lp->contains("content") && (*lp)["content"].is_array() && !(*lp)["content"].empty()) {
        const json& first = (*lp)["content"][0];
        if (first.contains("top_logprobs") && first["top_logprobs"].is_array()) {
            for (const json& t : first["top_logprobs"]) {
                QF_CHECK(t.contains("token") && t.contains("logprob") && t["logprob"].is_number(),
                         "judge {}: top_logprobs entry without token/logprob: {}", url_, t.dump());
                out.push_back({t["token"].get<std::string>(), t["logprob"].get<double>()});
            }
        }
        if (out.empty() && first.contains("token")) {
            out.push_back({first["token"].get<std::string>(), first.value("logprob", 0.0)});
        }
    }
    if (out.empty()) {  // no logprobs: the sampled text counts with probability 1
        out.push_back({message_text(choice), 0.0});
    }
    return out;
}

}  // namespace qforge::eval
