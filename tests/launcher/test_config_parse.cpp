// Parsing the training config: YAML sections and `--set` overrides of every type reach the right
// member, ${VAR} expands, and every kind of bad input gets one message naming where it is.
#include <cstdlib>
#include <fstream>
#include <gtest/gtest.h>
#include <random>

#include "kernels/common.h"
#include "launcher/config.h"
#include "launcher/config_env.h"
#include "launcher/config_keys.h"
#include "support/test_support.h"

namespace qforge::launcher {
namespace {

// Sets an environment variable for one test and restores the old value after it.
class ScopedEnv {
public:
    ScopedEnv(const char* name, const char* value) : name_(name) {
        if (const char* old = std::getenv(name)) {
            old_ = old;
        }
        if (value != nullptr) {
            setenv(name, value, 1);
        } else {
            unsetenv(name);
        }
    }

    ~ScopedEnv() {
        if (old_) {
            setenv(name_.c_str(), old_->c_str(), 1);
        } else {
            unsetenv(name_.c_str());
        }
    }

    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

private:
    std::string name_;
    std::optional<std::string> old_;
};

// The message of the qforge::Error `f` throws ("" when it throws none).
template <typename F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

std::string parse_error(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
    return error_of([&] { parse_train_config(yaml, "configs/x.yaml", overrides); });
}

TEST(ConfigParse, EmptyTextKeepsEveryDefault) {
    const train::TrainConfig defaults;
    for (const std::string text : {"", "# nothing here\n", "lora:\n", "run: {}\n"}) {
        const auto config = parse_train_config(text, "empty.yaml", {});
        for (const auto& k : config_keys()) {
            EXPECT_EQ(config_value_text(k, config), config_value_text(k, defaults))
                << k.name << " in \"" << text << "\"";
        }
    }
    const auto config = parse_train_config("", "empty.yaml", {});
    EXPECT_EQ(config.lora.r, 8);
    EXPECT_EQ(config.train.lr, 2e-4f);
    EXPECT_EQ(config.train.schedule, "cosine");
    EXPECT_EQ(config.lora.target_modules.size(), 7u);
    EXPECT_TRUE(config.data.train.empty());
}

TEST(ConfigParse, FileSetsEveryType) {
    std::mt19937_64 rng(test::test_seed());
    const int64_t r = std::uniform_int_distribution<int64_t>(1, 512)(rng);
    const uint64_t seed = rng();
    const float lr = test::random_floats(1, 1e-5f, 1e-2f)[0];
    const double fraction = std::uniform_real_distribution<double>(0.01, 0.5)(rng);
    const std::string name = fmt::format("run-{}", rng() % 100000);
    const std::string yaml =
        fmt::format(R"(# a comment
run:
  name: {}
  seed: {}
lora:
  r: {}
  use_rslora: yes
  target_modules: [q_proj, v_proj]
data:
  train:
    - a.jsonl
    - "dir with space/b.jsonl"
  packing: false
  validation_fraction: {}
train:
  lr: {}
  max_steps: +60
  warmup_steps: 5
  activation_checkpointing: True
)",
                    name, seed, r, fmt::format("{}", fraction), fmt::format("{}", lr));
    const auto c = parse_train_config(yaml, "x.yaml", {});
    EXPECT_EQ(c.run.name, name);
    EXPECT_EQ(c.run.seed, seed);
    EXPECT_EQ(c.lora.r, r);
    EXPECT_TRUE(c.lora.use_rslora);
    EXPECT_EQ(c.lora.target_modules, (std::vector<std::string>{"q_proj", "v_proj"}));
    EXPECT_EQ(c.data.train, (std::vector<std::string>{"a.jsonl", "dir with space/b.jsonl"}));
    EXPECT_FALSE(c.data.packing);
    EXPECT_EQ(c.data.validation_fraction, fraction);
    EXPECT_EQ(c.train.lr, lr);
    EXPECT_EQ(c.train.max_steps, 60);
    EXPECT_EQ(c.train.warmup_steps, 5);
    EXPECT_TRUE(c.train.activation_checkpointing);
    // Untouched keys keep their defaults.
    EXPECT_EQ(c.lora.alpha, 16.0f);
    EXPECT_EQ(c.train.schedule, "cosine");
}

TEST(ConfigParse, OverridesOfEveryType) {
    std::mt19937_64 rng(test::test_seed());
    const int64_t r = std::uniform_int_distribution<int64_t>(1, 512)(rng);
    const uint64_t seed = rng();
    const float alpha = test::random_floats(1, 1.0f, 64.0f)[0];
    const auto c = parse_train_config(
        "lora:\n  r: 4\n  dropout: 0.2\ndata:\n  train: [x.jsonl]\nmodel:\n  shape: tiny\n",
        "x.yaml",
        {fmt::format("lora.r={}", r), fmt::format("run.seed={}", seed),
         fmt::format("lora.alpha={}", alpha), "train.lr=3e-3", "data.validation_fraction=0.25",
         "data.packing=false", "lora.use_rslora=on", "run.name=my run", "model.init='random'",
         "lora.target_modules=[gate_proj, up_proj, down_proj]", "data.train=y.jsonl",
         "model.shape=", "train.epochs=2", "train.epochs=3", " train.warmup_steps = 7 "});
    EXPECT_EQ(c.lora.r, r);
    EXPECT_EQ(c.run.seed, seed);
    EXPECT_EQ(c.lora.alpha, alpha);
    EXPECT_EQ(c.train.lr, 3e-3f);
    EXPECT_EQ(c.data.validation_fraction, 0.25);
    EXPECT_FALSE(c.data.packing);
    EXPECT_TRUE(c.lora.use_rslora);
    EXPECT_EQ(c.run.name, "my run");
    EXPECT_EQ(c.model.init, "random");
    EXPECT_EQ(c.lora.target_modules,
              (std::vector<std::string>{"gate_proj", "up_proj", "down_proj"}));
    EXPECT_EQ(c.data.train, std::vector<std::string>{"y.jsonl"});  // a scalar is a list of one
    EXPECT_EQ(c.model.shape, "");                                  // an empty value clears
    EXPECT_EQ(c.train.epochs, 3);                                  // the last override wins
    EXPECT_EQ(c.train.warmup_steps, 7);
    EXPECT_EQ(c.lora.dropout, 0.2f);  // from the file, not overridden
    const auto cleared = parse_train_config("data:\n  train: [a, b]\n", "x.yaml",
                                            {"data.train=[]", "lora.target_modules="});
    EXPECT_TRUE(cleared.data.train.empty());
    EXPECT_TRUE(cleared.lora.target_modules.empty());
}

TEST(ConfigParse, ExpandsEnvironmentVariables) {
    const std::string value = fmt::format("/data/{}", test::test_seed() % 100000);
    ScopedEnv set("QF_CONFIG_TEST_SET", value.c_str());
    ScopedEnv empty("QF_CONFIG_TEST_EMPTY", "");
    ScopedEnv unset("QF_CONFIG_TEST_UNSET", nullptr);
    const auto c = parse_train_config(
        "model:\n"
        "  path: ${QF_CONFIG_TEST_SET}/models/m\n"
        "  tokenizer: ${QF_CONFIG_TEST_UNSET:-../shared/data}/tok\n"
        "run:\n"
        "  name: ${QF_CONFIG_TEST_EMPTY:-fallback}-$$HOME-$5\n"
        "  output_dir: ${QF_CONFIG_TEST_UNSET:-${QF_CONFIG_TEST_SET}/runs}\n"
        "data:\n"
        "  train: [\"${QF_CONFIG_TEST_SET:-x}/a.jsonl\", plain.jsonl]\n",
        "x.yaml", {"data.format=${QF_CONFIG_TEST_UNSET:-alpaca}"});
    EXPECT_EQ(c.model.path, value + "/models/m");
    EXPECT_EQ(c.model.tokenizer, "../shared/data/tok");
    EXPECT_EQ(c.run.name, "fallback-$HOME-$5");
    EXPECT_EQ(c.run.output_dir, value + "/runs");
    EXPECT_EQ(c.data.train, (std::vector<std::string>{value + "/a.jsonl", "plain.jsonl"}));
    EXPECT_EQ(c.data.format, "alpaca");

    EXPECT_EQ(parse_error("model:\n  path: ${QF_CONFIG_TEST_UNSET}/m\n"),
              "configs/x.yaml:2: model.path: environment variable QF_CONFIG_TEST_UNSET is not set "
              "(write ${QF_CONFIG_TEST_UNSET:-default} to give a default)");
    EXPECT_NE(parse_error("data:\n  train:\n    - ok.jsonl\n    - ${QF_CONFIG_TEST_UNSET}\n")
                  .find("data.train[1]: environment variable QF_CONFIG_TEST_UNSET is not set"),
              std::string::npos);
    EXPECT_NE(parse_error("run:\n  name: ${QF_CONFIG_TEST_SET\n").find("unterminated"),
              std::string::npos);
    EXPECT_NE(parse_error("run:\n  name: ${9x}\n").find("bad variable reference \"${9x}\""),
              std::string::npos);
    EXPECT_NE(parse_error("run:\n  name: ${A-b}\n").find("bad variable reference"),
              std::string::npos);
    // Only strings expand: a number field does not take "${...}".
    EXPECT_NE(
        parse_error("lora:\n  r: ${QF_CONFIG_TEST_SET}\n").find("lora.r: expected an integer"),
        std::string::npos);
    EXPECT_EQ(expand_config_env(escape_config_env("a$b${c}$$")), "a$b${c}$$");
}

TEST(ConfigParse, UnknownKeysNameFileLineAndSuggestion) {
    EXPECT_EQ(parse_error("run:\n  name: x\n\nlora:\n  alpha: 8\n  # the rank\n  rank: 16\n"),
              "configs/x.yaml:7: unknown key \"lora.rank\" (did you mean \"lora.r\"?)");
    EXPECT_EQ(parse_error("trian:\n  lr: 1\n"),
              "configs/x.yaml:1: unknown section \"trian\" (did you mean \"train\"?)");
    EXPECT_EQ(parse_error("optimizer:\n  lr: 1\n"),
              "configs/x.yaml:1: unknown section \"optimizer\" (sections: run, model, lora, data, "
              "train, checkpoint, distributed, index)");
    EXPECT_EQ(parse_error("checkpoint:\n  zzzzzz: 1\n"),
              "configs/x.yaml:2: unknown key \"checkpoint.zzzzzz\" (keys of checkpoint: every, "
              "keep_last)");
    EXPECT_EQ(parse_error("train:\n  seq_len: 512\n"),
              "configs/x.yaml:2: unknown key \"train.seq_len\" (did you mean \"data.seq_len\"?)");
    EXPECT_EQ(parse_error("lora:\n  r: 4\n  r: 8\n"),
              "configs/x.yaml:3: duplicate key \"lora.r\" (first given on line 2)");
}

TEST(ConfigParse, WrongTypesNameKeyAndValue) {
    EXPECT_EQ(parse_error("train:\n  lr: fast\n"),
              "configs/x.yaml:2: train.lr: expected a number, got \"fast\"");
    EXPECT_EQ(parse_error("lora:\n  r: 8.5\n"),
              "configs/x.yaml:2: lora.r: expected an integer, got \"8.5\"");
    EXPECT_EQ(parse_error("lora:\n  r: 99999999999999999999\n"),
              "configs/x.yaml:2: lora.r: expected an integer, got \"99999999999999999999\"");
    EXPECT_EQ(parse_error("run:\n  seed: -1\n"),
              "configs/x.yaml:2: run.seed: expected a non-negative integer, got \"-1\"");
    EXPECT_EQ(parse_error("train:\n  lr: .inf\n"),
              "configs/x.yaml:2: train.lr: expected a number, got \".inf\"");
    EXPECT_EQ(parse_error("train:\n  lr: 1e99\n"),
              "configs/x.yaml:2: train.lr: expected a number, got \"1e99\"");
    EXPECT_EQ(parse_error("data:\n  packing: maybe\n"),
              "configs/x.yaml:2: data.packing: expected true or false, got \"maybe\"");
    EXPECT_EQ(parse_error("train:\n  lr:\n"),
              "configs/x.yaml:2: train.lr: expected a number, got nothing");
    EXPECT_EQ(parse_error("lora:\n  r: [8]\n"),
              "configs/x.yaml:2: lora.r: expected an integer, got a list");
    EXPECT_EQ(parse_error("run:\n  name: {a: b}\n"),
              "configs/x.yaml:2: run.name: expected a string, got a mapping");
    EXPECT_EQ(parse_error("data:\n  train: {a: b}\n"),
              "configs/x.yaml:2: data.train: expected a list of strings, got a mapping");
    EXPECT_EQ(parse_error("data:\n  train:\n    - a.jsonl\n    - [b.jsonl]\n"),
              "configs/x.yaml:3: data.train[1]: expected a string, got a list");
    EXPECT_EQ(parse_error("lora: 8\n"),
              "configs/x.yaml:1: section \"lora\": expected a mapping of keys, got \"8\"");
    EXPECT_EQ(parse_error("- run\n- lora\n"),
              "configs/x.yaml:1: expected a mapping of sections (run, model, lora, data, train, "
              "checkpoint, distributed, index), got a list");
    // A quoted number is still a number: the key's type decides.
    EXPECT_EQ(parse_train_config("train:\n  lr: \"3e-3\"\n", "x.yaml", {}).train.lr, 3e-3f);
}

TEST(ConfigParse, MalformedYamlNamesFileAndLine) {
    const std::string e = parse_error("run:\n  name: x\nlora:\n  r: [8, 16\n  alpha: 3\n");
    EXPECT_TRUE(e.starts_with("configs/x.yaml:")) << e;
    EXPECT_NE(e.find("malformed YAML: "), std::string::npos) << e;
    EXPECT_EQ(parse_error("lora:\n  r: 8\n---\nlora:\n  r: 4\n"),
              "configs/x.yaml: holds 2 YAML documents (separated by ---), expected one");
    EXPECT_EQ(parse_train_config("---\nlora:\n  r: 4\n...\n", "x.yaml", {}).lora.r, 4);
    const std::string tab = parse_error("lora:\n  r: 8\n alpha: 1\n");
    EXPECT_TRUE(tab.starts_with("configs/x.yaml:3:")) << tab;
    EXPECT_NE(tab.find("malformed YAML"), std::string::npos) << tab;
}

TEST(ConfigParse, MalformedOverrides) {
    EXPECT_EQ(parse_error("", {"lora.r"}),
              "--set lora.r: expected section.key=value (e.g. --set lora.r=16)");
    EXPECT_EQ(parse_error("", {"lora.rank=4"}),
              "--set lora.rank=4: unknown key \"lora.rank\" (did you mean \"lora.r\"?)");
    EXPECT_EQ(parse_error("", {"lr=1e-3"}),
              "--set lr=1e-3: unknown key \"lr\" (did you mean \"train.lr\"?)");
    EXPECT_EQ(parse_error("", {"train.lr=fast"}),
              "--set train.lr=fast: train.lr: expected a number, got \"fast\"");
    const std::string e = parse_error("", {"lora.target_modules=[q_proj, v_proj"});
    EXPECT_TRUE(e.starts_with("--set lora.target_modules=[q_proj, v_proj: malformed value: ")) << e;
}

TEST(ConfigParse, ReportsEveryProblemAtOnce) {
    const std::string e = parse_error("lora:\n  rank: 4\n  dropout: high\ntrian: {}\n",
                                      {"train.lr=fast", "nonsense"});
    EXPECT_TRUE(e.starts_with("training config (5 problems):\n")) << e;
    for (const std::string part :
         {"configs/x.yaml:2: unknown key \"lora.rank\"",
          "configs/x.yaml:3: lora.dropout: expected a number, got \"high\"",
          "configs/x.yaml:4: unknown section \"trian\"", "--set train.lr=fast: train.lr",
          "--set nonsense: expected section.key=value"}) {
        EXPECT_NE(e.find(part), std::string::npos) << part << "\nin\n" << e;
    }
}

TEST(ConfigParse, LoadsAFileAndNamesIt) {
    test::TempDir dir;
    const auto path = dir.path() / "run.yaml";
    std::ofstream(path) << "lora:\n  r: 32\n  alpah: 1\n";
    const std::string e = error_of([&] { load_train_config(path, {}); });
    EXPECT_EQ(e, path.string() + ":3: unknown key \"lora.alpah\" (did you mean \"lora.alpha\"?)");
    std::ofstream(path) << "lora:\n  r: 32\n";
    EXPECT_EQ(load_train_config(path, {}).lora.r, 32);
    EXPECT_EQ(load_train_config(path, {"lora.r=64"}).lora.r, 64);
    std::ofstream(path, std::ios::trunc).close();
    EXPECT_EQ(load_train_config(path, {}).lora.r, 8);
    EXPECT_EQ(error_of([&] { load_train_config(dir.path() / "missing.yaml", {}); }),
              (dir.path() / "missing.yaml").string() + ": config file not found");
    EXPECT_EQ(error_of([&] { load_train_config(dir.path(), {}); }),
              dir.path().string() + ": is a directory, expected a YAML config file");
}

}  // namespace
}  // namespace qforge::launcher
