// What is here: TextStream, the detokenizer of one generated sequence: it turns tokens into
// the text a client sees, finds stop strings (cutting the text before them), and holds back
// what must not be sent yet: a tail that may still become a stop string, or an incomplete
// UTF-8 character (a byte-fallback token waiting for its continuation).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/tokenizer/tokenizer.h"

namespace qforge::serve {

class TextStream {
public:
    // `context` is the end of the prompt: generated text is decoded after it, so a leading
    // space (SentencePiece's "▁") survives as it does when the prompt and reply are decoded
    // together.
    TextStream(const Tokenizer& tokenizer, std::vector<std::string> stop,
               std::vector<int32_t> context);

    struct Step {
        std::string piece;     // the text this token added (for logprobs)
        std::string released;  // text that may now be sent
        bool stopped = false;  // a stop string was found; nothing after it is ever sent
    };

    Step push(int32_t token);

    // At the end (length, EOS): whatever was held back and is not past a stop string.
    std::string flush();

    const std::string& sent() const { return sent_; }

private:
    std::string decode_all() const;

    const Tokenizer& tokenizer_;
    std::vector<std::string> stop_;
    std::vector<int32_t> context_, tokens_;
    std::string context_text_, text_, sent_;
    bool stopped_ = false;
};

// The text token `id` adds after token `prev` (-1: none); for logprob entries.
std::string token_piece(const Tokenizer& tokenizer, int32_t prev, int32_t id);

}  // namespace qforge::serve
