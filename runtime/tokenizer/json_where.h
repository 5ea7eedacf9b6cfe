// What is here: JsonWhere, a (file, JSON path) pair that reads fields of tokenizer.json and
// tokenizer_config.json and turns every bad value into one qforge::Error naming both, e.g.
// `tokenizer.json: model.type "Unigram" is not supported (expected BPE)`.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace qforge::tokenizer {

using Json = nlohmann::json;

struct JsonWhere {
    std::string file;  // as the user gave it
    std::string path;  // "" for the document root, else e.g. "model.merges[3]"

    JsonWhere at(std::string_view key) const;
    JsonWhere at(std::size_t index) const;

    // Throws "<file>: <path> <what>" (or "<file>: <what>" at the root).
    [[noreturn]] void fail(std::string_view what) const;

    // obj[key], which must exist (null counts as present).
    const Json& get(const Json& obj, std::string_view key) const;
    // obj[key] as a string; missing or not a string -> Error.
    std::string get_string(const Json& obj, std::string_view key) const;
    // obj[key] as a string; missing or null -> nullopt; another type -> Error.
    std::optional<std::string> get_opt_string(const Json& obj, std::string_view key) const;
    // obj[key] as a bool; missing or null -> fallback; another type -> Error.
    bool get_bool(const Json& obj, std::string_view key, bool fallback) const;
    // obj[key] as an object; missing or another type -> Error.
    const Json& get_object(const Json& obj, std::string_view key) const;
    // obj[key] as an array; missing or another type -> Error.
    const Json& get_array(const Json& obj, std::string_view key) const;
    // obj[key] as a string of exactly one character (Metaspace replacement, Strip content).
    std::string get_char(const Json& obj, std::string_view key) const;
    // The "type" field of a component (normalizer, pre_tokenizer, model, decoder, ...).
    std::string get_type(const Json& obj) const;
};

// Parses `text` as JSON; a syntax error names the file and the byte offset.
Json json_parse(std::string_view text, const std::string& file);

}  // namespace qforge::tokenizer
