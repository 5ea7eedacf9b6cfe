// What is here: the subcommand table behind launcher/commands.h.
#include "launcher/commands.h"

#include <map>

namespace qforge::launcher {

namespace {
std::map<CLI::App*, std::function<void()>>& command_table() {
    static std::map<CLI::App*, std::function<void()>> table;
    return table;
}
}  // namespace

void add_command(CLI::App&, CLI::App* sub, std::function<void()> run) {
    command_table()[sub] = std::move(run);
}

void register_commands(CLI::App& app) {
    register_generate(app);
    register_train(app);
    register_sweep(app);
    register_index(app);
    register_retrieve(app);
    register_rag(app);
    register_serve(app);
    register_eval(app);
}

void run_selected(CLI::App& app) {
    for (auto& [sub, run] : command_table()) {
        if (sub->parsed()) {
            run();
            return;
        }
    }
    (void)app;
}

}  // namespace qforge::launcher
