// What is here: ChatMessage, one turn of a conversation ({"role", "content"}) as chat
// templates and the chat-messages dataset format see it.
#pragma once

#include <string>

namespace qforge {

struct ChatMessage {
    std::string role;  // "system", "user", "assistant", ...
    std::string content;
};

}  // namespace qforge
