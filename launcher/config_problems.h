// What is here: how the config reports what it found wrong: all problems in one qforge::Error.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace qforge::launcher {

// Does nothing when `problems` is empty. One problem: throws "<title>: <problem>" (the problem
// alone when `title` is empty). Several: "<title> (N problems):\n  <p1>\n  <p2>...", with
// "training config" as the title when none is given.
void throw_config_problems(const std::vector<std::string>& problems, std::string_view title);

}  // namespace qforge::launcher
