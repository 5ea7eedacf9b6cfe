// What is here: the key table behind launcher/config_keys.h and the "did you mean" search.
#include "launcher/config_keys.h"

#include <algorithm>
#include <array>
#include <fmt/format.h>

#include "kernels/common.h"

namespace qforge::launcher {

namespace {

// Section names equal TrainConfig member names, so one macro spells both the key and the member.
// clang-format off
#define QF_CONFIG_KEY(section, key)                                                      \
    ConfigKey {                                                                          \
        #section "." #key,                                                               \
        [](train::TrainConfig& c) -> ConfigField { return &c.section.key; }              \
    }

constexpr std::array kKeys = {
    QF_CONFIG_KEY(run, name),
    QF_CONFIG_KEY(run, output_dir),
    QF_CONFIG_KEY(run, seed),
    QF_CONFIG_KEY(model, path),
    QF_CONFIG_KEY(model, quantize),
    QF_CONFIG_KEY(model, init),
    QF_CONFIG_KEY(model, shape),
    QF_CONFIG_KEY(model, tokenizer),
    QF_CONFIG_KEY(lora, r),
    QF_CONFIG_KEY(lora, alpha),
    QF_CONFIG_KEY(lora, dropout),
    QF_CONFIG_KEY(lora, use_rslora),
    QF_CONFIG_KEY(lora, target_modules),
    QF_CONFIG_KEY(data, train),
    QF_CONFIG_KEY(data, format),
    QF_CONFIG_KEY(data, seq_len),
    QF_CONFIG_KEY(data, packing),
    QF_CONFIG_KEY(data, train_on_responses_only),
    QF_CONFIG_KEY(data, skip_bad_lines),
    QF_CONFIG_KEY(data, validation_fraction),
    QF_CONFIG_KEY(train, epochs),
    QF_CONFIG_KEY(train, max_steps),
    QF_CONFIG_KEY(train, micro_batch),
    QF_CONFIG_KEY(train, grad_accum),
    QF_CONFIG_KEY(train, lr),
    QF_CONFIG_KEY(train, schedule),
    QF_CONFIG_KEY(train, warmup_steps),
    QF_CONFIG_KEY(train, min_lr_ratio),
    QF_CONFIG_KEY(train, weight_decay),
    QF_CONFIG_KEY(train, beta1),
    QF_CONFIG_KEY(train, beta2),
    QF_CONFIG_KEY(train, eps),
    QF_CONFIG_KEY(train, max_grad_norm),
    QF_CONFIG_KEY(train, activation_checkpointing),
    QF_CONFIG_KEY(train, activation_offload),
    QF_CONFIG_KEY(train, activation_offload_fraction),
    QF_CONFIG_KEY(train, device),
    QF_CONFIG_KEY(train, matmul_precision),
    QF_CONFIG_KEY(train, gemm_autotune),
    QF_CONFIG_KEY(train, cuda_graphs),
    QF_CONFIG_KEY(train, eval_every),
    QF_CONFIG_KEY(train, log_every),
    QF_CONFIG_KEY(checkpoint, every),
    QF_CONFIG_KEY(checkpoint, keep_last),
    QF_CONFIG_KEY(distributed, bucket_mb),
    QF_CONFIG_KEY(index, docs),
    QF_CONFIG_KEY(index, out),
    QF_CONFIG_KEY(index, encoder),
    QF_CONFIG_KEY(index, chunk_tokens),
    QF_CONFIG_KEY(index, overlap),
    QF_CONFIG_KEY(index, tokenizer),
    QF_CONFIG_KEY(index, ann),
};
// clang-format on

#undef QF_CONFIG_KEY

constexpr std::array<std::string_view, 8> kSections = {
    "run", "model", "lora", "data", "train", "checkpoint", "distributed", "index"};

// Close enough to suggest: a few edits for the name's length, or one name extends the other
// ("rank" -> "r", "warmup" -> "warmup_steps", "micro_batch_size" -> "micro_batch").
bool is_close(std::string_view typed, std::string_view valid, std::size_t distance) {
    if (typed.empty() || valid.empty()) {
        return false;
    }
    if (distance <= std::max<std::size_t>(1, typed.size() / 3)) {
        return true;
    }
    const auto [shorter, longer] =
        typed.size() < valid.size() ? std::pair(typed, valid) : std::pair(valid, typed);
    return longer.starts_with(shorter) || (shorter.size() >= 3 && longer.ends_with(shorter));
}

}  // namespace

std::span<const ConfigKey> config_keys() {
    return kKeys;
}

std::span<const std::string_view> config_sections() {
    return kSections;
}

const ConfigKey* find_config_key(std::string_view name) {
    for (const auto& k : kKeys) {
        if (k.name == name) {
            return &k;
        }
    }
    return nullptr;
}

const ConfigKey& config_key(std::string_view name) {
    const ConfigKey* k = find_config_key(name);
    QF_CHECK(k != nullptr, "config key table has no \"{}\"", name);
    return *k;
}

ConfigField config_field(const ConfigKey& key, train::TrainConfig& config) {
    return key.field(config);
}

ConfigField config_field(const ConfigKey& key, const train::TrainConfig& config) {
    // The table stores one accessor per key; callers of this overload only read through it.
    return key.field(const_cast<train::TrainConfig&>(config));
}

std::string_view config_type_name(const ConfigKey& key) {
    constexpr std::array<std::string_view, 7> kNames = {
        "integer", "non-negative integer", "number", "number", "bool", "string", "list of strings"};
    static const train::TrainConfig kDefaults;
    return kNames[config_field(key, kDefaults).index()];
}

std::string config_value_text(const ConfigKey& key, const train::TrainConfig& config) {
    struct Format {
        std::string operator()(const int64_t* v) const { return fmt::format("{}", *v); }

        std::string operator()(const uint64_t* v) const { return fmt::format("{}", *v); }

        std::string operator()(const float* v) const { return fmt::format("{}", *v); }

        std::string operator()(const double* v) const { return fmt::format("{}", *v); }

        std::string operator()(const bool* v) const { return *v ? "true" : "false"; }

        std::string operator()(const std::string* v) const { return v->empty() ? "\"\"" : *v; }

        std::string operator()(const std::vector<std::string>* v) const {
            return fmt::format("[{}]", fmt::join(*v, ", "));
        }
    };

    return std::visit(Format{}, config_field(key, config));
}

std::size_t config_edit_distance(std::string_view a, std::string_view b) {
    // d[i][j] = distance between a[0..i) and b[0..j).
    std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
    for (std::size_t i = 0; i <= a.size(); ++i) {
        d[i][0] = i;
    }
    for (std::size_t j = 0; j <= b.size(); ++j) {
        d[0][j] = j;
    }
    for (std::size_t i = 1; i <= a.size(); ++i) {
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
                d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
            }
        }
    }
    return d[a.size()][b.size()];
}

std::optional<std::string_view> closest_config_key(std::string_view name) {
    const auto dot = name.find('.');
    const std::string_view section = dot == std::string_view::npos ? "" : name.substr(0, dot);
    const std::string_view key = dot == std::string_view::npos ? name : name.substr(dot + 1);
    std::optional<std::string_view> best;
    std::size_t best_distance = SIZE_MAX;
    for (const auto& k : kKeys) {
        const bool same_section = section.empty() || section == k.section();
        // A key under the wrong section costs one edit ("train.seq_len" -> "data.seq_len").
        std::size_t d = config_edit_distance(key, k.key()) + (same_section ? 0 : 1);
        if (!section.empty()) {
            d = std::min(d, config_edit_distance(name, k.name));
        }
        const bool close = same_section ? is_close(key, k.key(), d)
                                        : d <= std::max<std::size_t>(1, key.size() / 3);
        if (close && d < best_distance) {
            best = k.name;
            best_distance = d;
        }
    }
    return best;
}

std::optional<std::string_view> closest_config_section(std::string_view name) {
    std::optional<std::string_view> best;
    std::size_t best_distance = SIZE_MAX;
    for (const auto s : kSections) {
        const std::size_t d = config_edit_distance(name, s);
        if (is_close(name, s, d) && d < best_distance) {
            best = s;
            best_distance = d;
        }
    }
    return best;
}

}  // namespace qforge::launcher
