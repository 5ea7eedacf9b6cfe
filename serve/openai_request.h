// What is here: CompletionRequest, the body of POST /v1/completions and
// /v1/chat/completions parsed and range-checked. Anything malformed or out of range is an
// ApiError (400) naming the field; fields qforge does not use (user, presence_penalty, ...)
// are accepted and ignored, as OpenAI-compatible servers do.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runtime/tokenizer/chat_message.h"

namespace qforge::serve {

struct RagOptions {
    bool enabled = false;     // rag.index: retrieve from the server's --index
    int64_t k = 4;            // rag.k: chunks put in the prompt, 1..32
    bool corrective = false;  // rag.corrective: drop chunks scoring under half the best one
};

struct CompletionRequest {
    bool chat = false;
    std::string model;
    std::string prompt;                              // completions: text
    std::optional<std::vector<int32_t>> prompt_ids;  // completions: token ids instead
    std::vector<ChatMessage> messages;               // chat
    std::optional<int64_t> max_tokens;               // chat: also max_completion_tokens
    float temperature = 1.0f;                        // [0, 2]; 0 = greedy
    float top_p = 1.0f;                              // (0, 1]
    int64_t top_k = 0;                               // vLLM extension: 0 or -1 = off
    std::optional<uint64_t> seed;
    std::vector<std::string> stop;
    bool stream = false;
    bool include_usage = false;  // stream_options.include_usage
    int logprobs = -1;           // completions: logprobs (0..20); chat: top_logprobs when logprobs
    bool echo = false;           // completions: prompt + completion, with prompt logprobs
    bool ignore_eos = false;     // vLLM extension
    RagOptions rag;
};

// Throws ApiError for malformed JSON, a missing or mistyped field, or a value out of range.
CompletionRequest parse_completion_request(const std::string& body, bool chat);

}  // namespace qforge::serve
