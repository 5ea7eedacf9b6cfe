// What is here: runtime/tokenizer/added_vocab.h.
#include "runtime/tokenizer/added_vocab.h"

#include <algorithm>

#include "kernels/common.h"
#include "runtime/tokenizer/utf8.h"

namespace qforge::tokenizer {

namespace {

bool ends_with_word(std::string_view s) {
    if (s.empty()) {
        return false;
    }
    std::size_t start = s.size() - 1;
    while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) {
        --start;
    }
    return is_word_char(utf8_next(s, start));
}

bool starts_with_word(std::string_view s) {
    std::size_t i = 0;
    return !s.empty() && is_word_char(utf8_next(s, i));
}

// Where the run of whitespace that ends `s` begins (regex \s*$).
std::size_t trailing_space_start(std::string_view s) {
    std::size_t end = s.size();
    while (end > 0) {
        std::size_t start = end - 1;
        while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) {
            --start;
        }
        std::size_t i = start;
        if (!is_unicode_whitespace(utf8_next(s, i))) {
            break;
        }
        end = start;
    }
    return end;
}

// Length of the run of whitespace that starts `s` (regex ^\s*).
std::size_t leading_space_len(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        std::size_t next = i;
        if (!is_unicode_whitespace(utf8_next(s, next))) {
            break;
        }
        i = next;
    }
    return i;
}

}  // namespace

void AddedVocab::MatchSet::add(std::string pattern, std::size_t token_index) {
    if (pattern.empty()) {
        return;
    }
    auto& bucket = by_first_byte[static_cast<unsigned char>(pattern[0])];
    patterns.push_back(std::move(pattern));
    token.push_back(token_index);
    bucket.push_back(patterns.size() - 1);
    std::stable_sort(bucket.begin(), bucket.end(), [&](std::size_t a, std::size_t b) {
        return patterns[a].size() > patterns[b].size();
    });
}

AddedVocab AddedVocab::from_json(const Json& j, const JsonWhere& where, const BpeModel& model,
                                 const Normalizer& normalizer) {
    AddedVocab v;
    if (j.is_null()) {
        return v;
    }
    if (!j.is_array()) {
        where.fail(fmt::format("should be a JSON array, got {}", j.type_name()));
    }
    for (std::size_t i = 0; i < j.size(); ++i) {
        const JsonWhere at = where.at(i);
        AddedToken t;
        t.content = at.get_string(j[i], "content");
        const Json& id = at.get(j[i], "id");
        if (!id.is_number_integer() || id.get<std::int64_t>() < 0) {
            at.at("id").fail(fmt::format("should be a token id >= 0, got {}", id.dump()));
        }
        t.id = id.get<std::int32_t>();
        t.special = at.get_bool(j[i], "special", false);
        t.lstrip = at.get_bool(j[i], "lstrip", false);
        t.rstrip = at.get_bool(j[i], "rstrip", false);
        t.single_word = at.get_bool(j[i], "single_word", false);
        t.normalized = at.get_bool(j[i], "normalized", !t.special);
        if (utf8_find_invalid(t.content) != std::string::npos) {
            at.at("content").fail("is not valid UTF-8");
        }
        if (t.content.empty() || v.by_content_.count(t.content) != 0) {
            continue;  // HF ignores empty and repeated contents
        }
        if (const auto model_id = model.token_to_id(t.content)) {
            t.id = *model_id;
        }
        v.by_content_.emplace(t.content, v.tokens_.size());
        v.by_id_[t.id] = v.tokens_.size();
        v.max_id_ = std::max(v.max_id_, t.id);
        v.tokens_.push_back(std::move(t));
    }
    // HF matches special tokens first, then the others; with leftmost-longest matching the
    // order only decides between identical patterns.
    for (int pass = 0; pass < 2; ++pass) {
        for (std::size_t k = 0; k < v.tokens_.size(); ++k) {
            const AddedToken& t = v.tokens_[k];
            if (t.special != (pass == 0)) {
                continue;
            }
            if (t.normalized) {
                v.normalized_set_.add(normalizer.normalize(t.content), k);
            } else {
                v.raw_set_.add(t.content, k);
            }
        }
    }
    return v;
}

void AddedVocab::split(std::string_view text, const MatchSet& set, bool at_origin,
                       std::vector<Piece>& out) const {
    auto emit = [&](std::size_t b, std::size_t e, std::int32_t id) {
        if (e > b) {
            out.push_back({std::string(text.substr(b, e - b)), id, at_origin && b == 0});
        }
    };
    std::size_t start_offset = 0;
    std::size_t pos = 0;
    while (pos < text.size() && !set.patterns.empty()) {
        const auto& bucket = set.by_first_byte[static_cast<unsigned char>(text[pos])];
        std::size_t found = set.patterns.size();
        for (std::size_t p : bucket) {
            if (text.compare(pos, set.patterns[p].size(), set.patterns[p]) == 0) {
                found = p;
                break;
            }
        }
        if (found == set.patterns.size()) {
            ++pos;
            continue;
        }
        const AddedToken& tok = tokens_[set.token[found]];
        std::size_t start = pos;
        std::size_t stop = pos + set.patterns[found].size();
        pos = stop;  // the matcher resumes after the match, whatever lstrip/rstrip do below
        if (tok.single_word) {
            const bool start_space = start == 0 || !ends_with_word(text.substr(0, start));
            const bool stop_space = stop == text.size() || !starts_with_word(text.substr(stop));
            if (!start_space || !stop_space) {
                continue;
            }
        }
        if (tok.lstrip) {
            start = std::max(trailing_space_start(text.substr(0, start)), start_offset);
        }
        if (tok.rstrip) {
            stop += leading_space_len(text.substr(stop));
        }
        if (start_offset < start) {
            emit(start_offset, start, -1);
        }
        out.push_back(
            {std::string(text.substr(start, stop - start)), tok.id, at_origin && start == 0});
        start_offset = stop;
    }
    if (start_offset < text.size()) {
        emit(start_offset, text.size(), -1);
    }
}

std::vector<Piece> AddedVocab::extract_and_normalize(std::string_view text,
                                                     const Normalizer& normalizer) const {
    std::vector<Piece> raw;
    split(text, raw_set_, true, raw);
    if (normalizer.empty() && normalized_set_.patterns.empty()) {
        return raw;
    }
    std::vector<Piece> out;
    for (Piece& p : raw) {
        if (p.id >= 0) {
            out.push_back(std::move(p));
        } else {
            split(normalizer.normalize(p.text), normalized_set_, p.at_origin, out);
        }
    }
    return out;
}

const AddedToken* AddedVocab::by_id(std::int32_t id) const {
    const auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

const AddedToken* AddedVocab::by_content(std::string_view content) const {
    const auto it = by_content_.find(content);
    return it == by_content_.end() ? nullptr : &tokens_[static_cast<std::size_t>(it->second)];
}

bool AddedVocab::is_special_content(std::string_view content) const {
    const AddedToken* t = by_content(content);
    return t != nullptr && t->special;
}

}  // namespace qforge::tokenizer
