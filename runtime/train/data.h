// What is here: the training data pipeline's public face: JSONL datasets (alpaca, chat,
// text) -> tokenized, masked examples -> packed rows of seq_len, split into train/validation.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace qforge {
class Tokenizer;
}

namespace qforge::train {

// targets[] value meaning "no loss here" (PyTorch's CrossEntropyLoss ignore_index).
inline constexpr int32_t kIgnoreIndex = -100;

// kAuto decides per line from its keys: "messages" -> chat, "instruction"/"output" -> alpaca,
// "text" -> text (in that order, so an alpaca record that also carries "text" stays alpaca).
enum class DataFormat { kAuto, kAlpaca, kChat, kText };

// "auto" | "alpaca" | "chat" | "text"; anything else is an Error naming the choices.
DataFormat data_format_from_string(std::string_view name);
std::string_view data_format_name(DataFormat format);

struct DataOptions {
    std::vector<std::filesystem::path> files;  // .jsonl, read in this order
    DataFormat format = DataFormat::kAuto;
    int64_t seq_len = 256;                // T: tokens per row
    bool packing = true;                  // several examples per row, no attention across them
    bool train_on_responses_only = true;  // loss on responses only; text records: all tokens
    bool skip_bad_lines = false;          // false: first bad line is an Error; true: count, skip
    double validation_fraction = 0.1;     // held-out examples, chosen from the seed
    uint64_t seed = 1;
    bool add_eos = true;  // EOS after each example (unless it already ends so)
};

// One tokenized example. target_mask[i] == 1 when token i is a token the model learns to
// predict (from tokens 0..i-1): the response (+EOS) when responses-only, else every token.
struct Example {
    std::vector<int32_t> tokens;
    std::vector<uint8_t> target_mask;
    std::string source;  // "file:line"
};

// One training row of length T. Packed examples sit end to end; trailing padding is a
// segment of its own. Within segment s starting at row index a:
//   positions[a + j] = j, targets[a + j] = tokens[j + 1] if target_mask[j + 1] else -100,
// so the last token of every example (and all padding) has no target.
struct Sequence {
    std::vector<int32_t> input;        // T token ids (padding: data_pad_id())
    std::vector<int32_t> targets;      // T next-token targets or kIgnoreIndex
    std::vector<int32_t> segment_ids;  // T: 0, 1, ... per packed example; attention stays inside
    std::vector<int32_t> positions;    // T: RoPE positions, restarting at 0 per segment
};

struct DataStats {
    int64_t lines = 0;              // non-blank lines read
    int64_t examples = 0;           // lines that became examples
    int64_t bad_lines_skipped = 0;  // with skip_bad_lines
    int64_t truncated = 0;          // examples cut to seq_len
    int64_t train_rows = 0;
    int64_t validation_rows = 0;
    int64_t target_tokens = 0;  // positions with a target in the train rows
};

struct Dataset {
    std::vector<Sequence> train, validation;
    DataStats stats;
    std::vector<std::string> skipped;  // the messages of the first 20 skipped lines
};

// Reads, tokenizes, splits and packs every file of `options`. Throws qforge::Error for the
// first bad line ("file:line: problem") unless skip_bad_lines; always for a missing or empty
// file, bad options, or when no example is left.
Dataset load_dataset(const Tokenizer& tokenizer, const DataOptions& options);

// The padding token id: the tokenizer's EOS, else 0.
int32_t data_pad_id(const Tokenizer& tokenizer);

}  // namespace qforge::train
