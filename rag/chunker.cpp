// What is here: token-bounded chunking with overlap (see rag/chunker.h).
//
// The text is cut into words (a run of non-space bytes plus the spaces after it), each
// counted on its own; chunks are packed from whole words, so the sum of word counts is an
// estimate of a chunk's count (a BPE tokenizer may merge differently across a space). The
// estimate picks the cut; the counter on the whole chunk text has the last word.
#include "rag/chunker.h"

#include <algorithm>

#include "kernels/common.h"
#include "runtime/tokenizer/utf8.h"

namespace qforge::rag {

namespace {

enum class Boundary { kWord = 0, kSentence = 1, kParagraph = 2 };

struct Piece {
    std::size_t begin = 0;  // first byte of the word
    std::size_t end = 0;    // one past the word's last byte (spaces not included)
    std::size_t tokens = 0;
    Boundary after = Boundary::kWord;
};

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

bool ends_sentence(std::string_view word) {
    while (!word.empty() &&
           std::string_view("\"')]}").find(word.back()) != std::string_view::npos) {
        word.remove_suffix(1);
    }
    if (word.size() >= 3 && word.substr(word.size() - 3) == "\xE2\x80\x9D") {  // closing quote
        word.remove_suffix(3);
    }
    return !word.empty() && (word.back() == '.' || word.back() == '!' || word.back() == '?');
}

bool has_blank_line(std::string_view gap) {
    int newlines = 0;
    for (char c : gap) {
        if (c == '\n') {
            if (++newlines == 2) {
                return true;
            }
        } else if (c != ' ' && c != '\t' && c != '\r') {
            newlines = 0;
        }
    }
    return false;
}

// Cuts an over-long word into parts of at most max_tokens tokens at character boundaries.
void split_long_word(std::string_view text, Piece word, std::size_t max_tokens,
                     const TokenCounter& count, std::vector<Piece>& out) {
    std::size_t begin = word.begin;
    while (begin < word.end) {
        // Largest end (a character boundary) whose part still fits, by bisection on bytes.
        std::size_t lo = begin + tokenizer::utf8_len(static_cast<unsigned char>(text[begin]));
        std::size_t hi = word.end;
        auto fits = [&](std::size_t e) {
            return count(text.substr(begin, e - begin)) <= max_tokens;
        };
        if (!fits(hi)) {
            while (hi - lo > 1) {
                std::size_t mid = lo + (hi - lo) / 2;
                while (mid > lo && (static_cast<unsigned char>(text[mid]) & 0xC0) == 0x80) {
                    --mid;
                }
                if (mid == lo) {
                    break;
                }
                if (fits(mid)) {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
        } else {
            lo = hi;
        }
        Piece part{begin, lo, std::max<std::size_t>(1, count(text.substr(begin, lo - begin))),
                   Boundary::kWord};
        out.push_back(part);
        begin = lo;
    }
    out.back().after = word.after;
}

std::vector<Piece> split_pieces(std::string_view text, std::size_t max_tokens,
                                const TokenCounter& count) {
    std::vector<Piece> pieces;
    std::size_t i = 0;
    while (i < text.size() && is_space(text[i])) {
        ++i;
    }
    while (i < text.size()) {
        Piece p;
        p.begin = i;
        while (i < text.size() && !is_space(text[i])) {
            ++i;
        }
        p.end = i;
        while (i < text.size() && is_space(text[i])) {
            ++i;
        }
        const std::string_view word = text.substr(p.begin, p.end - p.begin);
        if (i == text.size() || has_blank_line(text.substr(p.end, i - p.end))) {
            p.after = Boundary::kParagraph;
        } else if (ends_sentence(word)) {
            p.after = Boundary::kSentence;
        }
        p.tokens = std::max<std::size_t>(1, count(word));
        if (p.tokens > max_tokens) {
            split_long_word(text, p, max_tokens, count, pieces);
        } else {
            pieces.push_back(p);
        }
    }
    return pieces;
}

}  // namespace

std::size_t count_words(std::string_view text) {
    std::size_t n = 0;
    bool in_word = false;
    for (char c : text) {
        if (is_space(c)) {
            in_word = false;
        } else if (!in_word) {
            in_word = true;
            ++n;
        }
    }
    return n;
}

std::vector<TextSpan> chunk_text(std::string_view text, const ChunkOptions& options,
                                 const TokenCounter& count_tokens) {
    QF_CHECK(options.max_tokens > 0, "chunking: chunk size must be > 0 tokens");
    QF_CHECK(options.overlap < options.max_tokens,
             "chunking: overlap ({} tokens) must be smaller than the chunk size ({} tokens)",
             options.overlap, options.max_tokens);
    const std::vector<Piece> pieces = split_pieces(text, options.max_tokens, count_tokens);
    const std::size_t n = pieces.size();
    std::vector<TextSpan> spans;
    std::size_t start = 0;
    while (start < n) {
        // Longest run of whole pieces that fits by the per-piece estimate (at least one).
        std::size_t end = start;
        std::size_t sum = 0;
        while (end < n && (end == start || sum + pieces[end].tokens <= options.max_tokens)) {
            sum += pieces[end].tokens;
            ++end;
        }
        // Not the last chunk: prefer a paragraph, then a sentence boundary in the second half.
        if (end < n) {
            for (Boundary want : {Boundary::kParagraph, Boundary::kSentence}) {
                std::size_t best = 0;
                std::size_t acc = 0;
                for (std::size_t j = start; j < end; ++j) {
                    acc += pieces[j].tokens;
                    if (pieces[j].after >= want && 2 * acc >= options.max_tokens) {
                        best = j + 1;
                    }
                }
                if (best > 0) {
                    end = best;
                    break;
                }
            }
        }
        // The counter on the whole text decides; drop words from the end while it is over.
        auto span_of = [&](std::size_t e) {
            return TextSpan{pieces[start].begin, pieces[e - 1].end - pieces[start].begin};
        };
        // Each recount drops at least as many words as the estimate says are over.
        while (end - start > 1) {
            const TextSpan span = span_of(end);
            const std::size_t actual = count_tokens(text.substr(span.offset, span.length));
            if (actual <= options.max_tokens) {
                break;
            }
            std::size_t dropped = 0;
            while (end - start > 1 && dropped < actual - options.max_tokens) {
                dropped += pieces[end - 1].tokens;
                --end;
            }
        }
        spans.push_back(span_of(end));
        if (end == n) {
            break;
        }
        // Step back by up to `overlap` tokens, to a sentence start when there is one.
        std::size_t next = end;
        std::size_t acc = 0;
        while (next - 1 > start && acc + pieces[next - 1].tokens <= options.overlap) {
            acc += pieces[next - 1].tokens;
            --next;
        }
        for (std::size_t j = next; j < end; ++j) {
            if (pieces[j - 1].after >= Boundary::kSentence) {
                next = j;
                break;
            }
        }
        start = std::max(next, start + 1);
    }
    return spans;
}

}  // namespace qforge::rag
