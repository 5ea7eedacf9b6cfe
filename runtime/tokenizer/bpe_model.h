// What is here: BpeModel, the tokenizer.json "model" of type BPE: vocab, merges applied by
// rank, byte_fallback (<0xXX> tokens), unk_token/fuse_unk, continuing_subword_prefix,
// end_of_word_suffix, ignore_merges, and a thread-safe word -> ids cache.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "runtime/tokenizer/json_where.h"

namespace qforge::tokenizer {

struct StringHash {
    using is_transparent = void;

    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// token -> id, looked up by string_view without a copy.
using TokenIds = std::unordered_map<std::string, std::int32_t, StringHash, std::equal_to<>>;

class BpeModel {
public:
    // `j` is the "model" value; `where` names it ("<file>: model").
    static BpeModel from_json(const Json& j, const JsonWhere& where);

    BpeModel();
    ~BpeModel();
    BpeModel(BpeModel&&) noexcept;
    BpeModel& operator=(BpeModel&&) noexcept;

    // Appends the ids of one pre-tokenized word (HF BPE::tokenize, without dropout).
    void tokenize(std::string_view word, std::vector<std::int32_t>& out) const;

    std::optional<std::int32_t> token_to_id(std::string_view token) const;
    // nullptr when no token has this id.
    const std::string* id_to_token(std::int32_t id) const;

    // The largest id in the vocab, or -1 when it is empty.
    std::int32_t max_id() const { return static_cast<std::int32_t>(id_to_token_.size()) - 1; }

private:
    struct Merge {
        std::uint32_t rank;
        std::int32_t new_id;
    };
    struct Cache;

    void merge_word(std::string_view word, std::vector<std::int32_t>& out) const;
    const Merge* find_merge(std::int32_t a, std::int32_t b) const;

    TokenIds vocab_;
    std::vector<std::string> id_to_token_;
    std::vector<bool> has_id_;
    std::unordered_map<std::uint64_t, Merge> merges_;  // (left id << 32 | right id) -> merge
    std::array<std::int32_t, 256> byte_ids_{};         // <0xXX> token ids, -1 when missing
    std::optional<std::string> unk_token_;
    std::string continuing_subword_prefix_;
    std::string end_of_word_suffix_;
    bool fuse_unk_ = false;
    bool byte_fallback_ = false;
    bool ignore_merges_ = false;
    std::string where_;  // "<file>: model", for the unk_token error at encode time
    std::unique_ptr<Cache> cache_;
};

}  // namespace qforge::tokenizer
