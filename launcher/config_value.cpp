// What is here: launcher/config_value.h, YAML node -> typed config member.
#include "launcher/config_value.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fmt/format.h>

#include "kernels/common.h"
#include "launcher/config_env.h"

namespace qforge::launcher {

namespace {

[[noreturn]] void fail_type(std::string_view where, std::string_view expected,
                            const YAML::Node& got) {
    throw Error(fmt::format("{}: expected {}, got {}", where, expected, describe_yaml_node(got)));
}

const std::string& scalar_of(std::string_view where, std::string_view expected,
                             const YAML::Node& node) {
    if (!node.IsScalar()) {
        fail_type(where, expected, node);
    }
    return node.Scalar();
}

// Parses all of `text` as T with std::from_chars (exact and locale-free); a leading '+' is
// allowed as YAML allows it. Non-finite floats are refused: no setting takes them.
template <typename T>
bool parse_number(std::string_view text, T& out) {
    const bool plus = text.starts_with('+');
    if (plus) {
        text.remove_prefix(1);
    }
    if (text.empty() || (plus && text.starts_with('-'))) {
        return false;
    }
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    if (ec != std::errc() || end != text.data() + text.size()) {
        return false;
    }
    if constexpr (std::is_floating_point_v<T>) {
        return std::isfinite(out);
    }
    return true;
}

template <typename T>
void assign_number(std::string_view where, std::string_view expected, const YAML::Node& node,
                   T* out) {
    T value{};
    if (!parse_number(scalar_of(where, expected, node), value)) {
        fail_type(where, expected, node);
    }
    *out = value;
}

void assign_bool(std::string_view where, const YAML::Node& node, bool* out) {
    constexpr std::string_view kExpected = "true or false";
    std::string text = scalar_of(where, kExpected, node);
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (text == "true" || text == "yes" || text == "on") {
        *out = true;
    } else if (text == "false" || text == "no" || text == "off") {
        *out = false;
    } else {
        fail_type(where, kExpected, node);
    }
}

std::string expanded_string(std::string_view where, const YAML::Node& node) {
    if (node.IsNull()) {
        return "";
    }
    const std::string& text = scalar_of(where, "a string", node);
    try {
        return expand_config_env(text);
    } catch (const Error& e) {
        throw Error(fmt::format("{}: {}", where, e.what()));
    }
}

void assign_list(std::string_view where, const YAML::Node& node, std::vector<std::string>* out) {
    std::vector<std::string> items;
    if (node.IsScalar()) {
        items.push_back(expanded_string(where, node));
    } else if (node.IsSequence()) {
        for (std::size_t i = 0; i < node.size(); ++i) {
            const std::string item_where = fmt::format("{}[{}]", where, i);
            if (!node[i].IsScalar()) {
                fail_type(item_where, "a string", node[i]);
            }
            items.push_back(expanded_string(item_where, node[i]));
        }
    } else if (!node.IsNull()) {
        fail_type(where, "a list of strings", node);
    }
    *out = std::move(items);
}

}  // namespace

std::string describe_yaml_node(const YAML::Node& node) {
    switch (node.Type()) {
        case YAML::NodeType::Scalar:
            return fmt::format("\"{}\"", node.Scalar());
        case YAML::NodeType::Sequence:
            return "a list";
        case YAML::NodeType::Map:
            return "a mapping";
        case YAML::NodeType::Null:
        case YAML::NodeType::Undefined:
            return "nothing";
    }
    return "nothing";
}

void assign_config_value(const ConfigKey& key, train::TrainConfig& config,
                         const YAML::Node& value) {
    const std::string_view where = key.name;

    struct Assign {
        std::string_view where;
        const YAML::Node& node;

        void operator()(int64_t* v) const { assign_number(where, "an integer", node, v); }

        void operator()(uint64_t* v) const {
            assign_number(where, "a non-negative integer", node, v);
        }

        void operator()(float* v) const { assign_number(where, "a number", node, v); }

        void operator()(double* v) const { assign_number(where, "a number", node, v); }

        void operator()(bool* v) const { assign_bool(where, node, v); }

        void operator()(std::string* v) const { *v = expanded_string(where, node); }

        void operator()(std::vector<std::string>* v) const { assign_list(where, node, v); }
    };

    std::visit(Assign{where, value}, config_field(key, config));
}

}  // namespace qforge::launcher
