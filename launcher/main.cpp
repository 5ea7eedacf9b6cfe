// What is here: the `qforge` executable's entry point: one CLI11 app, one subcommand per
// verb (each registered from its own file), and the single place where a qforge::Error
// becomes one message on stderr and a non-zero exit.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <fmt/format.h>

#include "kernels/common.h"
#include "launcher/commands.h"

int main(int argc, char** argv) {
    CLI::App app{"qforge: QLoRA fine-tuning, evaluation and hybrid-RAG serving"};
    app.set_version_flag("--version", "qforge 0.1.0");
    app.require_subcommand(1);
    qforge::launcher::register_commands(app);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    try {
        qforge::launcher::run_selected(app);
    } catch (const qforge::Error& e) {
        std::fprintf(stderr, "qforge: error: %s\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "qforge: internal error: %s\n", e.what());
        return 2;
    }
    return 0;
}
