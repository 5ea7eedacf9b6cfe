// What is here: the shipped stories260K model and its tokenizer, loaded once per test that needs
// a real generator or judge.
#pragma once

#include <filesystem>

#include "runtime/model/llama.h"
#include "runtime/tokenizer/tokenizer.h"
#include "support/test_support.h"

namespace qforge::test {

struct StoriesModel {
    StoriesModel()
        : dir(data_dir() / "models" / "stories260K"),
          tok(Tokenizer::load(dir)),
          model(LlamaModel::load(dir)) {}

    std::filesystem::path dir;
    Tokenizer tok;
    LlamaModel model;
};

}  // namespace qforge::test
