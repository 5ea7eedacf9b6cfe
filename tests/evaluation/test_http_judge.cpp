// What is here: the OpenAI-compatible judge client against a small Boost.Beast server on
// loopback that answers /v1/chat/completions with real log-probabilities from qforge's local
// model (stories260K): the HTTP judge must give the local judge's G-Eval scores. Also the
// errors: unreachable server, HTTP error status, https, malformed URL.
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cmath>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <thread>

#include "evaluation/judge/geval.h"
#include "evaluation/judge/http_judge.h"
#include "evaluation/judge/http_post.h"
#include "evaluation/judge/local_judge.h"
#include "evaluation/stories_fixture.h"
#include "kernels/common.h"
#include "support/test_support.h"

namespace qforge::eval {
namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using nlohmann::json;

// Serves `judge` as an OpenAI chat-completions endpoint, one request per connection.
class LoopbackServer {
public:
    explicit LoopbackServer(Judge& judge, int status = 200)
        : judge_(judge),
          status_(status),
          acceptor_(ioc_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
        port_ = acceptor_.local_endpoint().port();
        thread_ = std::thread([this] { serve(); });
    }

    ~LoopbackServer() {
        stop_ = true;
        try {  // wake the blocking accept
            boost::asio::io_context ioc;
            tcp::socket s(ioc);
            s.connect({boost::asio::ip::make_address("127.0.0.1"), port_});
        } catch (...) {}
        thread_.join();
    }

    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }

    std::string last_auth;
    std::atomic<int> requests{0};

private:
    void serve() {
        while (!stop_) {
            tcp::socket sock(ioc_);
            beast::error_code ec;
            acceptor_.accept(sock, ec);
            if (ec || stop_) {
                continue;
            }
            beast::flat_buffer buf;
            http::request<http::string_body> req;
            http::read(sock, buf, req, ec);
            if (ec) {
                continue;
            }
            requests++;
            last_auth = std::string(req[http::field::authorization]);
            http::response<http::string_body> res{static_cast<http::status>(status_), 11};
            res.set(http::field::content_type, "application/json");
            res.body() = status_ == 200 ? answer(json::parse(req.body()))
                                        : std::string(R"({"error":"overloaded"})");
            res.prepare_payload();
            http::write(sock, res, ec);
        }
    }

    std::string answer(const json& body) {
        const std::string prompt = body["messages"][0]["content"].get<std::string>();
        json choice = {{"index", 0}, {"finish_reason", "length"}};
        if (body.value("logprobs", false)) {
            json top = json::array();
            for (const TokenLogprob& t :
                 judge_.next_token_logprobs(prompt, body["top_logprobs"].get<int>())) {
                top.push_back({{"token", t.token}, {"logprob", t.logprob}});
            }
            choice["message"] = {{"role", "assistant"}, {"content", top[0]["token"]}};
            choice["logprobs"] = {{"content", json::array({{{"token", top[0]["token"]},
                                                            {"logprob", top[0]["logprob"]},
                                                            {"top_logprobs", top}}})}};
        } else {
            choice["message"] = {
                {"role", "assistant"},
                {"content", judge_.complete(prompt, body["max_tokens"].get<int64_t>())}};
        }
        return json{{"object", "chat.completion"}, {"choices", json::array({choice})}}.dump();
    }

    Judge& judge_;
    int status_;
    boost::asio::io_context ioc_;
    tcp::acceptor acceptor_;
    unsigned short port_ = 0;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

using Stories = test::StoriesModel;

TEST(HttpJudge, GivesTheLocalJudgesScoresOverLoopback) {
    Stories s;
    LocalJudge local(s.model, s.tok, "stories260K");
    LoopbackServer server(local);
    HttpJudge remote(server.url(), "stories260K", "sk-test", 30.0);
    EXPECT_EQ(remote.url(), server.url() + "/chat/completions");

    const GevalCriterion c = geval_builtin_criterion("coherence");
    test::TempDir cache;
    const std::string steps = geval_steps(remote, c, cache.path(), 16);
    EXPECT_EQ(steps, "1." + local.complete(geval_steps_prompt(c), 16));
    EXPECT_EQ(server.last_auth, "Bearer sk-test");

    const std::vector<std::string> sources = {"Tell a story about a cat.", "Tell a story."};
    const std::vector<std::string> answers = {"The cat sat in the sun and was happy.", ""};
    const GevalResult want = geval_score(local, c, steps, sources, answers, 20);
    const GevalResult got = geval_score(remote, c, steps, sources, answers, 20);
    ASSERT_EQ(got.n_scored, want.n_scored);
    EXPECT_EQ(got.n_scored, 2u);
    for (std::size_t i = 0; i < answers.size(); i++) {
        EXPECT_NEAR(got.per_example[i], want.per_example[i], 1e-9 * want.per_example[i]) << i;
    }
}

TEST(HttpJudge, UnreachableServerNamesTheUrl) {
    // Bind a port, then close it: nothing listens there.
    unsigned short port = 0;
    {
        boost::asio::io_context ioc;
        tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
        port = a.local_endpoint().port();
    }
    const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/v1";
    HttpJudge judge(url, "m", "", 5.0);
    try {
        judge.next_token_logprobs("x", 5);
        FAIL() << "expected an error";
    } catch (const Error& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find(url + "/chat/completions"), std::string::npos) << msg;
        EXPECT_NE(msg.find("cannot connect"), std::string::npos) << msg;
    }
}

TEST(HttpJudge, HttpErrorStatusIsReported) {
    Stories s;
    LocalJudge local(s.model, s.tok, "stories260K");
    LoopbackServer server(local, 503);
    HttpJudge judge(server.url(), "m", "", 10.0);
    try {
        judge.complete("x", 4);
        FAIL() << "expected an error";
    } catch (const Error& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("HTTP 503"), std::string::npos) << msg;
        EXPECT_NE(msg.find("overloaded"), std::string::npos) << msg;
    }
}

TEST(HttpJudge, UrlParsing) {
    const HttpUrl u = parse_http_url("http://localhost:8080/v1/chat/completions");
    EXPECT_EQ(u.host, "localhost");
    EXPECT_EQ(u.port, "8080");
    EXPECT_EQ(u.target, "/v1/chat/completions");
    EXPECT_EQ(parse_http_url("http://example.org").port, "80");
    EXPECT_THROW(parse_http_url("https://api.openai.com/v1"), Error);
    EXPECT_THROW(parse_http_url("ftp://x"), Error);
    EXPECT_THROW(parse_http_url("http://host:abc/"), Error);
    EXPECT_THROW(parse_http_url("http:///v1"), Error);
}

}  // namespace
}  // namespace qforge::eval
