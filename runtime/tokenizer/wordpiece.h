// What is here: WordPieceTokenizer, the BERT-family tokenizer (uncased or cased WordPiece with
// BertNormalizer, BertPreTokenizer and [CLS] $A [SEP]), loaded from tokenizer.json or from
// vocab.txt + tokenizer_config.json, exact against Hugging Face tokenizers.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "runtime/tokenizer/wordpiece_normalizer.h"

namespace qforge {

class WordPieceTokenizer {
public:
    // <dir>/tokenizer.json when it exists, else <dir>/vocab.txt (+ tokenizer_config.json).
    static WordPieceTokenizer load(const std::filesystem::path& dir);
    static WordPieceTokenizer from_tokenizer_json(const std::filesystem::path& file);
    // vocab.txt holds one token per line (id = line number); tokenizer_config.json, when
    // present beside it, gives do_lower_case, strip_accents, tokenize_chinese_chars and the
    // special token strings.
    static WordPieceTokenizer from_vocab_txt(const std::filesystem::path& vocab_txt);

    // [CLS] tokens [SEP]; when that would exceed max_length, the text's tokens are cut from the
    // right so the result has exactly max_length ids and still ends in [SEP].
    std::vector<int32_t> encode(std::string_view text, int64_t max_length = 512) const;
    // The text's tokens alone, no [CLS]/[SEP], no truncation.
    std::vector<int32_t> encode_plain(std::string_view text) const;

    int64_t vocab_size() const { return static_cast<int64_t>(id_to_token_.size()); }

    int32_t token_to_id(std::string_view token) const;  // -1 when absent
    const std::string& id_to_token(int32_t id) const;   // throws when out of range

    int32_t pad_id() const { return pad_id_; }

    int32_t unk_id() const { return unk_id_; }

    // The ids the post-processor puts before and after the text ([CLS] and [SEP] for BERT).
    const std::vector<int32_t>& prefix_ids() const { return prefix_ids_; }

    const std::vector<int32_t>& suffix_ids() const { return suffix_ids_; }

private:
    struct AddedToken {
        std::string content;
        int32_t id;
    };

    void add_token(std::string token, int32_t id, const std::string& where);
    void wordpiece(const std::string& word, std::vector<int32_t>& out) const;
    int32_t require_id(const std::string& token, const std::string& where) const;

    std::unordered_map<std::string, int32_t> vocab_;
    std::vector<std::string> id_to_token_;
    std::vector<AddedToken> added_;  // split out of the raw text before normalization
    tokenizer::BertNormalizerOptions normalizer_;
    bool normalize_ = true;
    std::string continuing_prefix_ = "##";
    int64_t max_input_chars_per_word_ = 100;
    int32_t unk_id_ = -1, pad_id_ = 0;
    std::vector<int32_t> prefix_ids_, suffix_ids_;
};

}  // namespace qforge
