// What is here: a rendered record -> an Example: token ids plus the mask of the tokens the
// model learns to predict.
#pragma once

#include <string_view>

#include "runtime/train/data.h"
#include "runtime/train/data_render.h"

namespace qforge::train {

// The whole text is encoded once (so token merges match what inference sees); each piece
// boundary becomes a token boundary through the encoding of the text before it. A token that
// straddles a boundary (a merge across it) goes to the later piece. With add_eos, EOS is
// appended as a response token unless the last response piece already holds it (chat
// templates that end turns with EOS). responses_only=false marks every token. Throws
// "<source>: ..." when nothing is left to learn from.
Example data_tokenize(const DataRendering& rendering, const Tokenizer& tokenizer,
                      bool responses_only, bool add_eos, std::string_view source);

}  // namespace qforge::train
