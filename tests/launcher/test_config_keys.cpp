// The key table behind the training config: every name maps to its own member of TrainConfig,
// and misspelt names get the suggestion a user would expect.
#include <gtest/gtest.h>
#include <random>
#include <set>

#include "kernels/common.h"
#include "launcher/config_keys.h"
#include "support/test_support.h"

namespace qforge::launcher {
namespace {

TEST(ConfigKeys, NamesAreUniqueAndInKnownSections) {
    std::set<std::string_view> names;
    const std::set<std::string_view> sections(config_sections().begin(), config_sections().end());
    for (const auto& k : config_keys()) {
        EXPECT_TRUE(names.insert(k.name).second) << "duplicate key " << k.name;
        EXPECT_TRUE(sections.count(k.section())) << k.name;
        EXPECT_FALSE(k.key().empty()) << k.name;
        EXPECT_EQ(find_config_key(k.name), &k);
    }
    EXPECT_EQ(find_config_key("lora"), nullptr);
    EXPECT_EQ(find_config_key("lora.rank"), nullptr);
    EXPECT_THROW(config_key("lora.rank"), Error);
}

TEST(ConfigKeys, EveryKeySetsItsOwnMember) {
    // Writing through one key must change exactly that key's value and no other.
    train::TrainConfig config;
    std::set<const void*> members;
    for (const auto& k : config_keys()) {
        const void* p =
            std::visit([](auto* m) -> const void* { return m; }, config_field(k, config));
        EXPECT_TRUE(members.insert(p).second) << k.name << " shares a member with another key";
    }
    // Spot-check that names point where they say.
    EXPECT_EQ(std::get<int64_t*>(config_field(config_key("lora.r"), config)), &config.lora.r);
    EXPECT_EQ(std::get<float*>(config_field(config_key("train.lr"), config)), &config.train.lr);
    EXPECT_EQ(std::get<uint64_t*>(config_field(config_key("run.seed"), config)), &config.run.seed);
    EXPECT_EQ(std::get<double*>(config_field(config_key("data.validation_fraction"), config)),
              &config.data.validation_fraction);
    EXPECT_EQ(std::get<std::vector<std::string>*>(config_field(config_key("data.train"), config)),
              &config.data.train);
    EXPECT_EQ(std::get<int64_t*>(config_field(config_key("checkpoint.every"), config)),
              &config.checkpoint.every);
}

TEST(ConfigKeys, TypeNamesAndValueText) {
    train::TrainConfig config;
    config.lora.r = 13;
    config.train.lr = 3e-3f;
    config.data.train = {"a.jsonl", "b.jsonl"};
    config.model.path = "";
    config.data.packing = false;
    EXPECT_EQ(config_type_name(config_key("lora.r")), "integer");
    EXPECT_EQ(config_type_name(config_key("run.seed")), "non-negative integer");
    EXPECT_EQ(config_type_name(config_key("train.lr")), "number");
    EXPECT_EQ(config_type_name(config_key("data.validation_fraction")), "number");
    EXPECT_EQ(config_type_name(config_key("data.packing")), "bool");
    EXPECT_EQ(config_type_name(config_key("model.path")), "string");
    EXPECT_EQ(config_type_name(config_key("data.train")), "list of strings");
    EXPECT_EQ(config_value_text(config_key("lora.r"), config), "13");
    EXPECT_EQ(config_value_text(config_key("train.lr"), config), "0.003");
    EXPECT_EQ(config_value_text(config_key("data.train"), config), "[a.jsonl, b.jsonl]");
    EXPECT_EQ(config_value_text(config_key("model.path"), config), "\"\"");
    EXPECT_EQ(config_value_text(config_key("data.packing"), config), "false");
}

TEST(ConfigKeys, EditDistance) {
    EXPECT_EQ(config_edit_distance("kitten", "sitting"), 3u);
    EXPECT_EQ(config_edit_distance("trian", "train"), 1u);  // a swap is one edit
    EXPECT_EQ(config_edit_distance("", "abc"), 3u);
    EXPECT_EQ(config_edit_distance("rank", "r"), 3u);
    std::mt19937_64 rng(test::test_seed());
    std::uniform_int_distribution<int> len(1, 12), letter('a', 'd');
    for (int trial = 0; trial < 200; ++trial) {
        std::string a, b;
        for (int i = len(rng); i > 0; --i)
            a += static_cast<char>(letter(rng));
        for (int i = len(rng); i > 0; --i)
            b += static_cast<char>(letter(rng));
        const std::size_t d = config_edit_distance(a, b);
        EXPECT_EQ(d, config_edit_distance(b, a)) << a << " " << b;
        EXPECT_EQ(config_edit_distance(a, a), 0u);
        EXPECT_LE(d, std::max(a.size(), b.size()));
        EXPECT_GE(d, a.size() > b.size() ? a.size() - b.size() : b.size() - a.size());
    }
}

TEST(ConfigKeys, SuggestsTheKeyAUserMeant) {
    const std::pair<std::string_view, std::string_view> cases[] = {
        {"lora.rank", "lora.r"},
        {"lr", "train.lr"},
        {"train.seq_len", "data.seq_len"},
        {"lora.dropuot", "lora.dropout"},
        {"lora.alhpa", "lora.alpha"},
        {"train.warmup", "train.warmup_steps"},
        {"train.micro_batch_size", "train.micro_batch"},
        {"trian.lr", "train.lr"},
        {"checkpoint.keep", "checkpoint.keep_last"},
        {"model.quantise", "model.quantize"},
        {"data.max_seq_len", "data.seq_len"},
    };
    for (const auto& [typed, meant] : cases) {
        const auto guess = closest_config_key(typed);
        ASSERT_TRUE(guess.has_value()) << typed;
        EXPECT_EQ(*guess, meant) << typed;
    }
    EXPECT_FALSE(closest_config_key("lora.zzzzzz").has_value());
    EXPECT_FALSE(closest_config_key("completely.unrelated").has_value());
    EXPECT_EQ(closest_config_section("trian"), "train");
    EXPECT_EQ(closest_config_section("chekpoint"), "checkpoint");
    EXPECT_EQ(closest_config_section("models"), "model");
    EXPECT_FALSE(closest_config_section("optimizer").has_value());
}

}  // namespace
}  // namespace qforge::launcher
