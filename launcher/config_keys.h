// What is here: the one table of training-config keys ("section.key" -> TrainConfig member)
// that parsing, --set overrides, validation messages, train_config_to_yaml and the docs test
// all read, plus the "did you mean" suggestion for names not in it.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "runtime/train/train_config.h"

namespace qforge::launcher {

// A pointer to the member one key sets; the alternative says the key's type.
using ConfigField = std::variant<int64_t*, uint64_t*, float*, double*, bool*, std::string*,
                                 std::vector<std::string>*>;

struct ConfigKey {
    std::string_view name;                      // "lora.r"
    ConfigField (*field)(train::TrainConfig&);  // &config.lora.r

    std::string_view section() const { return name.substr(0, name.find('.')); }

    std::string_view key() const { return name.substr(name.find('.') + 1); }
};

// Every key, grouped by section in the order of config_sections().
std::span<const ConfigKey> config_keys();

// run, model, lora, data, train, checkpoint.
std::span<const std::string_view> config_sections();

// The key named "section.key", or nullptr.
const ConfigKey* find_config_key(std::string_view name);

// The key named `name`; throws qforge::Error when the table has none (a programming error).
const ConfigKey& config_key(std::string_view name);

// The member `key` sets in `config`. The const overload is for reading only.
ConfigField config_field(const ConfigKey& key, train::TrainConfig& config);
ConfigField config_field(const ConfigKey& key, const train::TrainConfig& config);

// "integer", "non-negative integer", "number", "bool", "string" or "list of strings".
std::string_view config_type_name(const ConfigKey& key);

// The value of `key` in `config` as docs/config.md and messages show it: 8, 0.0002, true,
// cosine, "" (empty string), [q_proj, v_proj]. Floats print in their shortest exact form.
std::string config_value_text(const ConfigKey& key, const train::TrainConfig& config);

// Optimal-string-alignment edit distance (a swap of two neighbours counts as one edit).
std::size_t config_edit_distance(std::string_view a, std::string_view b);

// The valid key closest to `name` ("lora.rank" -> "lora.r", "lr" -> "train.lr",
// "train.seq_len" -> "data.seq_len"), or nothing when no key is close.
std::optional<std::string_view> closest_config_key(std::string_view name);

// The valid section closest to `name` ("trian" -> "train"), or nothing.
std::optional<std::string_view> closest_config_section(std::string_view name);

}  // namespace qforge::launcher
