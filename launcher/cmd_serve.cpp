// What is here: `qforge serve`: the OpenAI-compatible HTTP server (serve/server.h) for a base
// model, any number of LoRA adapters and an optional retrieval index; runs until SIGINT or
// SIGTERM.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "kernels/common.h"
#include "launcher/commands.h"
#include "serve/server.h"

namespace qforge::launcher {

namespace {

struct ServeArgs {
    serve::ServeOptions options;
    std::vector<std::string> adapters;
    std::string model, index;
    std::string device = "auto";
    bool no_runtime_lora = false;
};

void run_serve(ServeArgs& args) {
    auto& o = args.options;
    o.model = args.model;
    o.index = args.index;
    o.allow_runtime_lora = !args.no_runtime_lora;
    const bool gpu = kernels::cuda_available();
    QF_CHECK(args.device != "cuda" || gpu,
             "serve: --device cuda, but this build has no CUDA backend or no GPU is visible "
             "(use --device cpu or auto)");
    o.device = args.device == "cpu" || !gpu ? kernels::Device::kCpu : kernels::Device::kCuda;
    for (const auto& a : args.adapters) {
        const auto eq = a.find('=');
        QF_CHECK(eq != std::string::npos && eq > 0 && eq + 1 < a.size(),
                 "serve: --adapter takes NAME=DIR (e.g. support=runs/a/adapter), got '{}'", a);
        o.adapters.emplace_back(a.substr(0, eq), a.substr(eq + 1));
    }
    serve::Server server(o);
    std::fprintf(stderr, "[qforge] serve: %s; device: %s\n", server.describe().c_str(),
                 std::string(kernels::device_name(o.device)).c_str());
    std::fprintf(stderr, "[qforge] serve: listening on http://%s:%u (OpenAI API under /v1)\n",
                 o.host.c_str(), static_cast<unsigned>(server.port()));
    std::fflush(stderr);
    server.run_until_signal();
    std::fprintf(stderr, "[qforge] serve: stopped\n");
}

}  // namespace

void register_serve(CLI::App& app) {
    static ServeArgs args;
    auto& o = args.options;
    auto* sub = app.add_subcommand(
        "serve", "OpenAI-compatible HTTP server: base model, LoRA adapters, retrieval (RAG)");
    sub->add_option("--model", args.model,
                    "Model directory (config.json, *.safetensors, tokenizer.json)")
        ->required()
        ->check(CLI::ExistingDirectory);
    sub->add_option("--adapter", args.adapters,
                    "NAME=DIR: serve a PEFT adapter as model NAME (repeatable)");
    sub->add_option("--index", args.index,
                    "Index directory (`qforge index`) for requests with \"rag\": {\"index\": true}")
        ->check(CLI::ExistingDirectory);
    sub->add_option("--served-model-name", o.served_model_name,
                    "The base model's name in the API (default: the model directory's name)");
    sub->add_option("--host", o.host, "Address to listen on")->capture_default_str();
    sub->add_option("--port", o.port, "Port to listen on (0: any free port)")
        ->capture_default_str();
    sub->add_option("--max-batch", o.max_batch, "KV-cache slots: most sequences decoded together")
        ->capture_default_str()
        ->check(CLI::Range(int64_t{1}, int64_t{4096}));
    sub->add_option("--max-len", o.max_len,
                    "Positions per slot, prompt + completion (0: the model's context, at most "
                    "2048)")
        ->capture_default_str()
        ->check(CLI::Range(int64_t{0}, int64_t{1} << 24));
    sub->add_option("--max-tokens", o.max_tokens, "Most new tokens one request may ask for")
        ->capture_default_str()
        ->check(CLI::Range(int64_t{1}, int64_t{1} << 24));
    sub->add_option("--max-concurrent", o.max_concurrent,
                    "Requests queued or running at once; more get 429")
        ->capture_default_str()
        ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
    sub->add_option("--max-body-bytes", o.max_body_bytes,
                    "Largest request body; larger ones get 413")
        ->capture_default_str()
        ->check(CLI::Range(std::size_t{64}, std::size_t{1} << 30));
    sub->add_option("--timeout", o.request_timeout_seconds,
                    "Seconds a request may take (queued + generating); then 408")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    sub->add_option("--device", args.device,
                    "Where the batched forward runs: auto (the GPU when one is present), cpu or "
                    "cuda")
        ->capture_default_str()
        ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
    sub->add_flag("--nf4", o.quantize_nf4, "Store the base projections as NF4 (QLoRA layout)");
    sub->add_flag("--no-runtime-lora", args.no_runtime_lora,
                  "Refuse /v1/load_lora_adapter and /v1/unload_lora_adapter (403)");
    add_command(app, sub, [] { run_serve(args); });
}

}  // namespace qforge::launcher
