// What is here: TextStream (see text_stream.h). The whole reply is decoded again after each
// token (replies are short next to a forward step), so the text always equals what
// tokenizer.decode(context + tokens) prints after the context.
#include "serve/text_stream.h"

#include <algorithm>

namespace qforge::serve {

namespace {
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD: an incomplete sequence

bool starts_with(const std::string& s, const std::string& prefix) {
    return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}
}  // namespace

TextStream::TextStream(const Tokenizer& tokenizer, std::vector<std::string> stop,
                       std::vector<int32_t> context)
    : tokenizer_(tokenizer), stop_(std::move(stop)), context_(std::move(context)) {
    std::erase_if(stop_, [](const std::string& s) { return s.empty(); });
    context_text_ = tokenizer_.decode(context_, true);
}

std::string TextStream::decode_all() const {
    std::vector<int32_t> ids = context_;
    ids.insert(ids.end(), tokens_.begin(), tokens_.end());
    std::string full = tokenizer_.decode(ids, true);
    if (starts_with(full, context_text_)) {
        return full.substr(context_text_.size());
    }
    return tokenizer_.decode(tokens_, true);  // the context decodes differently on its own
}

TextStream::Step TextStream::push(int32_t token) {
    Step step;
    if (stopped_) {
        step.stopped = true;
        return step;
    }
    tokens_.push_back(token);
    std::string text = decode_all();
    step.piece = starts_with(text, text_) ? text.substr(text_.size()) : text;
    text_ = std::move(text);

    // The earliest stop string that now appears in the text past what was sent.
    std::size_t cut = std::string::npos;
    for (const auto& s : stop_) {
        const std::size_t from = sent_.size() >= s.size() ? sent_.size() - s.size() + 1 : 0;
        const std::size_t at = text_.find(s, from);
        cut = std::min(cut, at);
    }
    std::size_t safe = text_.size();
    if (cut != std::string::npos) {
        safe = cut;
        stopped_ = step.stopped = true;
    } else {
        // Hold back a tail that is a proper prefix of a stop string, and an incomplete char.
        for (const auto& s : stop_) {
            for (std::size_t n = std::min(s.size() - 1, text_.size()); n > 0; --n) {
                if (text_.compare(text_.size() - n, n, s, 0, n) == 0) {
                    safe = std::min(safe, text_.size() - n);
                    break;
                }
            }
        }
        while (safe >= kReplacement.size() &&
               std::string_view(text_).substr(safe - kReplacement.size(), kReplacement.size()) ==
                   kReplacement) {
            safe -= kReplacement.size();
        }
    }
    if (safe > sent_.size() && starts_with(text_, sent_)) {
        step.released = text_.substr(sent_.size(), safe - sent_.size());
        sent_ += step.released;
    }
    return step;
}

std::string TextStream::flush() {
    if (stopped_ || !starts_with(text_, sent_)) {
        return {};
    }
    std::string rest = text_.substr(sent_.size());
    sent_ = text_;
    return rest;
}

std::string token_piece(const Tokenizer& tokenizer, int32_t prev, int32_t id) {
    if (prev < 0) {
        return tokenizer.decode(std::vector<int32_t>{id}, false);
    }
    const std::string before = tokenizer.decode(std::vector<int32_t>{prev}, false);
    const std::string both = tokenizer.decode(std::vector<int32_t>{prev, id}, false);
    return starts_with(both, before) ? both.substr(before.size())
                                     : tokenizer.decode(std::vector<int32_t>{id}, false);
}

}  // namespace qforge::serve
