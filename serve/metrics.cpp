// What is here: Metrics (see metrics.h).
#include "serve/metrics.h"

#include <fmt/format.h>

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
    out += "# HELP qforge_requests_total HTTP requests answered, by endpoint and status.\n";
    out += "# TYPE qforge_requests_total counter\n";
    for (const auto& [key, n] : requests_) {
        out += fmt::format("qforge_requests_total{{endpoint=\"{}\",status=\"{}\"}} {}\n", key.first,
                           key.second, n);
    }
    out += "# HELP qforge_prompt_tokens_total Prompt tokens of accepted generation requests.\n";
    out += "# TYPE qforge_prompt_tokens_total counter\n";
    out += fmt::format("qforge_prompt_tokens_total {}\n", prompt_tokens_);
    out += "# HELP qforge_generation_tokens_total Tokens generated.\n";
    out += "# TYPE qforge_generation_tokens_total counter\n";
    out += fmt::format("qforge_generation_tokens_total {}\n", generated_tokens_);
    out += "# HELP qforge_generation_tokens_per_second Tokens generated per second, last 10 s.\n";
    out += "# TYPE qforge_generation_tokens_per_second gauge\n";
    out += fmt::format("qforge_generation_tokens_per_second {:.3f}\n",
                       static_cast<double>(window_tokens) / window);
    out += "# HELP qforge_engine_steps_total Batched forward steps run by the engine.\n";
    out += "# TYPE qforge_engine_steps_total counter\n";
    out += fmt::format("qforge_engine_steps_total {}\n", steps_);
    out += "# HELP qforge_engine_step_seconds_total Time spent in engine steps.\n";
    out += "# TYPE qforge_engine_step_seconds_total counter\n";
    out += fmt::format("qforge_engine_step_seconds_total {:.6f}\n", step_seconds_);
    out += "# HELP qforge_queue_depth Requests waiting for a KV slot.\n";
    out += "# TYPE qforge_queue_depth gauge\n";
    out += fmt::format("qforge_queue_depth {}\n", engine.waiting);
    out += "# HELP qforge_running_requests Requests in the running batch.\n";
    out += "# TYPE qforge_running_requests gauge\n";
    out += fmt::format("qforge_running_requests {}\n", engine.running);
    out += "# HELP qforge_kv_slots KV-cache slots (max concurrent sequences).\n";
    out += "# TYPE qforge_kv_slots gauge\n";
    out += fmt::format("qforge_kv_slots {}\n", engine.slots);
    out += "# HELP qforge_kv_cache_bytes Bytes held by the KV cache.\n";
    out += "# TYPE qforge_kv_cache_bytes gauge\n";
    out += fmt::format("qforge_kv_cache_bytes {}\n", engine.kv_bytes);
    out += "# HELP qforge_lora_adapters Adapters loaded.\n";
    out += "# TYPE qforge_lora_adapters gauge\n";
    out += fmt::format("qforge_lora_adapters {}\n", adapters);
    out += "# HELP qforge_request_latency_seconds Completion request latency, end to end.\n";
    out += "# TYPE qforge_request_latency_seconds histogram\n";
    latency_.print(out, "qforge_request_latency_seconds");
    out += "# HELP qforge_time_to_first_token_seconds Time from arrival to the first text sent.\n";
    out += "# TYPE qforge_time_to_first_token_seconds histogram\n";
    ttft_.print(out, "qforge_time_to_first_token_seconds");
    return out;
}

}  // namespace qforge::serve
