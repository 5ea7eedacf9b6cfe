// What is here: runtime/tokenizer/json_where.h.
#include "runtime/tokenizer/json_where.h"

#include "kernels/common.h"
#include "runtime/tokenizer/utf8.h"

namespace qforge::tokenizer {

JsonWhere JsonWhere::at(std::string_view key) const {
    return {file, path.empty() ? std::string(key) : path + "." + std::string(key)};
}

JsonWhere JsonWhere::at(std::size_t index) const {
    return {file, path + "[" + std::to_string(index) + "]"};
}

void JsonWhere::fail(std::string_view what) const {
    if (path.empty()) {
        QF_FAIL("{}: {}", file, what);
    }
    QF_FAIL("{}: {} {}", file, path, what);
}

const Json& JsonWhere::get(const Json& obj, std::string_view key) const {
    if (!obj.is_object()) {
        fail("should be a JSON object");
    }
    const auto it = obj.find(key);
    if (it == obj.end()) {
        at(key).fail("is missing");
    }
    return *it;
}

std::string JsonWhere::get_string(const Json& obj, std::string_view key) const {
    const Json& v = get(obj, key);
    if (!v.is_string()) {
        at(key).fail(fmt::format("should be a string, got {}", v.type_name()));
    }
    return v.get<std::string>();
}

std::optional<std::string> JsonWhere::get_opt_string(const Json& obj, std::string_view key) const {
    if (!obj.is_object()) {
        fail("should be a JSON object");
    }
    const auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) {
        return std::nullopt;
    }
    if (!it->is_string()) {
        at(key).fail(fmt::format("should be a string or null, got {}", it->type_name()));
    }
    return it->get<std::string>();
}

bool JsonWhere::get_bool(const Json& obj, std::string_view key, bool fallback) const {
    if (!obj.is_object()) {
        fail("should be a JSON object");
    }
    const auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) {
        return fallback;
    }
    if (!it->is_boolean()) {
        at(key).fail(fmt::format("should be true or false, got {}", it->type_name()));
    }
    return it->get<bool>();
}

const Json& JsonWhere::get_object(const Json& obj, std::string_view key) const {
    const Json& v = get(obj, key);
    if (!v.is_object()) {
        at(key).fail(fmt::format("should be a JSON object, got {}", v.type_name()));
    }
    return v;
}

const Json& JsonWhere::get_array(const Json& obj, std::string_view key) const {
    const Json& v = get(obj, key);
    if (!v.is_array()) {
        at(key).fail(fmt::format("should be a JSON array, got {}", v.type_name()));
    }
    return v;
}

std::string JsonWhere::get_char(const Json& obj, std::string_view key) const {
    const std::string s = get_string(obj, key);
    std::size_t i = 0;
    if (s.empty() || utf8_find_invalid(s) != std::string::npos ||
        (utf8_next(s, i), i != s.size())) {
        at(key).fail(fmt::format("should be one character, got \"{}\"", s));
    }
    return s;
}

std::string JsonWhere::get_type(const Json& obj) const {
    if (!obj.is_object()) {
        fail(fmt::format("should be a JSON object with a \"type\", got {}", obj.type_name()));
    }
    return get_string(obj, "type");
}

Json json_parse(std::string_view text, const std::string& file) {
    try {
        return Json::parse(text.begin(), text.end());
    } catch (const nlohmann::json::parse_error& e) {
        QF_FAIL("{}: not valid JSON (byte {}): {}", file, e.byte, e.what());
    }
}

}  // namespace qforge::tokenizer
