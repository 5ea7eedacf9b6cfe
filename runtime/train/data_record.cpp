// What is here: runtime/train/data_record.h.
#include "runtime/train/data_record.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "kernels/common.h"

namespace qforge::train {
namespace {

using nlohmann::json;

// Line errors carry only "file:line: problem": the user fixes their data, not our code.
template <typename... Args>
[[noreturn]] void fail_line(std::string_view source, fmt::format_string<Args...> format,
                            Args&&... args) {
    throw Error(fmt::format("{}: {}", source, fmt::format(format, std::forward<Args>(args)...)));
}

std::string_view json_type_name(const json& value) {
    return value.type_name();
}

std::string key_list(const json& object) {
    std::string keys;
    for (const auto& [key, value] : object.items()) {
        keys += keys.empty() ? "" : ", ";
        keys += '"' + key + '"';
    }
    return keys.empty() ? "none" : keys;
}

// A required string field; `what` names the record kind for the message.
std::string required_string(const json& object, const char* key, std::string_view what,
                            std::string_view source) {
    auto it = object.find(key);
    if (it == object.end()) {
        fail_line(source, "{} record has no \"{}\" string (keys: {})", what, key, key_list(object));
    }
    if (!it->is_string()) {
        fail_line(source, "{} record field \"{}\" is {} (expected a string)", what, key,
                  json_type_name(*it));
    }
    return it->get<std::string>();
}

DataRecord parse_alpaca(const json& object, std::string_view source) {
    DataRecord record;
    record.format = DataFormat::kAlpaca;
    record.instruction = required_string(object, "instruction", "alpaca", source);
    if (object.contains("input") && !object["input"].is_null()) {
        record.input = required_string(object, "input", "alpaca", source);
    }
    record.output = required_string(object, "output", "alpaca", source);
    if (record.instruction.empty()) {
        fail_line(source, "alpaca record has an empty \"instruction\"");
    }
    return record;
}

DataRecord parse_chat(const json& object, std::string_view source) {
    DataRecord record;
    record.format = DataFormat::kChat;
    auto it = object.find("messages");
    if (it == object.end()) {
        fail_line(source, "chat record has no \"messages\" array (keys: {})", key_list(object));
    }
    if (!it->is_array()) {
        fail_line(source, "chat record field \"messages\" is {} (expected an array)",
                  json_type_name(*it));
    }
    if (it->empty()) {
        fail_line(source, "chat record has an empty \"messages\" array");
    }
    int index = 0;
    for (const json& message : *it) {
        ++index;  // 1-based, as people count turns
        if (!message.is_object()) {
            fail_line(source, "chat message {} is {} (expected an object with role and content)",
                      index, json_type_name(message));
        }
        auto role = message.find("role");
        auto content = message.find("content");
        if (role == message.end() || !role->is_string()) {
            fail_line(source, "chat message {} has no \"role\" string", index);
        }
        if (content == message.end() || !content->is_string()) {
            fail_line(source, "chat message {} has no \"content\" string", index);
        }
        const auto name = role->get<std::string>();
        if (name != "system" && name != "user" && name != "assistant") {
            fail_line(source,
                      "chat message {} has role \"{}\" (expected system, user or assistant)", index,
                      name);
        }
        record.messages.push_back({name, content->get<std::string>()});
    }
    if (record.messages.back().role != "assistant") {
        fail_line(source,
                  "chat record ends with a \"{}\" message (expected the last message to be the "
                  "assistant's response)",
                  record.messages.back().role);
    }
    return record;
}

DataRecord parse_text(const json& object, std::string_view source) {
    DataRecord record;
    record.format = DataFormat::kText;
    record.text = required_string(object, "text", "text", source);
    if (record.text.empty()) {
        fail_line(source, "text record has an empty \"text\"");
    }
    return record;
}

// nlohmann's message, minus its "[json.exception.parse_error.101] " tag and "line 1, " (our
// line number is the file's), and minus the echo of the bytes read when they are not UTF-8
// (the message must stay printable).
std::string short_json_error(std::string_view what) {
    if (auto pos = what.find("] "); pos != std::string_view::npos && what.front() == '[') {
        what.remove_prefix(pos + 2);
    }
    std::string message(what);
    if (auto pos = message.find("at line 1, column "); pos != std::string::npos) {
        message.erase(pos + 3, 8);
    }
    if (message.find("ill-formed UTF-8") != std::string::npos) {
        if (auto pos = message.find("; last read:"); pos != std::string::npos) {
            message.erase(pos);
        }
    }
    return message;
}

}  // namespace

DataRecord data_record_parse(std::string_view line, DataFormat format, std::string_view source) {
    json object;
    try {
        object = json::parse(line);
    } catch (const json::exception& e) {
        fail_line(source, "invalid JSON ({})", short_json_error(e.what()));
    }
    if (!object.is_object()) {
        fail_line(source, "expected a JSON object, got {}", json_type_name(object));
    }
    switch (format) {
        case DataFormat::kAlpaca:
            return parse_alpaca(object, source);
        case DataFormat::kChat:
            return parse_chat(object, source);
        case DataFormat::kText:
            return parse_text(object, source);
        case DataFormat::kAuto:
            break;
    }
    if (object.contains("messages")) {
        return parse_chat(object, source);
    }
    if (object.contains("instruction") || object.contains("output")) {
        return parse_alpaca(object, source);
    }
    if (object.contains("text")) {
        return parse_text(object, source);
    }
    fail_line(source,
              "record matches no format (keys: {}; expected \"messages\" for chat, "
              "\"instruction\"/\"input\"/\"output\" for alpaca, or \"text\")",
              key_list(object));
}

}  // namespace qforge::train
