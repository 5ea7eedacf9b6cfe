// What is here: runtime/train/data.h: options checks, the validation split, truncation and
// packing around data_read_examples().
#include "runtime/train/data.h"

#include <algorithm>
#include <cmath>

#include "kernels/common.h"
#include "runtime/tokenizer/tokenizer.h"
#include "runtime/train/data_examples.h"
#include "runtime/train/data_pack.h"
#include "runtime/train/data_shuffle.h"

namespace qforge::train {
namespace {

// Seed streams of the dataset's random choices (DataLoader uses streams 0, 1, ... = epochs).
constexpr uint64_t kSplitStream = 0xDA7A000000000001ull;
constexpr uint64_t kTrainPackStream = 0xDA7A000000000002ull;
constexpr uint64_t kValidationPackStream = 0xDA7A000000000003ull;

void check_options(const Tokenizer& tokenizer, const DataOptions& o) {
    QF_CHECK(!o.files.empty(), "data: no files given (data.train is empty)");
    QF_CHECK(o.seq_len >= 2, "data: seq_len must be at least 2, got {}", o.seq_len);
    QF_CHECK(o.seq_len <= INT32_MAX, "data: seq_len {} is too large", o.seq_len);
    QF_CHECK(o.validation_fraction >= 0.0 && o.validation_fraction < 1.0,
             "data: validation_fraction must be in [0, 1), got {}", o.validation_fraction);
    QF_CHECK(!o.add_eos || tokenizer.eos_id().has_value(),
             "data: add_eos is set but the tokenizer has no EOS token");
}

// Examples visited in a seeded order, truncated to T, then packed (or one per row).
std::vector<Sequence> make_rows(std::vector<Example> examples, const DataOptions& o,
                                uint64_t stream, int32_t pad_id, DataStats& stats) {
    for (auto& ex : examples) {
        stats.truncated += data_truncate(ex, o.seq_len) ? 1 : 0;
    }
    if (o.packing) {
        const auto perm =
            data_permutation(static_cast<int64_t>(examples.size()), data_mix_seed(o.seed, stream));
        std::vector<Example> shuffled;
        shuffled.reserve(examples.size());
        for (int64_t i : perm) {
            shuffled.push_back(std::move(examples[static_cast<size_t>(i)]));
        }
        examples = std::move(shuffled);
    }
    return data_pack(examples, o.seq_len, o.packing, pad_id);
}

}  // namespace

DataFormat data_format_from_string(std::string_view name) {
    if (name == "auto") {
        return DataFormat::kAuto;
    }
    if (name == "alpaca") {
        return DataFormat::kAlpaca;
    }
    if (name == "chat") {
        return DataFormat::kChat;
    }
    if (name == "text") {
        return DataFormat::kText;
    }
    QF_FAIL("data format \"{}\" is unknown (expected auto, alpaca, chat or text)", name);
}

std::string_view data_format_name(DataFormat format) {
    switch (format) {
        case DataFormat::kAuto:
            return "auto";
        case DataFormat::kAlpaca:
            return "alpaca";
        case DataFormat::kChat:
            return "chat";
        case DataFormat::kText:
            return "text";
    }
    return "?";
}

int32_t data_pad_id(const Tokenizer& tokenizer) {
    return tokenizer.eos_id().value_or(0);
}

Dataset load_dataset(const Tokenizer& tokenizer, const DataOptions& options) {
    check_options(tokenizer, options);
    Dataset data;
    std::vector<Example> examples =
        data_read_examples(tokenizer, options, data.stats, data.skipped);
    const auto n = static_cast<int64_t>(examples.size());
    QF_CHECK(n > 0, "data: no usable examples in {} file(s) ({} bad lines skipped)",
             options.files.size(), data.stats.bad_lines_skipped);

    // Held-out examples: the first n_val of a seeded permutation; both sides keep file order.
    int64_t n_val = 0;
    if (options.validation_fraction > 0.0) {
        n_val = std::max<int64_t>(
            1, std::llround(static_cast<double>(n) * options.validation_fraction));
        QF_CHECK(n_val < n,
                 "data: validation_fraction {} of {} example(s) leaves nothing to "
                 "train on "
                 "(use 0 for no validation set)",
                 options.validation_fraction, n);
    }
    std::vector<uint8_t> held_out(static_cast<size_t>(n), 0);
    const auto perm = data_permutation(n, data_mix_seed(options.seed, kSplitStream));
    for (int64_t i = 0; i < n_val; ++i) {
        held_out[static_cast<size_t>(perm[static_cast<size_t>(i)])] = 1;
    }
    std::vector<Example> train, validation;
    for (int64_t i = 0; i < n; ++i) {
        auto& side = held_out[static_cast<size_t>(i)] ? validation : train;
        side.push_back(std::move(examples[static_cast<size_t>(i)]));
    }

    const int32_t pad_id = data_pad_id(tokenizer);
    data.train = make_rows(std::move(train), options, kTrainPackStream, pad_id, data.stats);
    data.validation =
        make_rows(std::move(validation), options, kValidationPackStream, pad_id, data.stats);
    data.stats.train_rows = static_cast<int64_t>(data.train.size());
    data.stats.validation_rows = static_cast<int64_t>(data.validation.size());
    for (const auto& row : data.train) {
        for (int32_t t : row.targets) {
            data.stats.target_tokens += t != kIgnoreIndex ? 1 : 0;
        }
    }
    return data;
}

}  // namespace qforge::train
