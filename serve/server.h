// What is here: Server, `qforge serve` as a library: it loads the base model, its tokenizer,
// the adapters and the optional retrieval index, and answers the OpenAI-compatible API on
// HTTP: GET /v1/models, POST /v1/completions, POST /v1/chat/completions, POST
// /v1/load_lora_adapter, POST /v1/unload_lora_adapter, GET /health, GET /metrics.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kernels/common.h"

namespace qforge::serve {

struct ServeOptions {
    std::filesystem::path model;                                          // HF model directory
    std::vector<std::pair<std::string, std::filesystem::path>> adapters;  // name, PEFT dir
    std::filesystem::path index;    // `qforge index` directory; empty: no retrieval
    std::string served_model_name;  // empty: the model directory's name
    std::string host = "127.0.0.1";
    uint16_t port = 8000;                  // 0: any free port
    int64_t max_batch = 16;                // KV slots = sequences decoded together
    int64_t max_len = 0;                   // positions per slot; 0: the model's context
    int64_t max_tokens = 1024;             // the most new tokens one request may ask for
    int64_t max_concurrent = 64;           // requests queued or running; more get 429
    std::size_t max_body_bytes = 1 << 20;  // larger request bodies get 413
    double request_timeout_seconds = 300;  // a request still running then ends (408)
    bool quantize_nf4 = false;             // base projections stored as NF4
    bool allow_runtime_lora = true;        // /v1/load_lora_adapter and unload
    kernels::Device device = kernels::Device::kCpu;  // where the batched forward runs
};

class Server {
public:
    // Loads everything and binds the port; any problem is a qforge::Error.
    explicit Server(ServeOptions options);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    uint16_t port() const;
    const std::string& model_name() const;

    // Starts the event loop and the generation worker, and returns.
    void start();
    // start(), then blocks until SIGINT or SIGTERM.
    void run_until_signal();
    void stop();

    // One line for the log: model, adapters, KV cache, limits.
    std::string describe() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace qforge::serve
