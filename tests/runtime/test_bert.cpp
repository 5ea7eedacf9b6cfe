// BertEncoder against Hugging Face BertModel (tests/golden/bert/, made by
// tests/golden/make_golden_bert.py): a seeded random-weight model with the MiniLM vocabulary
// shrunk to 2 layers / hidden 64 / 4 heads / intermediate 128, run on a padded batch of three
// sentences. The real MiniLM size (6 layers, hidden 384, 12 heads) is exercised by shape only,
// with random weights, since no pretrained encoder ships.
#include <cmath>
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <string>

#include "kernels/common.h"
#include "runtime/encoder/bert_encoder.h"
#include "runtime/io/safetensors.h"
#include "support/random_bert.h"
#include "support/test_support.h"

namespace qforge {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

fs::path model_dir() {
    return test::golden_dir() / "bert" / "model";
}

fs::path minilm_dir() {
    return test::data_dir() / "models" / "all-MiniLM-L6-v2-tokenizer";
}

json golden() {
    std::ifstream in(test::golden_dir() / "bert" / "golden.json");
    EXPECT_TRUE(in.good());
    return json::parse(in);
}

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
    double ab = 0, aa = 0, bb = 0;
    for (std::size_t i = 0; i < a.size(); i++) {
        ab += static_cast<double>(a[i]) * b[i];
        aa += static_cast<double>(a[i]) * a[i];
        bb += static_cast<double>(b[i]) * b[i];
    }
    return ab / std::sqrt(aa * bb);
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "<no error>";
}

std::vector<int32_t> flat(const json& rows) {
    std::vector<int32_t> out;
    for (const json& r : rows) {
        for (const json& x : r) {
            out.push_back(x.get<int32_t>());
        }
    }
    return out;
}

TEST(Bert, GoldenHiddenStatesMatchHuggingFace) {
    const json g = golden();
    const auto enc = BertEncoder::load(model_dir(), minilm_dir());
    EXPECT_EQ(enc.config().hidden_size, 64);
    EXPECT_EQ(enc.config().num_hidden_layers, 2);
    const int64_t B = g["B"], T = g["T"], H = g["H"];
    // Our tokenizer gives the batch's ids (padding with [PAD] = 0 to the longest).
    const auto ids = flat(g["input_ids"]);
    const auto mask = flat(g["attention_mask"]);
    for (int64_t b = 0; b < B; b++) {
        auto mine = enc.tokenizer().encode(g["sentences"][b].get<std::string>());
        mine.resize(static_cast<std::size_t>(T), 0);
        EXPECT_EQ(mine, std::vector<int32_t>(ids.begin() + b * T, ids.begin() + (b + 1) * T));
    }
    const Tensor h = enc.forward(ids, mask, B, T);
    ASSERT_EQ(h.shape(), (std::vector<int64_t>{B, T, H}));
    const auto ref = g["last_hidden_state"].get<std::vector<float>>();
    ASSERT_EQ(static_cast<int64_t>(ref.size()), B * T * H);
    double max_err = 0, max_ref = 0, max_rel = 0;
    for (std::size_t i = 0; i < ref.size(); i++) {
        const double err = std::abs(static_cast<double>(h.data<float>()[i]) - ref[i]);
        ASSERT_TRUE(std::isfinite(h.data<float>()[i])) << i;
        max_err = std::max(max_err, err);
        max_ref = std::max(max_ref, std::abs(static_cast<double>(ref[i])));
        // Element-wise, relative to the element but floored at 0.1 of the typical magnitude.
        max_rel = std::max(max_rel, err / std::max(std::abs(static_cast<double>(ref[i])), 0.1));
    }
    std::printf("hidden states: max abs err %.3g, max |ref| %.3g, max rel err %.3g\n", max_err,
                max_ref, max_rel);
    EXPECT_LT(max_err / max_ref, 1e-4);
    EXPECT_LT(max_rel, 1e-4);
}

TEST(Bert, GoldenEmbeddingsMatchHuggingFace) {
    const json g = golden();
    const auto enc = BertEncoder::load(model_dir(), minilm_dir());
    const auto sentences = g["sentences"].get<std::vector<std::string>>();
    // Batch sizes 1, 2 and 3 pad differently; padding must not change any embedding.
    for (int64_t batch : {1, 2, 3}) {
        const auto mean = enc.embed(sentences, Pooling::kMean, true, batch);
        const auto cls = enc.embed(sentences, Pooling::kCls, true, batch);
        ASSERT_EQ(mean.size(), sentences.size());
        for (std::size_t i = 0; i < sentences.size(); i++) {
            const auto ref_mean = g["mean_normalized"][i].get<std::vector<float>>();
            const auto ref_cls = g["cls_normalized"][i].get<std::vector<float>>();
            ASSERT_EQ(mean[i].size(), 64u);
            EXPECT_GT(cosine(mean[i], ref_mean), 0.99999) << "batch " << batch << " text " << i;
            EXPECT_GT(cosine(cls[i], ref_cls), 0.99999) << "batch " << batch << " text " << i;
            double norm = 0;
            for (float x : mean[i]) {
                norm += static_cast<double>(x) * x;
            }
            EXPECT_NEAR(norm, 1.0, 1e-5);
        }
    }
    // Without normalization the mean keeps its length (not 1 for these weights).
    const auto raw = enc.embed({sentences[0]}, Pooling::kMean, false, 4);
    double norm = 0;
    for (float x : raw[0]) {
        norm += static_cast<double>(x) * x;
    }
    EXPECT_GT(std::abs(std::sqrt(norm) - 1.0), 1e-2);
    EXPECT_GT(cosine(raw[0], g["mean_normalized"][0].get<std::vector<float>>()), 0.99999);
}

TEST(Bert, EmbedTruncatesAndKeepsOrder) {
    const auto enc = BertEncoder::load(model_dir(), minilm_dir());
    const std::vector<std::string> texts = {
        "a fairly long sentence that will be cut short by the length limit", "tiny",
        "a medium sized sentence here", "x"};
    const auto got = enc.embed(texts, Pooling::kMean, true, 3, 6);
    ASSERT_EQ(got.size(), texts.size());
    for (std::size_t i = 0; i < texts.size(); i++) {
        // Each text alone, truncated to 6 ids ([CLS] + 4 tokens + [SEP] at most), unpadded.
        const auto ids = enc.tokenizer().encode(texts[i], 6);
        ASSERT_LE(ids.size(), 6u);
        const std::vector<int32_t> mask(ids.size(), 1);
        const Tensor h = enc.forward(ids, mask, 1, static_cast<int64_t>(ids.size()));
        const auto ref = pool_hidden_states(h, mask.data(), Pooling::kMean, true);
        EXPECT_GT(cosine(got[i], ref[0]), 0.999999) << texts[i];
    }
    EXPECT_LT(cosine(got[0], got[1]), 0.9999);
    EXPECT_TRUE(enc.embed({}, Pooling::kCls).empty());
}

// Rewrites the golden checkpoint with every name prefixed by "bert." (the sentence-transformers
// and BLEURT layout), plus an unrelated classifier head that must be ignored.
TEST(Bert, BertPrefixedCheckpointGivesSameOutput) {
    const auto ref_enc = BertEncoder::load(model_dir(), minilm_dir());
    test::TempDir dir;
    const auto src = io::SafetensorsFile::open(model_dir() / "model.safetensors");
    std::vector<std::pair<std::string, Tensor>> tensors;
    for (const std::string& name : src.names()) {
        tensors.emplace_back("bert." + name, src.get(name));
    }
    Tensor head = Tensor::empty({2, 64}, DType::kF32);
    const auto r = test::random_floats(128);
    std::copy(r.begin(), r.end(), head.data<float>());
    tensors.emplace_back("classifier.weight", head);
    io::safetensors_write(dir.path() / "model.safetensors", tensors);
    fs::copy_file(model_dir() / "config.json", dir.path() / "config.json");
    const auto enc = BertEncoder::load(dir.path(), minilm_dir());
    const std::vector<int32_t> ids = {101, 7592, 2088, 102, 101, 1996, 102, 0};
    const std::vector<int32_t> mask = {1, 1, 1, 1, 1, 1, 1, 0};
    const Tensor a = enc.forward(ids, mask, 2, 4), b = ref_enc.forward(ids, mask, 2, 4);
    for (int64_t i = 0; i < a.numel(); i++) {
        ASSERT_EQ(a.data<float>()[i], b.data<float>()[i]) << i;
    }
}

TEST(Bert, RealMiniLmSizeByShape) {
    // MiniLM's own config.json (6 layers, hidden 384, 12 heads, intermediate 1536) with random
    // weights: checks names, shapes and the full-size path, not values.
    const auto cfg = io::load_bert_config(minilm_dir());
    ASSERT_EQ(cfg.hidden_size, 384);
    ASSERT_EQ(cfg.num_hidden_layers, 6);
    const test::BertSizes sizes{cfg.vocab_size,        cfg.hidden_size,
                                cfg.intermediate_size, cfg.max_position_embeddings,
                                cfg.type_vocab_size,   cfg.num_hidden_layers};
    const auto tensors = test::random_bert_tensors(sizes, 0);
    test::TempDir dir;
    io::safetensors_write(dir.path() / "model.safetensors", tensors);
    fs::copy_file(minilm_dir() / "config.json", dir.path() / "config.json");
    const auto enc = BertEncoder::load(dir.path(), minilm_dir());
    const auto emb = enc.embed({"A sentence for the dense index.",
                                "Another, longer sentence with "
                                "more words in it than the first one has."},
                               Pooling::kMean, true, 8);
    ASSERT_EQ(emb.size(), 2u);
    for (const auto& e : emb) {
        ASSERT_EQ(e.size(), 384u);
        double norm = 0;
        for (float x : e) {
            ASSERT_TRUE(std::isfinite(x));
            norm += static_cast<double>(x) * x;
        }
        EXPECT_NEAR(norm, 1.0, 1e-5);
    }
    EXPECT_LT(cosine(emb[0], emb[1]), 0.999999);  // different texts, different vectors
}

TEST(Bert, BadInputsNameTheProblem) {
    const auto enc = BertEncoder::load(model_dir(), minilm_dir());
    EXPECT_NE(error_of([&] {
                  (void)enc.forward({101, 40000}, {1, 1}, 1, 2);
              }).find("40000"),
              std::string::npos);
    EXPECT_NE(error_of([&] {
                  (void)enc.forward({101, 102}, {1, 1}, 1, 3);
              }).find("expected 3 ids and mask values"),
              std::string::npos);
    EXPECT_NE(error_of([&] {
                  (void)enc.forward(std::vector<int32_t>(513, 0), std::vector<int32_t>(513, 1), 1,
                                    513);
              }).find("exceeds max_position_embeddings 512"),
              std::string::npos);

    test::TempDir dir;
    std::ifstream in(model_dir() / "config.json");
    json cfg = json::parse(in);
    auto write_config = [&](const json& j) {
        std::ofstream(dir.path() / "config.json") << j.dump();
    };
    const auto src = io::SafetensorsFile::open(model_dir() / "model.safetensors");
    std::vector<std::pair<std::string, Tensor>> tensors;
    for (const std::string& name : src.names()) {
        if (name != "encoder.layer.1.output.dense.bias") {
            tensors.emplace_back(name, src.get(name));
        }
    }
    io::safetensors_write(dir.path() / "model.safetensors", tensors);
    write_config(cfg);
    const std::string missing = error_of([&] { (void)BertEncoder::load(dir.path()); });
    EXPECT_NE(missing.find("tensor \"encoder.layer.1.output.dense.bias\" is missing (expected "
                           "shape [64])"),
              std::string::npos)
        << missing;
    json bad = cfg;
    bad["hidden_size"] = 62;
    write_config(bad);
    const std::string shape = error_of([&] { (void)BertEncoder::load(dir.path()); });
    EXPECT_NE(shape.find("hidden_size 62 is not a multiple of num_attention_heads 4"),
              std::string::npos)
        << shape;
    bad = cfg;
    bad["intermediate_size"] = 96;
    write_config(bad);
    const std::string inter = error_of([&] { (void)BertEncoder::load(dir.path()); });
    EXPECT_NE(inter.find("encoder.layer.0.intermediate.dense.weight"), std::string::npos) << inter;
    EXPECT_NE(inter.find("[96, 64]"), std::string::npos) << inter;
    bad = cfg;
    bad["hidden_act"] = "gelu_new";
    write_config(bad);
    EXPECT_NE(error_of([&] {
                  (void)BertEncoder::load(dir.path());
              }).find("\"hidden_act\" \"gelu_new\" is not supported"),
              std::string::npos);
    bad = cfg;
    bad.erase("num_attention_heads");
    write_config(bad);
    EXPECT_NE(error_of([&] {
                  (void)BertEncoder::load(dir.path());
              }).find("\"num_attention_heads\" is missing"),
              std::string::npos);
    bad = cfg;
    bad["num_hidden_layers"] = 1;
    write_config(bad);
    EXPECT_NE(error_of([&] {
                  (void)BertEncoder::load(dir.path());
              }).find("belongs to a layer past num_hidden_layers 1"),
              std::string::npos);
    const auto no_tok = BertEncoder::load(model_dir());
    EXPECT_FALSE(no_tok.has_tokenizer());
    EXPECT_NE(error_of([&] { (void)no_tok.embed({"x"}); }).find("no tokenizer was loaded"),
              std::string::npos);
}

}  // namespace
}  // namespace qforge
