// What is here: named Llama shapes for random-initialised models (benchmarks and tests), taken
// from the published config.json of each model family.
#pragma once

#include <string>
#include <vector>

#include "runtime/io/hf_config.h"

namespace qforge {

// "llama3-8b" (Meta-Llama-3-8B), "llama3-1b" (Llama-3.2-1B), "tiny" (a 2-layer GQA model for
// tests). Throws qforge::Error naming the known shapes for any other name.
io::LlamaConfig llama_shape(const std::string& name);

std::vector<std::string> llama_shape_names();

}  // namespace qforge
