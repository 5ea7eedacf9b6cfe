// What is here: how subcommands plug into the `qforge` app. Each verb lives in its own
// launcher/cmd_<verb>.cpp and registers itself through register_commands().
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace qforge::launcher {

// Adds every subcommand to `app`.
void register_commands(CLI::App& app);

// Runs the subcommand the user picked (after parsing).
void run_selected(CLI::App& app);

// Called by each cmd_<verb>.cpp from register_commands: `run` executes after parsing.
void add_command(CLI::App& app, CLI::App* sub, std::function<void()> run);

// One registration function per verb.
void register_generate(CLI::App& app);
void register_train(CLI::App& app);
void register_sweep(CLI::App& app);
void register_index(CLI::App& app);
void register_retrieve(CLI::App& app);
void register_rag(CLI::App& app);
void register_serve(CLI::App& app);
void register_eval(CLI::App& app);

}  // namespace qforge::launcher
