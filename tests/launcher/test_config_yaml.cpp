// The training config as YAML: train_config_to_yaml reads back to the same config, the shipped
// configs/*.yaml parse and validate against the shipped data, and docs/config.md documents every
// key of the table with its true type and default.
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "kernels/common.h"
#include "launcher/config.h"
#include "launcher/config_keys.h"
#include "launcher/eval_config.h"
#include "launcher/sweep_plan.h"
#include "support/test_support.h"

namespace qforge::launcher {
namespace {

std::filesystem::path source_dir() {
    return QFORGE_SOURCE_DIR;
}

using test::read_text;

// Every key holds the same value in both, floats compared bit for bit.
void expect_same_config(const train::TrainConfig& a, const train::TrainConfig& b) {
    for (const auto& k : config_keys()) {
        std::visit(
            [&](const auto* x) {
                using T = std::remove_cvref_t<decltype(*x)>;
                const T& y = *std::get<T*>(config_field(k, b));
                if constexpr (std::is_floating_point_v<T>) {
                    EXPECT_EQ(std::memcmp(x, &y, sizeof(T)), 0)
                        << k.name << ": " << *x << " vs " << y;
                } else {
                    EXPECT_EQ(*x, y) << k.name;
                }
            },
            config_field(k, a));
    }
}

// Strings that are hard to write in YAML: quotes, colons, comments, $, leading spaces,
// words YAML reads as bools or null, non-ASCII, newlines.
std::string random_string(std::mt19937_64& rng) {
    static const std::vector<std::string> pieces = {
        "a", "Z",    "0",    "7",  " ",   ":",    ": ", "#",   " #",  "'",  "\"", "\\",
        "$", "${",   "${X}", "$$", "-",   "- ",   "[",  "]",   "{",   "}",  ",",  "&",
        "*", "!",    "|",    ">",  "%",   "@",    "`",  "?",   "\t",  "\n", "é",  "日本",
        "~", "null", "true", "no", "1e3", "0x1F", "/",  "../", "run", "π"};
    std::uniform_int_distribution<std::size_t> count(0, 6), pick(0, pieces.size() - 1);
    std::string s;
    for (std::size_t n = count(rng); n > 0; --n) {
        s += pieces[pick(rng)];
    }
    return s;
}

// A config with a random value in every key, whatever its validity.
train::TrainConfig random_config(std::mt19937_64& rng) {
    train::TrainConfig config;
    std::uniform_int_distribution<int> exponent(-12, 12), coin(0, 1), length(0, 4);
    std::uniform_real_distribution<double> mantissa(-10.0, 10.0);
    for (const auto& k : config_keys()) {
        struct Fill {
            std::mt19937_64& rng;
            std::uniform_int_distribution<int>& exponent;
            std::uniform_int_distribution<int>& coin;
            std::uniform_int_distribution<int>& length;
            std::uniform_real_distribution<double>& mantissa;

            void operator()(int64_t* v) { *v = static_cast<int64_t>(rng()); }

            void operator()(uint64_t* v) { *v = rng(); }

            void operator()(float* v) {
                *v = static_cast<float>(mantissa(rng) * std::pow(10.0, exponent(rng)));
            }

            void operator()(double* v) { *v = mantissa(rng) * std::pow(10.0, exponent(rng)); }

            void operator()(bool* v) { *v = coin(rng) == 1; }

            void operator()(std::string* v) { *v = random_string(rng); }

            void operator()(std::vector<std::string>* v) {
                v->clear();
                for (int n = length(rng); n > 0; --n) {
                    v->push_back(random_string(rng));
                }
            }
        };

        std::visit(Fill{rng, exponent, coin, length, mantissa}, config_field(k, config));
    }
    return config;
}

TEST(ConfigYaml, DefaultsRoundTrip) {
    const train::TrainConfig defaults;
    const std::string yaml = train_config_to_yaml(defaults);
    expect_same_config(parse_train_config(yaml, "resolved.yaml", {}), defaults);
    EXPECT_NE(yaml.find("lr: 0.0002\n"), std::string::npos) << yaml;
    EXPECT_NE(yaml.find("eps: 1e-08\n"), std::string::npos) << yaml;
}

TEST(ConfigYaml, RandomConfigsRoundTrip) {
    std::mt19937_64 rng(test::test_seed());
    for (int trial = 0; trial < 200; ++trial) {
        const train::TrainConfig config = random_config(rng);
        const std::string yaml = train_config_to_yaml(config);
        SCOPED_TRACE(yaml);
        const train::TrainConfig back = parse_train_config(yaml, "resolved.yaml", {});
        expect_same_config(back, config);
        EXPECT_EQ(train_config_to_yaml(back), yaml);
    }
}

TEST(ConfigYaml, EveryKeyIsWrittenInItsSection) {
    train::TrainConfig config;
    config.data.train = {"a.jsonl"};
    const std::string yaml = train_config_to_yaml(config);
    std::string section;
    std::set<std::string> seen;
    std::istringstream lines(yaml);
    for (std::string line; std::getline(lines, line);) {
        if (line.empty() || line[0] == '#') {
            continue;
        }
        if (line[0] != ' ') {
            section = line.substr(0, line.find(':'));
        } else {
            seen.insert(section + "." + line.substr(2, line.find(':') - 2));
        }
    }
    std::set<std::string> expected;
    for (const auto& k : config_keys()) {
        expected.insert(std::string(k.name));
    }
    EXPECT_EQ(seen, expected) << yaml;
}

// The rows of docs/config.md's key tables: "| `lora.r` | integer | `8` | meaning |".
// (Parsed by hand: std::regex trips GCC 12's -Wmaybe-uninitialized under the sanitizers.)
struct DocRow {
    std::string type;
    std::string default_text;
};

std::vector<std::string> table_cells(const std::string& line) {
    std::vector<std::string> cells;
    std::istringstream in(line.substr(1));
    for (std::string cell; std::getline(in, cell, '|');) {
        const auto begin = cell.find_first_not_of(' ');
        const auto end = cell.find_last_not_of(' ');
        cells.push_back(begin == std::string::npos ? "" : cell.substr(begin, end - begin + 1));
    }
    return cells;
}

std::string unquote_code(const std::string& cell) {
    const bool code = cell.size() >= 2 && cell.front() == '`' && cell.back() == '`';
    return code ? cell.substr(1, cell.size() - 2) : "";
}

std::map<std::string, DocRow> doc_rows(const std::string& doc) {
    std::map<std::string, DocRow> rows;
    std::istringstream lines(doc);
    for (std::string line; std::getline(lines, line);) {
        if (!line.starts_with("| `")) {
            continue;
        }
        const auto cells = table_cells(line);
        if (cells.size() >= 4 && unquote_code(cells[0]).find('.') != std::string::npos) {
            rows[unquote_code(cells[0])] = {cells[1], unquote_code(cells[2])};
        }
    }
    return rows;
}

// Every "`section.key`" or "`section.key=" the docs write, for the known section names.
std::vector<std::string> doc_key_mentions(const std::string& doc) {
    std::vector<std::string> found;
    for (std::size_t tick = doc.find('`'); tick != std::string::npos;
         tick = doc.find('`', tick + 1)) {
        for (const auto section : config_sections()) {
            const std::string prefix = std::string(section) + ".";
            if (doc.compare(tick + 1, prefix.size(), prefix) != 0) {
                continue;
            }
            std::size_t end = tick + 1 + prefix.size();
            while (end < doc.size() &&
                   (std::islower(static_cast<unsigned char>(doc[end])) ||
                    std::isdigit(static_cast<unsigned char>(doc[end])) || doc[end] == '_')) {
                ++end;
            }
            if (end < doc.size() && (doc[end] == '`' || doc[end] == '=')) {
                found.push_back(doc.substr(tick + 1, end - tick - 1));
            }
        }
    }
    return found;
}

TEST(ConfigYaml, DocsDescribeEveryKeyTruly) {
    const std::string doc = read_text(source_dir() / "docs/config.md");
    ASSERT_FALSE(doc.empty()) << "docs/config.md is missing";
    const auto rows = doc_rows(doc);
    const train::TrainConfig defaults;
    for (const auto& k : config_keys()) {
        const auto row = rows.find(std::string(k.name));
        ASSERT_NE(row, rows.end()) << "docs/config.md has no table row for `" << k.name << "`";
        EXPECT_EQ(row->second.type, config_type_name(k)) << k.name;
        EXPECT_EQ(row->second.default_text, config_value_text(k, defaults)) << k.name;
    }
    EXPECT_EQ(rows.size(), config_keys().size());
    // And the docs name no key that does not exist (e.g. one renamed since).
    const auto mentions = doc_key_mentions(doc);
    EXPECT_GT(mentions.size(), config_keys().size());
    for (const auto& name : mentions) {
        EXPECT_NE(find_config_key(name), nullptr) << "docs/config.md mentions unknown key " << name;
    }
}

class ShippedConfigs : public ::testing::Test {
protected:
    void SetUp() override {
        data_ = test::data_dir();
        if (!std::filesystem::exists(data_ / "models/stories260K/config.json")) {
            GTEST_SKIP() << "shipped data not found at " << data_ << " (set QFORGE_DATA)";
        }
        if (const char* old = std::getenv("QFORGE_DATA")) {
            old_ = old;
        }
        setenv("QFORGE_DATA", data_.c_str(), 1);
    }

    void TearDown() override {
        if (old_) {
            setenv("QFORGE_DATA", old_->c_str(), 1);
        } else {
            unsetenv("QFORGE_DATA");
        }
    }

    std::filesystem::path data_;
    std::optional<std::string> old_;
};

TEST_F(ShippedConfigs, AllParseAndValidate) {
    int count = 0;
    for (const auto& entry : std::filesystem::directory_iterator(source_dir() / "configs")) {
        if (entry.path().extension() != ".yaml") {
            continue;
        }
        SCOPED_TRACE(entry.path().string());
        std::ifstream text(entry.path());
        const std::string body((std::istreambuf_iterator<char>(text)), {});
        if (body.find("\nsweep:") != std::string::npos) {  // a sweep file: every trial validates
            // its paths are relative to the repository root, where the docs run it from
            const auto cwd = std::filesystem::current_path();
            std::filesystem::current_path(source_dir());
            const auto plan = sweep_plan_load(entry.path());
            std::filesystem::current_path(cwd);
            EXPECT_FALSE(plan.trials.empty());
            continue;
        }
        if (body.find("\nmetrics:") != std::string::npos) {  // an eval config (docs/eval.md)
            EXPECT_FALSE(load_eval_config(entry.path()).metrics.names.empty());
            continue;
        }
        const auto config = load_train_config(entry.path(), {});
        EXPECT_NO_THROW(validate_train_config(config));
        // What is written into a run directory reads back the same.
        expect_same_config(parse_train_config(train_config_to_yaml(config), "resolved", {}),
                           config);
        ++count;
    }
    EXPECT_GE(count, 2);
}

TEST_F(ShippedConfigs, QuickstartTrainsTheShippedModel) {
    const auto path = source_dir() / "configs/quickstart.yaml";
    const auto c = load_train_config(path, {});
    EXPECT_EQ(std::filesystem::canonical(c.model.path),
              std::filesystem::canonical(data_ / "models/stories260K"));
    ASSERT_EQ(c.data.train.size(), 1u);
    EXPECT_EQ(std::filesystem::canonical(c.data.train[0]),
              std::filesystem::canonical(data_ / "datasets/dolly-slice/dolly_151_alpaca.jsonl"));
    EXPECT_EQ(c.model.init, "pretrained");
    EXPECT_EQ(c.lora.r, 8);
    EXPECT_EQ(c.lora.target_modules.size(), 7u);
    EXPECT_EQ(c.data.seq_len, 256);
    EXPECT_EQ(c.train.micro_batch, 8);
    EXPECT_EQ(c.train.max_steps, 60);
    EXPECT_EQ(c.train.lr, 3e-3f);
    EXPECT_EQ(c.train.warmup_steps, 5);
    EXPECT_EQ(c.train.schedule, "cosine");
    EXPECT_EQ(c.train.eval_every, 10);
    EXPECT_EQ(c.checkpoint.every, 20);
    EXPECT_EQ(c.checkpoint.keep_last, 2);
    // The override its header comment shows.
    const std::string text = read_text(path);
    EXPECT_NE(text.find("qforge train configs/quickstart.yaml --set lora.r=16"), std::string::npos);
    const auto r16 = load_train_config(path, {"lora.r=16"});
    EXPECT_EQ(r16.lora.r, 16);
    EXPECT_NO_THROW(validate_train_config(r16));
}

TEST_F(ShippedConfigs, Llama3Is8bRandomInit) {
    const auto c = load_train_config(source_dir() / "configs/llama3-8b-qlora.yaml", {});
    EXPECT_EQ(c.model.init, "random");
    EXPECT_EQ(c.model.shape, "llama3-8b");
    EXPECT_EQ(c.model.quantize, "nf4");
    EXPECT_EQ(c.data.seq_len, 2048);
    EXPECT_EQ(c.train.micro_batch, 2);
}

TEST_F(ShippedConfigs, QforgeDataDefaultAppliesWhenUnset) {
    // Without QFORGE_DATA the paths fall back to ../shared/data, relative to the working dir.
    unsetenv("QFORGE_DATA");
    const auto c = load_train_config(source_dir() / "configs/quickstart.yaml", {});
    EXPECT_EQ(c.model.path, "../shared/data/models/stories260K");
    EXPECT_EQ(c.data.train, std::vector<std::string>{
                                "../shared/data/datasets/dolly-slice/dolly_151_alpaca.jsonl"});
}

}  // namespace
}  // namespace qforge::launcher
