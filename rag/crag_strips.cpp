// What is here: sentence strips of a chunk (see rag/crag_strips.h).
#include "rag/crag_strips.h"

namespace qforge::rag {

namespace {

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

bool is_closer(char c) {
    return c == '"' || c == '\'' || c == ')' || c == ']' || c == '}';
}

}  // namespace

std::vector<TextSpan> split_strips(std::string_view text, std::size_t min_bytes) {
    std::vector<TextSpan> raw;
    std::size_t start = 0;
    auto emit = [&](std::size_t end) {  // [start, end), trimmed
        std::size_t b = start, e = end;
        while (b < e && is_space(text[b])) {
            ++b;
        }
        while (e > b && is_space(text[e - 1])) {
            --e;
        }
        if (e > b) {
            raw.push_back({b, e - b});
        }
        start = end;
    };
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '\n') {
            emit(i + 1);
        } else if (c == '.' || c == '!' || c == '?') {
            std::size_t j = i + 1;
            while (j < text.size() && is_closer(text[j])) {
                ++j;
            }
            if (j == text.size() || is_space(text[j])) {
                emit(j);
                i = j - 1;
            }
        }
    }
    emit(text.size());
    // Merge short strips into the following one (the last into the previous one).
    std::vector<TextSpan> out;
    for (std::size_t i = 0; i < raw.size(); ++i) {
        TextSpan s = raw[i];
        while (s.length < min_bytes && i + 1 < raw.size()) {
            ++i;
            s.length = raw[i].offset + raw[i].length - s.offset;
        }
        if (s.length < min_bytes && !out.empty()) {
            out.back().length = s.offset + s.length - out.back().offset;
        } else {
            out.push_back(s);
        }
    }
    return out;
}

}  // namespace qforge::rag
