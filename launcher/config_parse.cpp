// What is here: load_train_config / parse_train_config: YAML sections and --set overrides
// applied through the key table, every problem collected before one Error is thrown.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <fstream>
#include <iterator>
#include <map>
#include <yaml-cpp/yaml.h>

#include "kernels/common.h"
#include "launcher/config.h"
#include "launcher/config_keys.h"
#include "launcher/config_problems.h"
#include "launcher/config_value.h"

namespace qforge::launcher {

namespace {

// "origin:line" (yaml-cpp counts lines from 0); just "origin" where the node has no position.
std::string where(std::string_view origin, const YAML::Mark& mark) {
    return mark.is_null() ? std::string(origin) : fmt::format("{}:{}", origin, mark.line + 1);
}

std::string keys_of_section(std::string_view section) {
    std::vector<std::string_view> keys;
    for (const auto& k : config_keys()) {
        if (k.section() == section) {
            keys.push_back(k.key());
        }
    }
    return fmt::format("{}", fmt::join(keys, ", "));
}

std::string unknown_key_message(std::string_view name) {
    if (const auto guess = closest_config_key(name)) {
        return fmt::format("unknown key \"{}\" (did you mean \"{}\"?)", name, *guess);
    }
    const std::string_view section = name.substr(0, name.find('.'));
    for (const auto s : config_sections()) {
        if (s == section) {
            return fmt::format("unknown key \"{}\" (keys of {}: {})", name, section,
                               keys_of_section(section));
        }
    }
    return fmt::format("unknown key \"{}\" (sections: {})", name,
                       fmt::join(config_sections(), ", "));
}

std::string unknown_section_message(std::string_view name) {
    if (const auto guess = closest_config_section(name)) {
        return fmt::format("unknown section \"{}\" (did you mean \"{}\"?)", name, *guess);
    }
    return fmt::format("unknown section \"{}\" (sections: {})", name,
                       fmt::join(config_sections(), ", "));
}

// Applies one mapping `section: {key: value, ...}` of the file.
void apply_section(train::TrainConfig& config, std::string_view origin, std::string_view section,
                   const YAML::Node& body, std::vector<std::string>& problems) {
    if (body.IsNull()) {
        return;
    }
    if (!body.IsMap()) {
        problems.push_back(fmt::format("{}: section \"{}\": expected a mapping of keys, got {}",
                                       where(origin, body.Mark()), section,
                                       describe_yaml_node(body)));
        return;
    }
    std::map<std::string, int> first_line;
    for (const auto& item : body) {
        const std::string at = where(origin, item.first.Mark());
        if (!item.first.IsScalar()) {
            problems.push_back(fmt::format("{}: expected a key name in section \"{}\", got {}", at,
                                           section, describe_yaml_node(item.first)));
            continue;
        }
        const std::string name = fmt::format("{}.{}", section, item.first.Scalar());
        const ConfigKey* key = find_config_key(name);
        if (key == nullptr) {
            problems.push_back(fmt::format("{}: {}", at, unknown_key_message(name)));
            continue;
        }
        const int line = item.first.Mark().line + 1;
        if (const auto [it, fresh] = first_line.emplace(name, line); !fresh) {
            problems.push_back(fmt::format("{}: duplicate key \"{}\" (first given on line {})", at,
                                           name, it->second));
            continue;
        }
        try {
            assign_config_value(*key, config, item.second);
        } catch (const Error& e) {
            // A missing value's mark points past it, at the next key; the key's line reads better.
            const bool has_value = item.second.IsDefined() && !item.second.IsNull();
            const YAML::Mark mark = has_value ? item.second.Mark() : item.first.Mark();
            problems.push_back(fmt::format("{}: {}", where(origin, mark), e.what()));
        }
    }
}

void apply_document(train::TrainConfig& config, std::string_view origin, const YAML::Node& root,
                    std::vector<std::string>& problems) {
    if (root.IsNull()) {
        return;  // an empty file: every key keeps its default
    }
    if (!root.IsMap()) {
        problems.push_back(fmt::format(
            "{}: expected a mapping of sections ({}), got {}", where(origin, root.Mark()),
            fmt::join(config_sections(), ", "), describe_yaml_node(root)));
        return;
    }
    std::map<std::string, int> first_line;
    for (const auto& item : root) {
        const std::string at = where(origin, item.first.Mark());
        const std::string section = item.first.IsScalar() ? item.first.Scalar() : "";
        if (std::find(config_sections().begin(), config_sections().end(), section) ==
            config_sections().end()) {
            problems.push_back(fmt::format(
                "{}: {}", at,
                item.first.IsScalar()
                    ? unknown_section_message(section)
                    : "expected a section name, got " + describe_yaml_node(item.first)));
            continue;
        }
        const int line = item.first.Mark().line + 1;
        if (const auto [it, fresh] = first_line.emplace(section, line); !fresh) {
            problems.push_back(fmt::format("{}: duplicate section \"{}\" (first given on line {})",
                                           at, section, it->second));
            continue;
        }
        apply_section(config, origin, section, item.second, problems);
    }
}

std::string_view trim(std::string_view s) {
    const auto begin = s.find_first_not_of(" \t");
    if (begin == std::string_view::npos) {
        return {};
    }
    return s.substr(begin, s.find_last_not_of(" \t") - begin + 1);
}

// Applies one "section.key=value"; the value is a YAML document of its own.
void apply_override(train::TrainConfig& config, const std::string& raw,
                    std::vector<std::string>& problems) {
    const std::string at = fmt::format("--set {}", raw);
    const auto eq = raw.find('=');
    if (eq == std::string::npos) {
        problems.push_back(
            fmt::format("{}: expected section.key=value (e.g. --set lora.r=16)", at));
        return;
    }
    const std::string_view name = trim(std::string_view(raw).substr(0, eq));
    const ConfigKey* key = find_config_key(name);
    if (key == nullptr) {
        problems.push_back(fmt::format("{}: {}", at, unknown_key_message(name)));
        return;
    }
    YAML::Node value;
    try {
        value = YAML::Load(raw.substr(eq + 1));
    } catch (const YAML::Exception& e) {
        problems.push_back(fmt::format("{}: malformed value: {}", at, e.msg));
        return;
    }
    try {
        assign_config_value(*key, config, value);
    } catch (const Error& e) {
        problems.push_back(fmt::format("{}: {}", at, e.what()));
    }
}

}  // namespace

train::TrainConfig parse_train_config(std::string_view yaml_text, std::string_view origin,
                                      const std::vector<std::string>& overrides) {
    train::TrainConfig config;
    std::vector<std::string> problems;
    try {
        const std::vector<YAML::Node> documents = YAML::LoadAll(std::string(yaml_text));
        if (documents.size() > 1) {
            throw Error(fmt::format("{}: holds {} YAML documents (separated by ---), expected one",
                                    origin, documents.size()));
        }
        apply_document(config, origin, documents.empty() ? YAML::Node() : documents[0], problems);
    } catch (const YAML::Exception& e) {
        // Nothing of a malformed file is applied; its one message is enough.
        const std::string at =
            e.mark.is_null() ? std::string(origin)
                             : fmt::format("{}:{}:{}", origin, e.mark.line + 1, e.mark.column + 1);
        throw Error(fmt::format("{}: malformed YAML: {}", at, e.msg));
    }
    for (const auto& raw : overrides) {
        apply_override(config, raw, problems);
    }
    throw_config_problems(problems, "");
    return config;
}

train::TrainConfig load_train_config(const std::filesystem::path& yaml_path,
                                     const std::vector<std::string>& overrides) {
    std::error_code ec;
    if (!std::filesystem::exists(yaml_path, ec)) {
        throw Error(fmt::format("{}: config file not found", yaml_path.string()));
    }
    if (std::filesystem::is_directory(yaml_path, ec)) {
        throw Error(
            fmt::format("{}: is a directory, expected a YAML config file", yaml_path.string()));
    }
    std::ifstream in(yaml_path, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.is_open() || in.bad()) {
        throw Error(fmt::format("{}: cannot read config file ({})", yaml_path.string(),
                                std::strerror(errno)));
    }
    return parse_train_config(text, yaml_path.string(), overrides);
}

}  // namespace qforge::launcher
