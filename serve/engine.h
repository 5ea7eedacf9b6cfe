// What is here: Engine, the generation worker: one thread that owns the model's KV cache and
// runs continuous batching. Requests wait in a bounded queue; between decode steps, waiting
// requests take free KV slots and join the running batch (their prompt is prefilled in the
// same step as the others' next token); rows for different adapters share the batch. Each
// request gets its events (released text, tokens with logprobs, the end) through a sink
// called on the worker thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "kernels/common.h"
#include "runtime/generate/sampler.h"
#include "runtime/model/llama.h"
#include "runtime/model/lora.h"
#include "runtime/tokenizer/tokenizer.h"

namespace qforge::serve {

class Metrics;

struct TokenLogprob {
    int32_t id = 0;
    std::string text;
    float logprob = 0.0f;
    bool has_logprob = false;                        // false for the first prompt token
    std::vector<std::pair<std::string, float>> top;  // most likely first
};

struct GenEvent {
    std::string text;                  // text released since the last event
    std::vector<TokenLogprob> tokens;  // tokens generated since the last event
    std::vector<TokenLogprob> prompt;  // prompt tokens with logprobs (first event, echo only)
    bool done = false;
    std::string finish_reason;  // when done: "stop", "length", "timeout" or "error"
    std::string error;          // finish_reason "error": what went wrong
    int64_t prompt_tokens = 0;
    int64_t completion_tokens = 0;
};

using EventSink = std::function<void(GenEvent)>;

struct GenRequest {
    std::vector<int32_t> prompt;
    std::shared_ptr<const LoraAdapter> adapter;  // nullptr: the base model
    int64_t max_tokens = 16;
    SamplingParams sampling;
    std::vector<std::string> stop;
    bool ignore_eos = false;
    int logprobs = -1;             // -1: none; n >= 0: each token's logprob and n alternatives
    bool prompt_logprobs = false;  // also the prompt's tokens (completions with echo)
    std::chrono::steady_clock::time_point arrival = std::chrono::steady_clock::now();
    std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
    std::shared_ptr<std::atomic<bool>> cancelled;  // set by the connection when its client goes
    EventSink sink;
};

struct EngineOptions {
    int64_t max_batch = 16;  // KV slots: sequences decoded together
    int64_t max_len = 512;   // positions per slot (prompt + completion)
    int64_t max_queue = 64;  // requests waiting or running; more are refused
    kernels::Device device = kernels::Device::kCpu;  // where the batched forward runs
};

struct EngineStats {
    int64_t waiting = 0, running = 0, slots = 0;
    std::size_t kv_bytes = 0;
};

class Engine {
public:
    Engine(const LlamaModel& model, const Tokenizer& tokenizer, EngineOptions options,
           Metrics* metrics);
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    // Queues a request; false when max_queue requests are already waiting or running.
    bool submit(GenRequest request);

    // Ends the worker: queued and running requests get an "error" event.
    void stop();

    EngineStats stats() const;

    const EngineOptions& options() const { return options_; }

private:
    struct Impl;
    void loop();

    const LlamaModel& model_;
    const Tokenizer& tokenizer_;
    EngineOptions options_;
    Metrics* metrics_;
    std::unique_ptr<Impl> impl_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<GenRequest> waiting_;
    int64_t running_ = 0;
    bool stopping_ = false;
    std::thread worker_;
};

}  // namespace qforge::serve
