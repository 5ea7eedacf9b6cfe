// What is here: Metrics, the counters behind GET /metrics, printed in the Prometheus text
// format: requests by endpoint and status, prompt and generated tokens, generated tokens per
// second over the last 10 s, queue depth, and histograms of request latency and
// time to first token.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace qforge::serve {

struct EngineStats;

class Metrics {
public:
    Metrics();

    void request_done(const std::string& endpoint, int status, double seconds);
    void prompt_tokens(int64_t n);
    void generated(int64_t tokens, double step_seconds);  // after each engine step
    void first_token(double seconds);

    std::string prometheus(const EngineStats& engine, int64_t adapters) const;

    // Bucket upper bounds (seconds) of both histograms; +Inf is implied.
    static constexpr std::array<double, 13> kBuckets = {0.005, 0.01, 0.025, 0.05, 0.1,  0.25, 0.5,
                                                        1.0,   2.5,  5.0,   10.0, 30.0, 60.0};

private:
    struct Histogram {
        std::array<uint64_t, kBuckets.size()> counts{};  // non-cumulative, one per bucket
        uint64_t count = 0;
        double sum = 0.0;
        void add(double seconds);
        void print(std::string& out, const std::string& name) const;
    };

    using Clock = std::chrono::steady_clock;

    mutable std::mutex mutex_;
    Clock::time_point start_;
    std::map<std::pair<std::string, int>, uint64_t> requests_;
    uint64_t prompt_tokens_ = 0, generated_tokens_ = 0, steps_ = 0;
    double step_seconds_ = 0.0;
    mutable std::deque<std::pair<Clock::time_point, int64_t>> recent_;  // tokens per step, 10 s
    Histogram latency_, ttft_;
};

}  // namespace qforge::serve
