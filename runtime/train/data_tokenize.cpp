// What is here: runtime/train/data_tokenize.h.
#include "runtime/train/data_tokenize.h"

#include <algorithm>
#include <cstddef>
#include <fmt/format.h>
#include <utility>

#include "kernels/common.h"
#include "runtime/tokenizer/tokenizer.h"

namespace qforge::train {

Example data_tokenize(const DataRendering& rendering, const Tokenizer& tokenizer,
                      bool responses_only, bool add_eos, std::string_view source) {
    // Adjacent pieces of the same kind form one span: (end offset in text, response?).
    std::string text;
    std::vector<std::pair<size_t, bool>> spans;
    for (const auto& piece : rendering.pieces) {
        text += piece.text;
        if (!spans.empty() && spans.back().second == piece.response) {
            spans.back().first = text.size();
        } else {
            spans.emplace_back(text.size(), piece.response);
        }
    }
    Example ex;
    ex.source = std::string(source);
    ex.tokens = tokenizer.encode(text, rendering.add_special_tokens);
    ex.target_mask.assign(ex.tokens.size(), 0);

    // Token index where each span ends, from the encoding of the text up to there.
    size_t start = 0, last_response_start = ex.tokens.size();
    for (size_t s = 0; s < spans.size(); ++s) {
        const auto [chars, response] = spans[s];
        size_t end = ex.tokens.size();
        if (s + 1 < spans.size()) {
            const auto prefix = tokenizer.encode(std::string_view(text).substr(0, chars),
                                                 rendering.add_special_tokens);
            const auto diverge =
                std::mismatch(prefix.begin(), prefix.end(), ex.tokens.begin(), ex.tokens.end());
            end = std::max(start, static_cast<size_t>(diverge.second - ex.tokens.begin()));
        }
        if (response) {
            std::fill(ex.target_mask.begin() + static_cast<std::ptrdiff_t>(start),
                      ex.target_mask.begin() + static_cast<std::ptrdiff_t>(end), uint8_t{1});
            last_response_start = start;
        }
        start = end;
    }
    if (!responses_only) {
        std::fill(ex.target_mask.begin(), ex.target_mask.end(), uint8_t{1});
    }

    if (add_eos) {
        const auto eos = tokenizer.eos_id();
        QF_CHECK(eos.has_value(), "add_eos is set but the tokenizer has no EOS token");
        // Chat templates often end a turn with EOS themselves (Llama 2 "</s>", ChatML
        // "<|im_end|>\n"): then the last response already teaches the model to stop.
        const bool has_eos =
            std::find(ex.tokens.begin() + static_cast<std::ptrdiff_t>(last_response_start),
                      ex.tokens.end(), *eos) != ex.tokens.end();
        if (!has_eos) {
            ex.tokens.push_back(*eos);
            ex.target_mask.push_back(1);
        }
    }
    // Token 0 is never predicted (nothing precedes it), so a target there does not count.
    const bool learnable =
        ex.target_mask.size() > 1 &&
        std::any_of(ex.target_mask.begin() + 1, ex.target_mask.end(), [](uint8_t m) { return m; });
    if (!learnable) {
        throw Error(fmt::format("{}: example has no response tokens to learn from", source));
    }
    return ex;
}

}  // namespace qforge::train
