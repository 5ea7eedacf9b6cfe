// What is here: launcher/config_problems.h.
#include "launcher/config_problems.h"

#include <fmt/format.h>

#include "kernels/common.h"

namespace qforge::launcher {

void throw_config_problems(const std::vector<std::string>& problems, std::string_view title) {
    if (problems.empty()) {
        return;
    }
    if (problems.size() == 1) {
        throw Error(title.empty() ? problems[0] : fmt::format("{}: {}", title, problems[0]));
    }
    throw Error(fmt::format("{} ({} problems):\n  {}", title.empty() ? "training config" : title,
                            problems.size(), fmt::join(problems, "\n  ")));
}

}  // namespace qforge::launcher
