// What is here: setting one config key from a YAML node: the type check against the key's
// member, and ${VAR} expansion of strings.
#pragma once

#include <string>
#include <yaml-cpp/yaml.h>

#include "launcher/config_keys.h"

namespace qforge::launcher {

// Sets `key` in `config` from `value`. Integers, numbers and bools take a scalar; a string takes
// a scalar (null = ""); a list of strings takes a sequence of scalars, one scalar (a list of
// one) or null (empty). Throws qforge::Error naming the key and what was expected, e.g.
// `train.lr: expected a number, got "fast"`; the caller adds where the value came from.
void assign_config_value(const ConfigKey& key, train::TrainConfig& config, const YAML::Node& value);

// How a node reads in messages: "fast" (quoted scalar), a list, a mapping, nothing.
std::string describe_yaml_node(const YAML::Node& node);

}  // namespace qforge::launcher
