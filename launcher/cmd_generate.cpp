// What is here: `qforge generate`: load a Hugging Face Llama model directory, encode a prompt
// (or a chat message through the model's chat template), generate, and stream the text.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <fmt/format.h>
#include <optional>
#include <string>
#include <vector>

#include "kernels/common.h"
#include "launcher/commands.h"
#include "runtime/generate/generate.h"
#include "runtime/model/llama.h"
#include "runtime/model/lora.h"
#include "runtime/tokenizer/tokenizer.h"

namespace qforge::launcher {

namespace {

struct GenerateArgs {
    std::string model;
    std::string adapter;
    std::string prompt;
    std::string chat;
    std::string system;
    int64_t max_tokens = 64;
    float temperature = 0.0f;
    float top_p = 1.0f;
    int64_t top_k = 0;
    uint64_t seed = 0;
    bool ignore_eos = false;
    std::vector<std::string> stop;
    bool quiet = false;
};

// Prints the part of `text` not printed yet. Text that ends in an incomplete UTF-8 sequence
// (a byte-fallback token waiting for its continuation) decodes to U+FFFD; hold it back.
class TextStreamer {
public:
    void update(const std::string& text) {
        std::string_view view(text);
        if (view.size() >= 3 && view.substr(view.size() - 3) == "\xEF\xBF\xBD") {
            return;
        }
        if (view.size() > printed_ && view.substr(0, printed_) == printed_text_) {
            std::fwrite(view.data() + printed_, 1, view.size() - printed_, stdout);
            std::fflush(stdout);
            printed_ = view.size();
            printed_text_ = text;
        }
    }

    void finish(const std::string& text) {
        if (text.size() > printed_ && text.compare(0, printed_, printed_text_) == 0) {
            std::fwrite(text.data() + printed_, 1, text.size() - printed_, stdout);
        }
        std::fputc('\n', stdout);
        std::fflush(stdout);
    }

private:
    std::size_t printed_ = 0;
    std::string printed_text_;
};

void run_generate(const GenerateArgs& args) {
    QF_CHECK(args.prompt.empty() != args.chat.empty(),
             "generate: give exactly one of --prompt or --chat");
    const Tokenizer tokenizer = Tokenizer::load(args.model);
    const LlamaModel model = LlamaModel::load(args.model);
    std::optional<LoraAdapter> adapter;
    if (!args.adapter.empty()) {
        adapter = LoraAdapter::load_peft(args.adapter, model.config());
    }

    std::vector<int32_t> prompt_ids;
    std::string prompt_text;
    if (!args.chat.empty()) {
        std::vector<ChatMessage> messages;
        if (!args.system.empty()) {
            messages.push_back({"system", args.system});
        }
        messages.push_back({"user", args.chat});
        // The rendered template already holds BOS where the model expects it.
        prompt_ids = tokenizer.encode(tokenizer.apply_chat_template(messages, true), false);
    } else {
        prompt_ids = tokenizer.encode(args.prompt, true);
        prompt_text = tokenizer.decode(prompt_ids, true);
    }

    GenerateOptions options;
    options.max_new_tokens = args.max_tokens;
    options.sampling = {args.temperature, args.top_k, args.top_p, args.seed};
    if (!args.ignore_eos) {
        options.stop_ids = model.config().eos_token_ids;
        if (auto eos = tokenizer.eos_id();
            eos && std::find(options.stop_ids.begin(), options.stop_ids.end(), *eos) ==
                       options.stop_ids.end()) {
            options.stop_ids.push_back(*eos);
        }
    }

    // Stream the decode of (prompt + new tokens), as tokenizer.decode(full) would print it;
    // chat mode prints the reply only.
    std::vector<int32_t> shown = args.chat.empty() ? prompt_ids : std::vector<int32_t>{};
    TextStreamer streamer;
    std::string text;
    options.adapter = adapter ? &*adapter : nullptr;
    auto result = generate(model, prompt_ids, options, [&](int32_t token) {
        shown.push_back(token);
        text = tokenizer.decode(shown, true);
        for (const auto& s : args.stop) {
            if (auto at = text.find(s); at != std::string::npos) {
                text.resize(at);
                return false;
            }
        }
        streamer.update(text);
        return true;
    });
    if (result.tokens.empty()) {
        text = tokenizer.decode(shown, true);
    }
    streamer.finish(text);
    if (!args.quiet) {
        const double n = static_cast<double>(result.tokens.size());
        std::fprintf(stderr,
                     "[qforge] prompt %zu tokens in %.3f s; generated %zu tokens in %.3f s "
                     "(%.1f tokens/s, cpu, finish: %s)\n",
                     prompt_ids.size(), result.prefill_seconds, result.tokens.size(),
                     result.decode_seconds,
                     result.decode_seconds > 0 ? n / result.decode_seconds : 0.0,
                     result.finish_reason.c_str());
    }
}

}  // namespace

void register_generate(CLI::App& app) {
    static GenerateArgs args;
    auto* sub = app.add_subcommand("generate", "Generate text with a Hugging Face Llama model");
    sub->add_option("--model", args.model,
                    "Model directory (config.json, *.safetensors, tokenizer.json)")
        ->required()
        ->check(CLI::ExistingDirectory);
    sub->add_option("--adapter", args.adapter,
                    "PEFT LoRA adapter directory (adapter_config.json + "
                    "adapter_model.safetensors), e.g. runs/quickstart/adapter")
        ->check(CLI::ExistingDirectory);
    sub->add_option("--prompt", args.prompt, "Raw prompt text (BOS added as the tokenizer does)");
    sub->add_option("--chat", args.chat, "A user message, rendered with the model's chat template");
    sub->add_option("--system", args.system, "System message for --chat");
    sub->add_option("--max-tokens", args.max_tokens, "Most new tokens to generate")
        ->capture_default_str()
        ->check(CLI::Range(int64_t{0}, int64_t{1} << 30));
    sub->add_option("--temperature", args.temperature, "0 = greedy")
        ->capture_default_str()
        ->check(CLI::Range(0.0f, 100.0f));
    sub->add_option("--top-p", args.top_p, "Nucleus sampling mass, in (0, 1]")
        ->capture_default_str();
    sub->add_option("--top-k", args.top_k, "Keep the k most likely tokens (0 = all)")
        ->capture_default_str();
    sub->add_option("--seed", args.seed, "Sampling seed")->capture_default_str();
    sub->add_option("--stop", args.stop, "Stop string (repeatable); not printed");
    sub->add_flag("--ignore-eos", args.ignore_eos, "Do not stop at the EOS token");
    sub->add_flag("-q,--quiet", args.quiet, "Do not print timing to stderr");
    add_command(app, sub, [] { run_generate(args); });
}

}  // namespace qforge::launcher
