// Validating the training config: a good config passes, and each out-of-range number, unknown
// choice or missing path is reported by key, all problems in one message.
#include <fstream>
#include <gtest/gtest.h>

#include "kernels/common.h"
#include "launcher/config.h"
#include "support/test_support.h"

namespace qforge::launcher {
namespace {

// A model directory and a data file of its own, so the checks need no shipped data.
class ConfigValidate : public ::testing::Test {
protected:
    void SetUp() override {
        std::filesystem::create_directories(model_dir());
        std::ofstream(model_dir() / "config.json") << "{}";
        std::ofstream(data_file()) << "{\"text\": \"hi\"}\n";
    }

    std::filesystem::path model_dir() const { return dir_.path() / "model"; }

    std::filesystem::path data_file() const { return dir_.path() / "train.jsonl"; }

    std::string base_yaml() const {
        return fmt::format("model:\n  path: \"{}\"\ndata:\n  train: [\"{}\"]\n",
                           model_dir().string(), data_file().string());
    }

    train::TrainConfig with(const std::vector<std::string>& overrides) const {
        return parse_train_config(base_yaml(), "base.yaml", overrides);
    }

    // The validation message for `overrides` applied to the good base config.
    std::string problem(const std::vector<std::string>& overrides) const {
        try {
            validate_train_config(with(overrides));
        } catch (const Error& e) {
            return e.what();
        }
        return "";
    }

private:
    test::TempDir dir_;
};

TEST_F(ConfigValidate, GoodConfigsPass) {
    EXPECT_NO_THROW(validate_train_config(with({})));
    std::ofstream(model_dir() / "tokenizer.json") << "{}";
    EXPECT_NO_THROW(validate_train_config(with(
        {"model.init=random", "model.shape=tiny",
         "model.path=", "model.tokenizer=" + model_dir().string(), "lora.target_modules=[q_proj]",
         "lora.dropout=0", "data.validation_fraction=0", "train.schedule=constant",
         "model.quantize=none", "train.max_steps=10", "train.epochs=0"})));
    // tokenizer.json in a directory, or the file itself
    EXPECT_NO_THROW(validate_train_config(with({"model.tokenizer=" + model_dir().string()})));
    EXPECT_NO_THROW(validate_train_config(
        with({"model.tokenizer=" + (model_dir() / "tokenizer.json").string()})));
}

TEST_F(ConfigValidate, RangesAndChoices) {
    const std::pair<std::vector<std::string>, std::string> cases[] = {
        {{"lora.r=0"}, "lora.r: must be >= 1, got 0"},
        {{"lora.alpha=-2"}, "lora.alpha: must be > 0, got -2"},
        {{"train.lr=0"}, "train.lr: must be > 0, got 0"},
        {{"train.lr=-0.001"}, "train.lr: must be > 0, got -0.001"},
        {{"lora.dropout=1"}, "lora.dropout: must be in [0, 1), got 1"},
        {{"lora.dropout=-0.1"}, "lora.dropout: must be in [0, 1), got -0.1"},
        {{"data.validation_fraction=1"}, "data.validation_fraction: must be in [0, 1), got 1"},
        {{"data.validation_fraction=-0.5"},
         "data.validation_fraction: must be in [0, 1), got -0.5"},
        {{"train.micro_batch=0"}, "train.micro_batch: must be >= 1, got 0"},
        {{"train.grad_accum=-3"}, "train.grad_accum: must be >= 1, got -3"},
        {{"data.seq_len=1"}, "data.seq_len: must be >= 2, got 1"},
        {{"train.schedule=step"},
         "train.schedule: must be one of cosine, linear, constant, got \"step\""},
        {{"model.quantize=int4"}, "model.quantize: must be one of nf4, none, got \"int4\""},
        {{"model.init=scratch"}, "model.init: must be one of pretrained, random, got \"scratch\""},
        {{"data.format=csv"}, "data.format: must be one of auto, alpaca, chat, text, got \"csv\""},
        {{"train.max_steps=-1"}, "train.max_steps: must be >= 0, got -1"},
        {{"train.epochs=0"}, "train.epochs: must be >= 1 when train.max_steps is 0, got 0"},
        {{"train.beta2=1"}, "train.beta2: must be in [0, 1), got 1"},
        {{"train.eps=0"}, "train.eps: must be > 0, got 0"},
        {{"train.min_lr_ratio=1.5"}, "train.min_lr_ratio: must be in [0, 1], got 1.5"},
        {{"train.log_every=0"}, "train.log_every: must be >= 1, got 0"},
        {{"train.activation_offload_fraction=1.5"},
         "train.activation_offload_fraction: must be in [0, 1], or -1 for the default, got 1.5"},
        {{"train.eval_every=5", "data.validation_fraction=0"},
         "train.eval_every: must be 0 when data.validation_fraction is 0 (no validation split), "
         "got "
         "5"},
        {{"checkpoint.keep_last=0"}, "checkpoint.keep_last: must be >= 1, got 0"},
        {{"checkpoint.every=-20"}, "checkpoint.every: must be >= 0, got -20"},
        {{"run.name=a/b"}, "run.name: must be a directory name without '/', got \"a/b\""},
    };
    for (const auto& [overrides, expected] : cases) {
        const std::string e = problem(overrides);
        EXPECT_EQ(e, "invalid training config: " + expected) << overrides[0];
    }
}

TEST_F(ConfigValidate, ModelShapeAndPaths) {
    EXPECT_EQ(problem({"model.init=random"}),
              "invalid training config: model.shape: must be one of llama3-8b, llama3-1b, tiny, "
              "got \"\"");
    EXPECT_EQ(problem({"model.init=random", "model.shape=gpt2"}),
              "invalid training config: model.shape: must be one of llama3-8b, llama3-1b, tiny, "
              "got \"gpt2\"");
    EXPECT_NE(problem({"model.shape=llama3-8b"})
                  .find("model.shape: must be empty unless "
                        "model.init=random"),
              std::string::npos);
    EXPECT_EQ(problem({"model.path="}),
              "invalid training config: model.path: required with model.init=pretrained");
    EXPECT_EQ(problem({"model.path=/no/such/model"}),
              "invalid training config: model.path: not a model directory: /no/such/model");
    EXPECT_NO_THROW(validate_train_config(with({"model.init=random", "model.shape=llama3-1b"})));
    EXPECT_EQ(problem({"model.init=random", "model.shape=tiny", "model.path="}),
              "invalid training config: model.tokenizer: required with model.init=random when "
              "model.path is not given");
    EXPECT_EQ(problem({"model.init=random", "model.shape=tiny", "model.tokenizer=/no/tok"}),
              "invalid training config: model.tokenizer: not found: /no/tok");
    EXPECT_EQ(problem({"model.tokenizer=" + model_dir().string()}),
              "invalid training config: model.tokenizer: " + model_dir().string() +
                  " holds no tokenizer.json");
    std::filesystem::remove(model_dir() / "config.json");
    EXPECT_EQ(problem({}), "invalid training config: model.path: " + model_dir().string() +
                               " holds no config.json");
}

TEST_F(ConfigValidate, TargetModulesAndDataFiles) {
    EXPECT_EQ(problem({"lora.target_modules=[]"}),
              "invalid training config: lora.target_modules: must name at least one of q_proj, "
              "k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj");
    EXPECT_EQ(problem({"lora.target_modules=[q_proj, lm_head]"}),
              "invalid training config: lora.target_modules[1]: \"lm_head\" is not one of q_proj, "
              "k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj");
    EXPECT_EQ(problem({"lora.target_modules=[v_proj, q_proj, v_proj]"}),
              "invalid training config: lora.target_modules[2]: \"v_proj\" is listed twice");
    EXPECT_EQ(problem({"data.train=[]"}),
              "invalid training config: data.train: required: at least one JSONL file");
    EXPECT_EQ(problem({fmt::format("data.train=[{}, /no/such.jsonl]", data_file().string())}),
              "invalid training config: data.train[1]: file not found: /no/such.jsonl");
    EXPECT_EQ(problem({"data.train=" + model_dir().string()}),
              "invalid training config: data.train[0]: not a file: " + model_dir().string());
}

TEST_F(ConfigValidate, ListsEveryProblem) {
    const std::string e = problem({"lora.r=0", "train.lr=-1", "train.schedule=step",
                                   "data.train=[missing.jsonl]", "model.init=random"});
    EXPECT_TRUE(e.starts_with("invalid training config (5 problems):\n  ")) << e;
    for (const std::string part :
         {"lora.r: must be >= 1", "train.lr: must be > 0", "train.schedule: must be one of",
          "data.train[0]: file not found: missing.jsonl", "model.shape: must be one of"}) {
        EXPECT_NE(e.find(part), std::string::npos) << part << "\nin\n" << e;
    }
}

}  // namespace
}  // namespace qforge::launcher
