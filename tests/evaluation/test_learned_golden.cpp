// What is here: BERTScore and BLEURT against tests/golden/eval (transformers with seeded
// weights in the shipped MiniLM config, tests/golden/make_golden_eval.py): token ids exactly,
// P/R/F1 and regression scores by relative error.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>

#include "evaluation/learned/bert_score.h"
#include "evaluation/learned/bleurt.h"
#include "runtime/io/safetensors.h"
#include "support/test_support.h"
#include "tests/evaluation/metrics_golden.h"

namespace qforge::eval {
namespace {

namespace fs = std::filesystem;

fs::path tokenizer_dir() {
    return test::data_dir() / "models" / "all-MiniLM-L6-v2-tokenizer";
}

double rel_err(double got, double want) {
    return std::abs(got - want) / std::max(std::abs(want), 1e-6);
}

TEST(BertScoreGolden, MatchesTransformersWithAndWithoutIdf) {
    const nlohmann::json g = test::read_json_file(test::golden_dir() / "eval" / "bertscore.json");
    const BertScorer scorer =
        BertScorer::load(test::golden_dir() / "bert" / "model", tokenizer_dir());
    std::vector<std::string> cands, refs;
    for (const auto& c : g["cases"]) {
        cands.push_back(c["candidate"].get<std::string>());
        refs.push_back(c["reference"].get<std::string>());
        EXPECT_EQ(scorer.token_ids(cands.back(), 512), c["cand_ids"].get<std::vector<int32_t>>())
            << cands.back();
        EXPECT_EQ(scorer.token_ids(refs.back(), 512), c["ref_ids"].get<std::vector<int32_t>>())
            << refs.back();
    }
    for (const bool idf : {false, true}) {
        const BertScoreResult r = scorer.score(cands, refs, {.idf = idf, .max_length = 512});
        ASSERT_EQ(r.per_example.size(), cands.size());
        EXPECT_EQ(r.n_scored, cands.size());
        EXPECT_EQ(r.n_empty, 2u);  // one empty candidate, one empty reference
        double mean_f = 0.0;
        for (std::size_t i = 0; i < cands.size(); i++) {
            const auto& want = g["cases"][i][idf ? "idf" : "plain"];
            const BertScoreValue& v = r.per_example[i];
            EXPECT_LT(rel_err(v.precision, want["P"].get<double>()), 2e-5) << i << " idf " << idf;
            EXPECT_LT(rel_err(v.recall, want["R"].get<double>()), 2e-5) << i << " idf " << idf;
            EXPECT_LT(rel_err(v.f1, want["F"].get<double>()), 2e-5) << i << " idf " << idf;
            mean_f += want["F"].get<double>();
        }
        EXPECT_LT(rel_err(r.mean.f1, mean_f / static_cast<double>(cands.size())), 2e-5);
    }
}

// The golden BLEURT checkpoint is the golden BERT encoder plus classifier.safetensors: put
// both in one sharded checkpoint with the MiniLM tokenizer, as a converted BLEURT dir looks.
fs::path assemble_bleurt(const fs::path& dir) {
    const fs::path bert = test::golden_dir() / "bert" / "model";
    fs::copy_file(bert / "config.json", dir / "config.json");
    fs::copy_file(bert / "model.safetensors", dir / "model-00001-of-00002.safetensors");
    fs::copy_file(test::golden_dir() / "eval" / "classifier.safetensors",
                  dir / "model-00002-of-00002.safetensors");
    for (const char* f : {"tokenizer.json", "tokenizer_config.json", "vocab.txt"}) {
        fs::copy_file(tokenizer_dir() / f, dir / f);
    }
    nlohmann::json map = nlohmann::json::object();
    for (const std::string& n : io::SafetensorsFile::open(bert / "model.safetensors").names()) {
        map[n] = "model-00001-of-00002.safetensors";
    }
    map["classifier.weight"] = "model-00002-of-00002.safetensors";
    map["classifier.bias"] = "model-00002-of-00002.safetensors";
    std::ofstream(dir / "model.safetensors.index.json")
        << nlohmann::json{{"metadata", nlohmann::json::object()}, {"weight_map", map}}.dump();
    return dir;
}

TEST(BleurtGolden, PairIdsAndScoresMatchTransformers) {
    const nlohmann::json g = test::read_json_file(test::golden_dir() / "eval" / "bleurt.json");
    test::TempDir tmp;
    const BleurtScorer scorer = BleurtScorer::load(assemble_bleurt(tmp.path()));
    for (const auto& run : g["runs"]) {
        const auto max_len = run["max_length"].get<int64_t>();
        std::vector<std::string> refs, cands;
        std::size_t truncated = 0;
        for (const auto& c : run["cases"]) {
            refs.push_back(c["reference"].get<std::string>());
            cands.push_back(c["candidate"].get<std::string>());
            bool cut = false;
            const BleurtPair p = scorer.encode_pair(refs.back(), cands.back(), max_len, &cut);
            truncated += cut ? 1 : 0;
            EXPECT_EQ(p.ids, c["ids"].get<std::vector<int32_t>>())
                << max_len << " " << cands.back();
            EXPECT_EQ(p.type_ids, c["type_ids"].get<std::vector<int32_t>>()) << max_len;
        }
        EXPECT_EQ(truncated, 1u) << "only the long candidate exceeds " << max_len;
        const BleurtResult r = scorer.score(refs, cands, max_len);
        ASSERT_EQ(r.n_scored, refs.size());
        EXPECT_EQ(r.n_truncated, 1u);
        for (std::size_t i = 0; i < refs.size(); i++) {
            EXPECT_LT(rel_err(r.per_example[i], run["cases"][i]["score"].get<double>()), 1e-5)
                << "max_length " << max_len << " case " << i;
        }
    }
}

TEST(BleurtPairs, LongestFirstTruncationKeepsTheBudget) {
    test::TempDir tmp;
    const BleurtScorer scorer = BleurtScorer::load(assemble_bleurt(tmp.path()));
    const std::string long_a(4000, 'a'), words = "one two three four five six seven eight nine";
    std::string many;
    for (int i = 0; i < 80; i++) {
        many += words + " ";
    }
    for (const int64_t max_len : {9, 10, 24, 512}) {
        const BleurtPair p = scorer.encode_pair(many, many + "ten", max_len);
        EXPECT_EQ(static_cast<int64_t>(p.ids.size()), max_len);
        EXPECT_EQ(p.type_ids.size(), p.ids.size());
        const BleurtPair empty = scorer.encode_pair("", many, max_len);
        EXPECT_EQ(static_cast<int64_t>(empty.ids.size()), max_len);
        EXPECT_EQ(empty.type_ids[2], 1);  // [CLS] [SEP] then the candidate
    }
}

}  // namespace
}  // namespace qforge::eval
