// What is here: AddedVocab, the tokenizer.json "added_tokens": special and added tokens that
// are cut out of the input before the model sees it (leftmost-longest match, with HF's
// lstrip/rstrip/single_word/normalized rules), and the id <-> content lookups decode needs.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "runtime/tokenizer/bpe_model.h"
#include "runtime/tokenizer/json_where.h"
#include "runtime/tokenizer/normalizer.h"

namespace qforge::tokenizer {

struct AddedToken {
    std::string content;
    std::int32_t id = -1;
    bool special = false;
    bool lstrip = false;
    bool rstrip = false;
    bool single_word = false;
    bool normalized = false;
};

// A piece of the input: text still to pre-tokenize (id < 0), or one added token's id.
struct Piece {
    std::string text;
    std::int32_t id = -1;
    bool at_origin = false;  // starts at offset 0 of the original input
};

class AddedVocab {
public:
    // `j` is the "added_tokens" array. An id comes from the model vocab when the content is
    // there (as HF does), else from the JSON. Normalized tokens match their normalized form.
    static AddedVocab from_json(const Json& j, const JsonWhere& where, const BpeModel& model,
                                const Normalizer& normalizer);

    // HF AddedVocabulary::extract_and_normalize: cut non-normalized tokens out of the raw
    // text, normalize what is left piece by piece, then cut the normalized tokens out of that.
    std::vector<Piece> extract_and_normalize(std::string_view text,
                                             const Normalizer& normalizer) const;

    const AddedToken* by_id(std::int32_t id) const;
    const AddedToken* by_content(std::string_view content) const;
    bool is_special_content(std::string_view content) const;

    std::int32_t max_id() const { return max_id_; }

private:
    // Patterns of one matching set, bucketed by first byte, longest first.
    struct MatchSet {
        std::vector<std::string> patterns;
        std::vector<std::size_t> token;  // index into tokens_
        std::array<std::vector<std::size_t>, 256> by_first_byte;
        void add(std::string pattern, std::size_t token_index);
    };

    void split(std::string_view text, const MatchSet& set, bool at_origin,
               std::vector<Piece>& out) const;

    std::vector<AddedToken> tokens_;
    std::unordered_map<std::int32_t, std::size_t> by_id_;
    TokenIds by_content_;  // content -> index into tokens_
    MatchSet raw_set_;
    MatchSet normalized_set_;
    std::int32_t max_id_ = -1;
};

}  // namespace qforge::tokenizer
