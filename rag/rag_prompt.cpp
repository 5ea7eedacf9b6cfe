// What is here: the RAG prompt and citation parsing (see rag/rag_prompt.h).
#include "rag/rag_prompt.h"

#include <algorithm>

#include "kernels/common.h"

namespace qforge::rag {

namespace {

std::string render(const std::string& question, const std::vector<ContextSource>& sources) {
    std::string s =
        "Use the numbered context passages to answer the question. Cite the passages you use "
        "like [1].\n\nContext:\n";
    for (std::size_t i = 0; i < sources.size(); ++i) {
        s += "[" + std::to_string(i + 1) + "] ";
        if (!sources[i].title.empty()) {
            s += sources[i].title + ": ";
        }
        s += sources[i].text + "\n";
    }
    return s + "\nQuestion: " + question + "\nAnswer:";
}

// `text` cut to about `fraction` of its bytes, back to a UTF-8 character boundary.
std::string shorten(const std::string& text, double fraction) {
    std::size_t end = static_cast<std::size_t>(static_cast<double>(text.size()) * fraction);
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) {
        --end;
    }
    return text.substr(0, end);
}

}  // namespace

RagPrompt build_rag_prompt(const std::string& question, const std::vector<ContextSource>& sources,
                           const Tokenizer& tokenizer, std::size_t max_tokens) {
    RagPrompt p;
    p.used = sources;
    const std::size_t bare = tokenizer.encode(render(question, {}), true).size();
    QF_CHECK(bare <= max_tokens,
             "rag: the question alone makes a {}-token prompt; the model leaves room for {}", bare,
             max_tokens);
    for (;;) {
        p.text = render(question, p.used);
        p.ids = tokenizer.encode(p.text, true);
        if (p.ids.size() <= max_tokens) {
            return p;
        }
        if (p.used.size() > 1) {
            p.used.pop_back();
            ++p.dropped_passages;
            continue;
        }
        ContextSource& last = p.used.back();
        const std::string shorter =
            shorten(last.text, std::max(0.0, 0.8 * static_cast<double>(max_tokens) /
                                                 static_cast<double>(p.ids.size())));
        p.truncated = true;
        if (shorter.empty() || shorter.size() >= last.text.size()) {
            p.used.clear();
            ++p.dropped_passages;
        } else {
            last.text = shorter;
        }
    }
}

std::vector<std::size_t> cited_passages(const std::string& answer, std::size_t passages) {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < answer.size(); ++i) {
        if (answer[i] != '[') {
            continue;
        }
        std::size_t j = i + 1, n = 0;
        while (j < answer.size() && j - i <= 4 && answer[j] >= '0' && answer[j] <= '9') {
            n = n * 10 + static_cast<std::size_t>(answer[j] - '0');
            ++j;
        }
        if (j > i + 1 && j < answer.size() && answer[j] == ']' && n >= 1 && n <= passages &&
            std::find(out.begin(), out.end(), n) == out.end()) {
            out.push_back(n);
        }
    }
    return out;
}

}  // namespace qforge::rag
