// What is here: the stories260K tokenizer (no chat template; BOS 1, EOS 2) that the data
// tests tokenize with, loaded once per test binary.
#pragma once

#include "runtime/tokenizer/tokenizer.h"
#include "test_data_helpers.h"

namespace qforge::test {

inline const Tokenizer& stories_tokenizer() {
    static const Tokenizer tokenizer = Tokenizer::load(stories_dir());
    return tokenizer;
}

}  // namespace qforge::test
