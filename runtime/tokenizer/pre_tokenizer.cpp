// What is here: runtime/tokenizer/pre_tokenizer.h.
#include "runtime/tokenizer/pre_tokenizer.h"

#include <algorithm>
#include <utility>

#include "kernels/common.h"
#include "runtime/tokenizer/byte_level.h"
#include "runtime/tokenizer/utf8.h"

namespace qforge::tokenizer {

namespace {

// The regex ByteLevel applies when use_regex is true (GPT-2's encoder.py pattern).
const Regex& gpt2_regex() {
    static const Regex re(
        R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)",
        JsonWhere{"<built-in>", "GPT-2 ByteLevel regex"});
    return re;
}

SplitBehavior parse_behavior(const Json& j, const JsonWhere& where) {
    const std::string b = where.get_string(j, "behavior");
    if (b == "Removed") {
        return SplitBehavior::kRemoved;
    }
    if (b == "Isolated") {
        return SplitBehavior::kIsolated;
    }
    if (b == "MergedWithPrevious") {
        return SplitBehavior::kMergedWithPrevious;
    }
    if (b == "MergedWithNext") {
        return SplitBehavior::kMergedWithNext;
    }
    if (b == "Contiguous") {
        return SplitBehavior::kContiguous;
    }
    where.at("behavior")
        .fail(fmt::format(
            "\"{}\" is not a split behavior (expected Removed, Isolated, MergedWithPrevious, "
            "MergedWithNext or Contiguous)",
            b));
}

void push_pieces(const std::string& text, const std::vector<Span>& spans, bool at_origin,
                 std::vector<PreSplit>& out) {
    for (const auto& [b, e] : spans) {
        if (e > b) {
            out.push_back({text.substr(b, e - b), at_origin && b == 0});
        }
    }
}

}  // namespace

PrependScheme metaspace_prepend_scheme(const Json& j, const JsonWhere& where) {
    if (const auto scheme = where.get_opt_string(j, "prepend_scheme")) {
        if (*scheme == "always") {
            return PrependScheme::kAlways;
        }
        if (*scheme == "first") {
            return PrependScheme::kFirst;
        }
        if (*scheme == "never") {
            return PrependScheme::kNever;
        }
        where.at("prepend_scheme")
            .fail(
                fmt::format("\"{}\" is not supported (expected always, first or never)", *scheme));
    }
    return where.get_bool(j, "add_prefix_space", true) ? PrependScheme::kAlways
                                                       : PrependScheme::kNever;
}

std::vector<Span> split_on_matches(std::string_view text, const std::vector<Span>& matches,
                                   SplitBehavior behavior, bool invert) {
    // The pieces covering `text`, each flagged as a match or not (HF Pattern::find_matches).
    std::vector<std::pair<Span, bool>> parts;
    if (text.empty()) {
        parts.push_back({{0, 0}, false});
    } else {
        std::size_t prev = 0;
        for (const auto& [b, e] : matches) {
            if (prev != b) {
                parts.push_back({{prev, b}, false});
            }
            parts.push_back({{b, e}, true});
            prev = e;
        }
        if (prev != text.size()) {
            parts.push_back({{prev, text.size()}, false});
        }
    }
    if (invert) {
        for (auto& p : parts) {
            p.second = !p.second;
        }
    }

    std::vector<Span> out;
    bool prev_match = false;
    switch (behavior) {
        case SplitBehavior::kIsolated:
            for (const auto& p : parts) {
                out.push_back(p.first);
            }
            break;
        case SplitBehavior::kRemoved:
            for (const auto& p : parts) {
                if (!p.second) {
                    out.push_back(p.first);
                }
            }
            break;
        case SplitBehavior::kContiguous:
            for (const auto& [span, is_match] : parts) {
                if (is_match == prev_match && !out.empty()) {
                    out.back().second = span.second;
                } else {
                    out.push_back(span);
                }
                prev_match = is_match;
            }
            break;
        case SplitBehavior::kMergedWithPrevious:
            for (const auto& [span, is_match] : parts) {
                if (is_match && !prev_match && !out.empty()) {
                    out.back().second = span.second;
                } else {
                    out.push_back(span);
                }
                prev_match = is_match;
            }
            break;
        case SplitBehavior::kMergedWithNext:
            for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
                const auto& [span, is_match] = *it;
                if (is_match && !prev_match && !out.empty()) {
                    out.back().first = span.first;
                } else {
                    out.push_back(span);
                }
                prev_match = is_match;
            }
            std::reverse(out.begin(), out.end());
            break;
    }
    return out;
}

PreTokenizer PreTokenizer::from_json(const Json& j, const JsonWhere& where) {
    PreTokenizer p;
    if (!j.is_null()) {
        p.add(j, where);
    }
    return p;
}

void PreTokenizer::add(const Json& j, const JsonWhere& where) {
    using Kind = PreTokenizerStep::Kind;
    const std::string type = where.get_type(j);
    if (type == "Sequence") {
        const Json& list = where.get_array(j, "pretokenizers");
        for (std::size_t i = 0; i < list.size(); ++i) {
            add(list[i], where.at("pretokenizers").at(i));
        }
    } else if (type == "Split") {
        PreTokenizerStep step{Kind::kSplit,
                              regex_from_json(where.get(j, "pattern"), where.at("pattern"))};
        step.behavior = parse_behavior(j, where);
        step.invert = where.get_bool(j, "invert", false);
        steps_.push_back(std::move(step));
    } else if (type == "ByteLevel") {
        PreTokenizerStep step{Kind::kByteLevel, std::nullopt};
        step.add_prefix_space = where.get_bool(j, "add_prefix_space", true);
        step.use_regex = where.get_bool(j, "use_regex", true);
        steps_.push_back(std::move(step));
    } else if (type == "Metaspace") {
        PreTokenizerStep step{Kind::kMetaspace, std::nullopt};
        step.replacement = where.get_char(j, "replacement");
        step.prepend_scheme = metaspace_prepend_scheme(j, where);
        step.split = where.get_bool(j, "split", true);
        steps_.push_back(std::move(step));
    } else {
        where.at("type").fail(fmt::format(
            "\"{}\" is not supported (expected Sequence, Split, ByteLevel or Metaspace)", type));
    }
}

void PreTokenizer::pre_tokenize(PreSplit piece, std::vector<std::string>& out) const {
    using Kind = PreTokenizerStep::Kind;
    std::vector<PreSplit> cur, next;
    cur.push_back(std::move(piece));
    for (const PreTokenizerStep& step : steps_) {
        next.clear();
        for (PreSplit& p : cur) {
            switch (step.kind) {
                case Kind::kSplit:
                    push_pieces(p.text,
                                split_on_matches(p.text, step.pattern->find_all(p.text),
                                                 step.behavior, step.invert),
                                p.at_origin, next);
                    break;
                case Kind::kByteLevel: {
                    std::string text = std::move(p.text);
                    if (step.add_prefix_space && !text.empty() && text[0] != ' ') {
                        text.insert(text.begin(), ' ');
                    }
                    std::vector<Span> spans{{0, text.size()}};
                    if (step.use_regex) {
                        spans = split_on_matches(text, gpt2_regex().find_all(text),
                                                 SplitBehavior::kIsolated, false);
                    }
                    for (const auto& [b, e] : spans) {
                        if (e > b) {
                            next.push_back(
                                {byte_level_encode(std::string_view(text).substr(b, e - b)),
                                 p.at_origin && b == 0});
                        }
                    }
                    break;
                }
                case Kind::kMetaspace: {
                    std::string text;
                    text.reserve(p.text.size() + 3);
                    for (char c : p.text) {
                        if (c == ' ') {
                            text += step.replacement;
                        } else {
                            text += c;
                        }
                    }
                    const bool starts =
                        text.compare(0, step.replacement.size(), step.replacement) == 0;
                    if (!starts &&
                        (step.prepend_scheme == PrependScheme::kAlways ||
                         (step.prepend_scheme == PrependScheme::kFirst && p.at_origin))) {
                        text = step.replacement + text;
                    }
                    if (!step.split) {
                        next.push_back({std::move(text), p.at_origin});
                        break;
                    }
                    std::vector<Span> matches;
                    for (std::size_t at = text.find(step.replacement); at != std::string::npos;
                         at = text.find(step.replacement, at + step.replacement.size())) {
                        matches.emplace_back(at, at + step.replacement.size());
                    }
                    push_pieces(
                        text,
                        split_on_matches(text, matches, SplitBehavior::kMergedWithNext, false),
                        p.at_origin, next);
                    break;
                }
            }
        }
        std::swap(cur, next);
    }
    for (PreSplit& p : cur) {
        if (!p.text.empty()) {
            out.push_back(std::move(p.text));
        }
    }
}

}  // namespace qforge::tokenizer
