// What is here: Metrics (see metrics.h).
#include "serve/metrics.h"

#include <fmt/format.h>
#include <string>
#include <string_view>

#include "serve/engine.h"

namespace qforge::serve {

namespace {
constexpr double kWindowSeconds = 10.0;
}

Metrics::Metrics() : start_(Clock::now()) {}

void Metrics::Histogram::add(double seconds) {
    std::size_t i = 0;
    while (i < kBuckets.size() && seconds > kBuckets[i]) {
        ++i;
    }
    if (i < kBuckets.size()) {
        ++counts[i];
    }
    ++count;
    sum += seconds;
}

void Metrics::Histogram::print(std::string& out, const std::string& name) const {
    uint64_t cumulative = 0;
    for (std::size_t i = 0; i < kBuckets.size(); ++i) {
        cumulative += counts[i];
        out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, kBuckets[i], cumulative);
    }
    out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n", name, count);
    out += fmt::format("{}_sum {}\n{}_count {}\n", name, sum, name, count);
}

void Metrics::request_done(const std::string& endpoint, int status, double seconds) {
    std::lock_guard lock(mutex_);
    ++requests_[{endpoint, status}];
    if (endpoint == "/v1/completions" || endpoint == "/v1/chat/completions") {
        latency_.add(seconds);
    }
}

void Metrics::prompt_tokens(int64_t n) {
    std::lock_guard lock(mutex_);
    prompt_tokens_ += static_cast<uint64_t>(n);
}

void Metrics::generated(int64_t tokens, double step_seconds) {
    std::lock_guard lock(mutex_);
    generated_tokens_ += static_cast<uint64_t>(tokens);
    ++steps_;
    step_seconds_ += step_seconds;
    const auto now = Clock::now();
    recent_.emplace_back(now, tokens);
    while (std::chrono::duration<double>(now - recent_.front().first).count() > kWindowSeconds) {
        recent_.pop_front();
    }
}

void Metrics::first_token(double seconds) {
    std::lock_guard lock(mutex_);
    ttft_.add(seconds);
}

std::string Metrics::prometheus(const EngineStats& engine, int64_t adapters) const {
    std::lock_guard lock(mutex_);
    const auto now = Clock::now();
    while (!recent_.empty() &&
           std::chrono::duration<double>(now - recent_.front().first).count() > kWindowSeconds) {
        recent_.pop_front();
    }
    int64_t window_tokens = 0;
    for (const auto& [t, n] : recent_) {
        window_tokens += n;
    }
    const double up = std::chrono::duration<double>(now - start_).count();
    const double window = std::min(kWindowSeconds, std::max(up, 1e-9));

    std::string out;
    // Prometheus text format: HELP and TYPE lines, then the samples
    auto header = [&](std::string_view name, std::string_view type, std::string_view help) {
        out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
    };
    auto metric = [&](std::string_view name, std::string_view type, std::string_view help,
                      const std::string& value) {
        header(name, type, help);
        out += fmt::format("{} {}\n", name, value);
    };
    header("qforge_requests_total", "counter", "HTTP requests answered, by endpoint and status.");
    for (const auto& [key, n] : requests_) {
        out += fmt::format("qforge_requests_total{{endpoint=\"{}\",status=\"{}\"}} {}\n", key.first,
                           key.second, n);
    }
    metric("qforge_prompt_tokens_total", "counter",
           "Prompt tokens of accepted generation requests.", std::to_string(prompt_tokens_));
    metric("qforge_generation_tokens_total", "counter", "Tokens generated.",
           std::to_string(generated_tokens_));
    metric("qforge_generation_tokens_per_second", "gauge",
           "Tokens generated per second, last 10 s.",
           fmt::format("{:.3f}", static_cast<double>(window_tokens) / window));
    metric("qforge_engine_steps_total", "counter", "Batched forward steps run by the engine.",
           std::to_string(steps_));
    metric("qforge_engine_step_seconds_total", "counter", "Time spent in engine steps.",
           fmt::format("{:.6f}", step_seconds_));
    metric("qforge_queue_depth", "gauge", "Requests waiting for a KV slot.",
           std::to_string(engine.waiting));
    metric("qforge_running_requests", "gauge", "Requests in the running batch.",
           std::to_string(engine.running));
    metric("qforge_kv_slots", "gauge", "KV-cache slots (max concurrent sequences).",
           std::to_string(engine.slots));
    metric("qforge_kv_cache_bytes", "gauge", "Bytes held by the KV cache.",
           std::to_string(engine.kv_bytes));
    metric("qforge_lora_adapters", "gauge", "Adapters loaded.", std::to_string(adapters));
    header("qforge_request_latency_seconds", "histogram",
           "Completion request latency, end to end.");
    latency_.print(out, "qforge_request_latency_seconds");
    header("qforge_time_to_first_token_seconds", "histogram",
           "Time from arrival to the first text sent.");
    ttft_.print(out, "qforge_time_to_first_token_seconds");
    return out;
}

}  // namespace qforge::serve
