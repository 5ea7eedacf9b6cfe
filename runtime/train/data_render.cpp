// What is here: runtime/train/data_render.h.
#include "runtime/train/data_render.h"

#include <cstddef>
#include <fmt/format.h>

#include "kernels/common.h"
#include "runtime/tokenizer/tokenizer.h"

namespace qforge::train {
namespace {

std::string capitalized(std::string_view role) {
    std::string name(role);
    if (!name.empty() && name[0] >= 'a' && name[0] <= 'z') {
        name[0] = static_cast<char>(name[0] - 'a' + 'A');
    }
    return name;
}

DataRendering render_without_template(const std::vector<DataMessage>& messages) {
    DataRendering out;
    for (const auto& message : messages) {
        out.pieces.push_back({fmt::format("### {}:\n", capitalized(message.role)), false});
        out.pieces.push_back({message.content + "\n\n", message.role == "assistant"});
    }
    return out;
}

// The template is rendered for growing prefixes of the conversation: the text added by
// assistant turn i is render(messages[0..i]) minus render(messages[0..i), generation prompt).
// This works for any template whose rendering of a prefix is a prefix of the whole, which
// holds for the Llama 2/3, ChatML, Mistral and Gemma templates; others get a clear error.
DataRendering render_with_template(const std::vector<DataMessage>& messages,
                                   const Tokenizer& tokenizer, std::string_view source) {
    std::vector<ChatMessage> chat;
    chat.reserve(messages.size());
    for (const auto& m : messages) {
        chat.push_back({m.role, m.content});
    }
    DataRendering out;
    out.add_special_tokens = false;
    std::string done;  // text covered by out.pieces so far
    auto append = [&](const std::string& rendered, bool response, std::string_view what) {
        if (rendered.compare(0, done.size(), done) != 0) {
            throw Error(
                fmt::format("{}: the tokenizer's chat template does not render {} as an "
                            "extension of the "
                            "earlier turns, so the assistant tokens cannot be located",
                            source, what));
        }
        if (rendered.size() > done.size()) {
            out.pieces.push_back({rendered.substr(done.size()), response});
            done = rendered;
        }
    };
    for (size_t i = 0; i < chat.size(); ++i) {
        if (messages[i].role != "assistant") {
            continue;
        }
        const std::vector<ChatMessage> before(chat.begin(),
                                              chat.begin() + static_cast<std::ptrdiff_t>(i));
        const std::vector<ChatMessage> through(chat.begin(),
                                               chat.begin() + static_cast<std::ptrdiff_t>(i) + 1);
        const auto turn = fmt::format("assistant message {}", i + 1);
        append(tokenizer.apply_chat_template(before, true), false, "the prompt before " + turn);
        append(tokenizer.apply_chat_template(through, false), true, turn);
    }
    append(tokenizer.apply_chat_template(chat, false), false, "the whole conversation");
    return out;
}

}  // namespace

std::string data_alpaca_prompt(std::string_view instruction, std::string_view input) {
    if (input.empty()) {
        return fmt::format(
            "Below is an instruction that describes a task. Write a response that "
            "appropriately "
            "completes the request.\n\n### Instruction:\n{}\n\n### Response:\n",
            instruction);
    }
    return fmt::format(
        "Below is an instruction that describes a task, paired with an input "
        "that provides "
        "further context. Write a response that appropriately completes the "
        "request.\n\n"
        "### Instruction:\n{}\n\n### Input:\n{}\n\n### Response:\n",
        instruction, input);
}

DataRendering data_render(const DataRecord& record, const Tokenizer& tokenizer,
                          std::string_view source) {
    switch (record.format) {
        case DataFormat::kText: {
            DataRendering out;
            out.pieces.push_back({record.text, true});
            return out;
        }
        case DataFormat::kAlpaca: {
            if (tokenizer.has_chat_template()) {
                std::string user = record.instruction;
                if (!record.input.empty()) {
                    user += "\n\n" + record.input;
                }
                return render_with_template({{"user", user}, {"assistant", record.output}},
                                            tokenizer, source);
            }
            DataRendering out;
            out.pieces.push_back({data_alpaca_prompt(record.instruction, record.input), false});
            out.pieces.push_back({record.output, true});
            return out;
        }
        case DataFormat::kChat:
            return tokenizer.has_chat_template()
                       ? render_with_template(record.messages, tokenizer, source)
                       : render_without_template(record.messages);
        case DataFormat::kAuto:
            break;
    }
    QF_FAIL("{}: record has no resolved format", source);
}

}  // namespace qforge::train
