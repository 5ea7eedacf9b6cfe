// What is here: the server under pressure, over loopback only and bounded in count and time:
// clients that disconnect mid-generation get their KV slot freed, requests past
// --max-concurrent get 429, a request past --timeout gets 408, and a load test of 32
// concurrent streaming clients x 3 requests checks that every request ends in [DONE], that
// memory stays bounded, and prints requests/s and p50/p99 latency.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <thread>

#include "serve/serve_test_util.h"
#include "support/test_support.h"

namespace qforge {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

serve::ServeOptions options() {
    serve::ServeOptions o;
    o.model = test::stories_dir();
    o.max_len = 512;
    o.max_tokens = 480;
    return o;
}

std::string request_bytes(const std::string& path, const json& body) {
    const std::string b = body.dump();
    return "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
           "Content-Length: " + std::to_string(b.size()) + "\r\n\r\n" + b;
}

// Polls /metrics until `name` equals `value` (or 10 s pass); returns the last value seen.
double wait_metric(uint16_t port, const std::string& name, double value) {
    double v = -1;
    const auto t0 = Clock::now();
    while (Clock::now() - t0 < std::chrono::seconds(10)) {
        test::HttpClient c(port);
        v = test::metric_value(c.get("/metrics").body, name);
        if (v == value) {
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return v;
}

#define SKIP_WITHOUT_DATA()                                         \
    if (!test::have_stories()) {                                    \
        GTEST_SKIP() << "shipped data not found (set QFORGE_DATA)"; \
    }

TEST(ServeLimits, DisconnectedClientsFreeTheirSlots) {
    SKIP_WITHOUT_DATA();
    auto o = options();
    o.max_batch = 2;
    test::ServerUnderTest s(o);
    const json body = {{"model", "stories260K"}, {"prompt", "Once upon a time"},
                       {"max_tokens", 480},      {"ignore_eos", true},
                       {"temperature", 0.8},     {"stream", true}};
    // A streaming client reads the first bytes, then goes away; a non-streaming one leaves
    // right after sending.
    const std::string got =
        test::raw_exchange(s.port(), request_bytes("/v1/completions", body), 200);
    EXPECT_EQ(got.rfind("HTTP/1.1 200", 0), 0u) << got;
    json plain = body;
    plain.erase("stream");
    test::raw_exchange(s.port(), request_bytes("/v1/completions", plain), 0);
    EXPECT_EQ(wait_metric(s.port(), "qforge_running_requests", 0.0), 0.0);
    // Both slots are free again: two more requests run and finish.
    for (int i = 0; i < 2; ++i) {
        test::HttpClient c(s.port());
        EXPECT_EQ(c.post("/v1/completions",
                         json{{"model", "stories260K"}, {"prompt", "Hi"}, {"max_tokens", 4}}.dump())
                      .status,
                  200);
    }
}

TEST(ServeLimits, RequestsPastMaxConcurrentGet429) {
    SKIP_WITHOUT_DATA();
    auto o = options();
    o.max_batch = 1;
    o.max_concurrent = 2;
    test::ServerUnderTest s(o);
    std::vector<int> status(8);
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < status.size(); ++i) {
        threads.emplace_back([&, i] {
            test::HttpClient c(s.port());
            const auto r = c.post("/v1/completions", json{{"model", "stories260K"},
                                                          {"prompt", "Once upon a time"},
                                                          {"max_tokens", 400},
                                                          {"ignore_eos", true}}
                                                         .dump());
            status[i] = r.status;
            if (r.status == 429) {
                EXPECT_EQ(json::parse(r.body)["error"]["code"], "rate_limit_exceeded");
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_GE(std::count(status.begin(), status.end(), 200), 1);
    EXPECT_GE(std::count(status.begin(), status.end(), 429), 1);
    EXPECT_EQ(std::count(status.begin(), status.end(), 200) +
                  std::count(status.begin(), status.end(), 429),
              8);
}

TEST(ServeLimits, RequestsPastTheTimeoutGet408) {
    SKIP_WITHOUT_DATA();
    auto o = options();
    o.request_timeout_seconds = 1e-6;
    test::ServerUnderTest s(o);
    test::HttpClient c(s.port());
    const auto r =
        c.post("/v1/completions",
               json{{"model", "stories260K"}, {"prompt", "Hi"}, {"max_tokens", 50}}.dump());
    EXPECT_EQ(r.status, 408) << r.body;
    EXPECT_EQ(json::parse(r.body)["error"]["code"], "timeout");
    const auto st = c.post(
        "/v1/completions",
        json{{"model", "stories260K"}, {"prompt", "Hi"}, {"max_tokens", 50}, {"stream", true}}
            .dump());
    EXPECT_EQ(st.status, 200);
    const auto events = test::sse_data(st.body);
    ASSERT_GE(events.size(), 2u);
    EXPECT_EQ(events.back(), "[DONE]");
    EXPECT_EQ(json::parse(events[events.size() - 2])["error"]["code"], "timeout");
}

// 32 streaming clients, 3 requests each on a keep-alive connection; every request must end
// in [DONE] with its usage, and RSS may not keep growing between rounds.
TEST(ServeLoad, ManyConcurrentStreamingClients) {
    SKIP_WITHOUT_DATA();
    auto o = options();
    o.max_batch = 16;
    o.max_concurrent = 64;
    test::ServerUnderTest s(o);
    constexpr int kClients = 32, kRequests = 3;
    const auto deadline = Clock::now() + std::chrono::seconds(25);

    auto round = [&](std::vector<double>& latencies, int& errors) {
        std::vector<std::thread> threads;
        std::vector<std::vector<double>> lat(kClients);
        std::atomic<int> bad{0};
        for (int c = 0; c < kClients; ++c) {
            threads.emplace_back([&, c] {
                test::HttpClient client(s.port());
                for (int r = 0; r < kRequests && Clock::now() < deadline; ++r) {
                    const json body = {{"model", "stories260K"},
                                       {"prompt", c % 2 ? "Once upon a time" : "The little dog"},
                                       {"max_tokens", 32},
                                       {"temperature", 0.8},
                                       {"seed", c * 100 + r},
                                       {"stream", true},
                                       {"stream_options", {{"include_usage", true}}}};
                    const auto t0 = Clock::now();
                    const auto res = client.post("/v1/completions", body.dump());
                    lat[c].push_back(std::chrono::duration<double>(Clock::now() - t0).count());
                    const auto ev = test::sse_data(res.body);
                    if (res.status != 200 || ev.size() < 2 || ev.back() != "[DONE]" ||
                        !json::parse(ev[ev.size() - 2]).contains("usage")) {
                        ++bad;
                    }
                }
            });
        }
        for (auto& t : threads) {
            t.join();
        }
        for (const auto& l : lat) {
            latencies.insert(latencies.end(), l.begin(), l.end());
        }
        errors += bad.load();
    };

    std::vector<double> warm, lat;
    int errors = 0;
    round(warm, errors);  // first round: workspaces and allocator pools grow to their size
    const std::size_t rss0 = test::rss_bytes();
    const auto t0 = Clock::now();
    round(lat, errors);
    round(lat, errors);
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    const std::size_t rss1 = test::rss_bytes();
    ASSERT_LT(Clock::now(), deadline) << "the load test ran out of time";
    EXPECT_EQ(errors, 0);
    EXPECT_EQ(lat.size(), std::size_t{2 * kClients * kRequests});
    std::sort(lat.begin(), lat.end());
    const double p50 = lat[lat.size() / 2], p99 = lat[(lat.size() * 99) / 100];
    std::printf(
        "[serve load] %zu streaming requests (32 clients) in %.2f s: %.1f req/s, "
        "latency p50 %.1f ms, p99 %.1f ms; RSS %.1f -> %.1f MiB\n",
        lat.size(), secs, static_cast<double>(lat.size()) / secs, p50 * 1e3, p99 * 1e3,
        static_cast<double>(rss0) / (1 << 20), static_cast<double>(rss1) / (1 << 20));
    EXPECT_LT(rss1, rss0 + (std::size_t{32} << 20)) << "RSS grew by more than 32 MiB";
    test::HttpClient c(s.port());
    const std::string m = c.get("/metrics").body;
    EXPECT_EQ(test::metric_value(m, "qforge_running_requests"), 0.0);
    EXPECT_EQ(test::metric_value(m, "qforge_queue_depth"), 0.0);
    EXPECT_GE(test::metric_value(m, "qforge_request_latency_seconds_count"),
              static_cast<double>(3 * kClients * kRequests));
}

}  // namespace
}  // namespace qforge
