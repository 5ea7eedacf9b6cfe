// What is here: `qforge generate`: load an HF model directory and generate text.
#include <CLI/CLI.hpp>

#include <string>

#include "kernels/common.h"
#include "launcher/commands.h"

namespace qforge::launcher {

namespace {
struct GenerateArgs {
    std::string model;
    std::string prompt;
};
}  // namespace

void register_generate(CLI::App& app) {
    static GenerateArgs args;
    auto* sub = app.add_subcommand("generate", "Generate text with a Hugging Face Llama model");
    sub->add_option("--model", args.model, "Model directory (config.json, *.safetensors)")
        ->required();
    sub->add_option("--prompt", args.prompt, "Prompt text");
    add_command(app, sub, [] { QF_FAIL("generate: the Llama model is not built yet"); });
}

}  // namespace qforge::launcher
