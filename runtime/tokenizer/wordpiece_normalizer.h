// What is here: the text side of a BERT WordPiece tokenizer, as Hugging Face tokenizers does it:
// BertNormalizer (clean_text, handle_chinese_chars, strip_accents, lowercase) and
// BertPreTokenizer (split on whitespace, every punctuation character a word of its own).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace qforge::tokenizer {

struct BertNormalizerOptions {
    bool clean_text = true;            // drop NUL, U+FFFD, control/format chars; whitespace -> ' '
    bool handle_chinese_chars = true;  // put spaces around CJK ideographs
    bool strip_accents = true;         // NFD, then drop nonspacing marks (Mn)
    bool lowercase = true;             // per-character full lowercase mapping
};

// UTF-8 in, UTF-8 out. Invalid UTF-8 bytes read as U+FFFD (so clean_text drops them).
std::string bert_normalize(std::string_view text, const BertNormalizerOptions& options);

// The words of `normalized` (UTF-8), in order.
std::vector<std::string> bert_pre_tokenize(std::string_view normalized);

}  // namespace qforge::tokenizer
