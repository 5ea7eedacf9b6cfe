// What is here: ${VAR} / ${VAR:-default} / $$ expansion for string values of the config.
#pragma once

#include <string>
#include <string_view>

namespace qforge::launcher {

// Expands, left to right: ${VAR} to $VAR (an error when VAR is unset), ${VAR:-default} to $VAR
// when set and non-empty, else to `default` (itself expanded, so defaults may nest), and $$ to
// one literal $. A $ followed by anything else stays as it is. Throws qforge::Error for an
// unterminated ${, a bad variable name, or an unset variable without a default.
std::string expand_config_env(std::string_view text);

// Escapes every $ as $$, so that expand_config_env(escape_config_env(s)) == s.
std::string escape_config_env(std::string_view text);

}  // namespace qforge::launcher
