// What is here: validate_train_config: every range, choice and path check of a training config,
// each problem named by its key from the key table, all reported together.
#include <algorithm>
#include <filesystem>
#include <fmt/format.h>
#include <set>

#include "kernels/common.h"
#include "launcher/config.h"
#include "launcher/config_keys.h"
#include "launcher/config_problems.h"

namespace qforge::launcher {

namespace {

namespace fs = std::filesystem;

constexpr std::string_view kModules[] = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                         "gate_proj", "up_proj", "down_proj"};

// Collects "key: what was expected, got value" lines.
class Checker {
public:
    explicit Checker(const train::TrainConfig& config) : config_(config) {}

    // `expectation` reads after the key: "must be >= 1".
    void require(std::string_view key, bool ok, std::string_view expectation) {
        if (!ok) {
            problems_.push_back(fmt::format("{}: {}, got {}", key, expectation,
                                            config_value_text(config_key(key), config_)));
        }
    }

    void choice(std::string_view key, const std::string& value,
                std::initializer_list<std::string_view> allowed) {
        if (std::find(allowed.begin(), allowed.end(), value) == allowed.end()) {
            problem(key,
                    fmt::format("must be one of {}, got \"{}\"", fmt::join(allowed, ", "), value));
        }
    }

    void problem(std::string_view key_or_item, std::string message) {
        // "data.train[2]" names an item of a list key; the key itself must be in the table.
        config_key(key_or_item.substr(0, key_or_item.find('[')));
        problems_.push_back(fmt::format("{}: {}", key_or_item, message));
    }

    const std::vector<std::string>& problems() const { return problems_; }

private:
    const train::TrainConfig& config_;
    std::vector<std::string> problems_;
};

void check_model(Checker& check, const train::ModelConfig& m) {
    check.choice("model.quantize", m.quantize, {"nf4", "none"});
    check.choice("model.init", m.init, {"pretrained", "random"});
    const bool random = m.init == "random";
    if (random) {
        check.choice("model.shape", m.shape, {"llama3-8b", "llama3-1b", "tiny"});
    } else if (!m.shape.empty()) {
        check.problem("model.shape", fmt::format("must be empty unless model.init=random (a "
                                                 "pretrained model's shape is its config.json), "
                                                 "got \"{}\"",
                                                 m.shape));
    }
    if (m.path.empty()) {
        if (m.init == "pretrained") {
            check.problem("model.path", "required with model.init=pretrained");
        }
    } else if (!fs::is_directory(m.path)) {
        check.problem("model.path", fmt::format("not a model directory: {}", m.path));
    } else if (m.init == "pretrained" && !fs::is_regular_file(fs::path(m.path) / "config.json")) {
        check.problem("model.path", fmt::format("{} holds no config.json", m.path));
    }
    if (!m.tokenizer.empty()) {
        if (!fs::exists(m.tokenizer)) {
            check.problem("model.tokenizer", fmt::format("not found: {}", m.tokenizer));
        } else if (fs::is_directory(m.tokenizer) &&
                   !fs::is_regular_file(fs::path(m.tokenizer) / "tokenizer.json")) {
            check.problem("model.tokenizer",
                          fmt::format("{} holds no tokenizer.json", m.tokenizer));
        }
    } else if (random && m.path.empty()) {
        check.problem("model.tokenizer",
                      "required with model.init=random when model.path is not given");
    }
}

void check_lora(Checker& check, const train::LoraConfig& l) {
    check.require("lora.r", l.r >= 1, "must be >= 1");
    check.require("lora.alpha", l.alpha > 0, "must be > 0");
    check.require("lora.dropout", l.dropout >= 0 && l.dropout < 1, "must be in [0, 1)");
    if (l.target_modules.empty()) {
        check.problem("lora.target_modules",
                      fmt::format("must name at least one of {}", fmt::join(kModules, ", ")));
    }
    std::set<std::string> seen;
    for (std::size_t i = 0; i < l.target_modules.size(); ++i) {
        const std::string& m = l.target_modules[i];
        const std::string item = fmt::format("lora.target_modules[{}]", i);
        if (std::find(std::begin(kModules), std::end(kModules), m) == std::end(kModules)) {
            check.problem(item,
                          fmt::format("\"{}\" is not one of {}", m, fmt::join(kModules, ", ")));
        } else if (!seen.insert(m).second) {
            check.problem(item, fmt::format("\"{}\" is listed twice", m));
        }
    }
}

void check_data(Checker& check, const train::DataConfig& d) {
    if (d.train.empty()) {
        check.problem("data.train", "required: at least one JSONL file");
    }
    for (std::size_t i = 0; i < d.train.size(); ++i) {
        const std::string item = fmt::format("data.train[{}]", i);
        if (!fs::exists(d.train[i])) {
            check.problem(item, fmt::format("file not found: {}", d.train[i]));
        } else if (!fs::is_regular_file(d.train[i])) {
            check.problem(item, fmt::format("not a file: {}", d.train[i]));
        }
    }
    check.choice("data.format", d.format, {"auto", "alpaca", "chat", "text"});
    check.require("data.seq_len", d.seq_len >= 2, "must be >= 2");
    check.require("data.validation_fraction",
                  d.validation_fraction >= 0 && d.validation_fraction < 1, "must be in [0, 1)");
}

void check_optim(Checker& check, const train::OptimConfig& t, const train::DataConfig& d) {
    check.require("train.max_steps", t.max_steps >= 0, "must be >= 0");
    check.require("train.epochs", t.max_steps > 0 || t.epochs >= 1,
                  "must be >= 1 when train.max_steps is 0");
    check.require("train.micro_batch", t.micro_batch >= 1, "must be >= 1");
    check.require("train.grad_accum", t.grad_accum >= 1, "must be >= 1");
    check.require("train.lr", t.lr > 0, "must be > 0");
    check.choice("train.schedule", t.schedule, {"cosine", "linear", "constant"});
    check.choice("train.device", t.device, {"auto", "cpu", "cuda"});
    check.choice("train.matmul_precision", t.matmul_precision, {"tf32", "bf16", "fp32"});
    check.require("train.warmup_steps", t.warmup_steps >= 0, "must be >= 0");
    check.require("train.min_lr_ratio", t.min_lr_ratio >= 0 && t.min_lr_ratio <= 1,
                  "must be in [0, 1]");
    check.require("train.weight_decay", t.weight_decay >= 0, "must be >= 0");
    check.require("train.beta1", t.beta1 >= 0 && t.beta1 < 1, "must be in [0, 1)");
    check.require("train.beta2", t.beta2 >= 0 && t.beta2 < 1, "must be in [0, 1)");
    check.require("train.eps", t.eps > 0, "must be > 0");
    check.require("train.max_grad_norm", t.max_grad_norm >= 0, "must be >= 0 (0 = no clipping)");
    check.require("train.activation_offload_fraction",
                  t.activation_offload_fraction == -1.0 ||
                      (t.activation_offload_fraction >= 0 && t.activation_offload_fraction <= 1),
                  "must be in [0, 1], or -1 for the default");
    check.require("train.eval_every", t.eval_every >= 0, "must be >= 0");
    check.require("train.eval_every", t.eval_every == 0 || d.validation_fraction > 0,
                  "must be 0 when data.validation_fraction is 0 (no validation split)");
    check.require("train.log_every", t.log_every >= 1, "must be >= 1");
}

}  // namespace

void validate_train_config(const train::TrainConfig& config) {
    Checker check(config);
    if (config.run.name.empty() || config.run.name == "." || config.run.name == ".." ||
        config.run.name.find('/') != std::string::npos) {
        check.problem("run.name", fmt::format("must be a directory name without '/', got \"{}\"",
                                              config.run.name));
    }
    if (config.run.output_dir.empty()) {
        check.problem("run.output_dir", "must not be empty");
    }
    check_model(check, config.model);
    check_lora(check, config.lora);
    check_data(check, config.data);
    check_optim(check, config.train, config.data);
    check.require("checkpoint.every", config.checkpoint.every >= 0, "must be >= 0");
    check.require("checkpoint.keep_last", config.checkpoint.keep_last >= 1, "must be >= 1");
    check.require("distributed.bucket_mb",
                  config.distributed.bucket_mb > 0 && config.distributed.bucket_mb <= 4096,
                  "must be > 0 and <= 4096 (MiB)");
    const train::IndexConfig& ix = config.index;
    check.require("index.chunk_tokens", ix.chunk_tokens >= 1, "must be >= 1");
    check.require("index.overlap", ix.overlap >= 0 && ix.overlap < ix.chunk_tokens,
                  "must be >= 0 and < index.chunk_tokens");
    check.require("index.ann", ix.ann == "auto" || ix.ann == "exact" || ix.ann == "hnsw",
                  "must be auto, exact or hnsw");
    check.require("index.encoder", ix.encoder.empty() || !ix.docs.empty(),
                  "needs index.docs (the documents to index)");
    throw_config_problems(check.problems(), "invalid training config");
}

}  // namespace qforge::launcher
