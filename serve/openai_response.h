// What is here: the JSON pieces of OpenAI responses that qforge builds: logprobs in the
// completions form ({tokens, token_logprobs, top_logprobs, text_offset}) and the chat form
// ({content: [{token, logprob, bytes, top_logprobs}]}), usage, and the `sources` extension.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

#include "serve/engine.h"
#include "serve/rag_context.h"

namespace qforge::serve {

// Appends tokens to a completions logprobs object; text_offset counts on from `offset`.
void append_completion_logprobs(nlohmann::json& logprobs, const std::vector<TokenLogprob>& tokens,
                                std::size_t& offset);
nlohmann::json empty_completion_logprobs();

// Appends tokens to a chat logprobs "content" array.
void append_chat_logprobs(nlohmann::json& content, const std::vector<TokenLogprob>& tokens);

nlohmann::json usage_json(int64_t prompt_tokens, int64_t completion_tokens);
nlohmann::json sources_json(const std::vector<RagSource>& sources);

}  // namespace qforge::serve
