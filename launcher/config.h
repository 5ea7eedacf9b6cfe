// What is here: the training config's public API: YAML file + `--set section.key=value`
// overrides -> train::TrainConfig, its validation, and its resolved YAML form.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/train/train_config.h"

namespace qforge::launcher {

// Loads a YAML file (top-level sections run, model, lora, data, train, checkpoint; keys as in
// runtime/train/train_config.h), then applies `overrides` ("section.key=value", the value parsed
// as YAML). ${VAR}, ${VAR:-default} and $$ (a literal $) are expanded in string values; relative
// paths stay relative to the working directory. Keys left out keep their defaults. Throws one
// qforge::Error listing every unknown key, wrong type or malformed override found. Does not
// validate: call validate_train_config() before using the result.
train::TrainConfig load_train_config(const std::filesystem::path& yaml_path,
                                     const std::vector<std::string>& overrides);

// Same from YAML text; `origin` names the source in error messages ("configs/x.yaml:7: ...").
train::TrainConfig parse_train_config(std::string_view yaml_text, std::string_view origin,
                                      const std::vector<std::string>& overrides);

// Throws one qforge::Error listing every problem found: out-of-range numbers, unknown choices,
// missing data files or model directory.
void validate_train_config(const train::TrainConfig& config);

// The resolved config as YAML (every key, defaults included), written into the run directory so
// that a run can be reproduced or resumed: parse_train_config() of it gives the same config.
std::string train_config_to_yaml(const train::TrainConfig& config);

}  // namespace qforge::launcher
