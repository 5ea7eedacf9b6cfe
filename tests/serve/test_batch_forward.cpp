// What is here: the serving engine's pieces without HTTP: BatchForward (rows at different
// positions and with different adapters in one step) against LlamaModel::forward run per
// sequence, TextStream's stop strings and hold-back, and request parsing errors.
#include <cmath>
#include <gtest/gtest.h>
#include <optional>

#include "runtime/model/llama.h"
#include "runtime/model/lora.h"
#include "runtime/tokenizer/tokenizer.h"
#include "serve/api_error.h"
#include "serve/batch_forward.h"
#include "serve/kv_pool.h"
#include "serve/openai_request.h"
#include "serve/serve_test_util.h"
#include "serve/text_stream.h"
#include "support/test_support.h"

namespace qforge {
namespace {

double rel_err(const float* a, const float* b, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; ++i) {
        num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
        den += double(b[i]) * b[i];
    }
    return std::sqrt(num / std::max(den, 1e-30));
}

// Two sequences, one on the base and one with an adapter, at different positions in the same
// steps (a prefill beside a decode, then two decodes) give the logits each gets alone.
TEST(BatchForward, MixedPositionsAndAdaptersMatchSingleSequenceForward) {
    if (!test::have_stories()) {
        GTEST_SKIP() << "shipped data not found (set QFORGE_DATA)";
    }
    const LlamaModel model = LlamaModel::load(test::stories_dir());
    test::TempDir dir;
    test::write_adapter(dir.path(), test::test_seed());
    const LoraAdapter adapter = LoraAdapter::load_peft(dir.path(), model.config());
    const int64_t V = model.config().vocab_size;
    const std::vector<int32_t> a_ids = {1, 403, 407, 261, 378, 29, 72};  // base, 7 tokens
    const std::vector<int32_t> b_ids = {1, 319, 93, 118, 409};           // adapter, 5 tokens

    // Reference: each sequence alone through LlamaModel::forward.
    KVCache ca = model.make_cache(1, 16), cb = model.make_cache(1, 16);
    const Tensor ra0 = model.forward({a_ids.data(), 5}, 1, 5, ca, true);  // a's first 5 tokens
    const Tensor ra1 = model.forward({a_ids.data() + 5, 1}, 1, 1, ca, true);
    const Tensor ra2 = model.forward({a_ids.data() + 6, 1}, 1, 1, ca, true);
    const Tensor rb1 = model.forward(b_ids, 1, 5, cb, true, &adapter);
    const Tensor rb2 = model.forward({a_ids.data() + 6, 1}, 1, 1, cb, true, &adapter);

    serve::KvPool pool(model.config(), 3, 16);
    serve::BatchForward fwd(model, pool);
    const int64_t sa = *pool.acquire(), sb = *pool.acquire();
    std::vector<int64_t> first;
    // Step 1: a's prefill alone. Step 2: a decodes while b prefills. Step 3: both decode.
    auto l0 =
        fwd.run(std::vector<serve::BatchRow>{{sa, 0, {a_ids.data(), 5}, nullptr, false}}, first);
    EXPECT_LT(rel_err(l0.data(), ra0.data<float>(), V), 1e-5);
    auto l1 = fwd.run(std::vector<serve::BatchRow>{{sa, 5, {a_ids.data() + 5, 1}, nullptr, false},
                                                   {sb, 0, b_ids, &adapter, false}},
                      first);
    ASSERT_EQ(first, (std::vector<int64_t>{0, 1}));
    EXPECT_LT(rel_err(l1.data(), ra1.data<float>(), V), 1e-5);
    EXPECT_LT(rel_err(l1.data() + V, rb1.data<float>(), V), 1e-5);
    auto l2 = fwd.run(std::vector<serve::BatchRow>{{sb, 5, {a_ids.data() + 6, 1}, &adapter, false},
                                                   {sa, 6, {a_ids.data() + 6, 1}, nullptr, false}},
                      first);
    EXPECT_LT(rel_err(l2.data(), rb2.data<float>(), V), 1e-5);
    EXPECT_LT(rel_err(l2.data() + V, ra2.data<float>(), V), 1e-5);
    // The adapter changes the output (its B is not zero).
    EXPECT_GT(rel_err(rb2.data<float>(), ra2.data<float>(), V), 1e-3);
}

// all_logits returns every prompt position, equal to forward(last_only = false).
TEST(BatchForward, AllLogitsMatchFullForward) {
    if (!test::have_stories()) {
        GTEST_SKIP() << "shipped data not found (set QFORGE_DATA)";
    }
    const LlamaModel model = LlamaModel::load(test::stories_dir());
    const int64_t V = model.config().vocab_size;
    const std::vector<int32_t> ids = {1, 403, 407, 261, 378};
    KVCache c = model.make_cache(1, 8);
    const Tensor ref = model.forward(ids, 1, 5, c, false);
    serve::KvPool pool(model.config(), 1, 8);
    serve::BatchForward fwd(model, pool);
    std::vector<int64_t> first;
    auto got = fwd.run(std::vector<serve::BatchRow>{{0, 0, ids, nullptr, true}}, first);
    ASSERT_EQ(got.size(), static_cast<std::size_t>(5 * V));
    EXPECT_LT(rel_err(got.data(), ref.data<float>(), 5 * V), 1e-5);
}

TEST(KvPool, SlotsAreBoundedAndReused) {
    if (!test::have_stories()) {
        GTEST_SKIP() << "shipped data not found (set QFORGE_DATA)";
    }
    const auto config = io::load_llama_config(test::stories_dir());
    serve::KvPool pool(config, 2, 32);
    const auto a = pool.acquire(), b = pool.acquire();
    ASSERT_TRUE(a && b);
    EXPECT_FALSE(pool.acquire().has_value());
    pool.release(*a);
    EXPECT_EQ(pool.acquire(), a);
    EXPECT_THROW(pool.release(5), Error);
    // 5 layers x K and V x 2 slots x 32 positions x 4 kv heads x head_dim 8 x 4 bytes.
    EXPECT_EQ(pool.bytes(), std::size_t{5 * 2 * 2 * 32 * 4 * 8 * 4});
    EXPECT_THROW(serve::KvPool(config, 1, 100000), Error);
}

// Stop strings are cut out, text that could start one is held back, and the concatenation
// of released text equals the decoded reply up to the stop.
TEST(TextStream, StopStringsAreCutAndPrefixesHeldBack) {
    if (!test::have_stories()) {
        GTEST_SKIP() << "shipped data not found (set QFORGE_DATA)";
    }
    const Tokenizer tok = Tokenizer::load(test::stories_dir());
    const auto ids = tok.encode("Once upon a time, there was a little girl named Lily.", true);
    const std::vector<int32_t> prompt(ids.begin(), ids.begin() + 3);
    serve::TextStream s(tok, {"girl"}, prompt);
    std::string released;
    bool stopped = false;
    std::string pieces;
    for (std::size_t i = 3; i < ids.size() && !stopped; ++i) {
        auto step = s.push(ids[i]);
        released += step.released;
        pieces += step.piece;
        stopped = step.stopped;
    }
    EXPECT_TRUE(stopped);
    const std::string full = tok.decode(ids, true);
    const std::string reply = full.substr(tok.decode(prompt, true).size());
    EXPECT_EQ(released, reply.substr(0, reply.find("girl")));
    EXPECT_EQ(s.flush(), "");  // nothing after a stop string is ever released
    EXPECT_EQ(pieces.substr(0, released.size()), released);

    // Without stop strings everything is released by the end, and equals the decode.
    serve::TextStream all(tok, {}, prompt);
    std::string text;
    for (std::size_t i = 3; i < ids.size(); ++i) {
        text += all.push(ids[i]).released;
    }
    text += all.flush();
    EXPECT_EQ(text, reply);
}

TEST(CompletionRequest, RangesAndTypesAreCheckedByField) {
    auto param_of = [](const std::string& body, bool chat) {
        try {
            serve::parse_completion_request(body, chat);
        } catch (const serve::ApiError& e) {
            EXPECT_EQ(e.status, 400) << body;
            return e.param.empty() ? std::string("<none>") : e.param;
        }
        return std::string("<accepted>");
    };
    EXPECT_EQ(param_of("{not json", false), "<none>");
    EXPECT_EQ(param_of("[1,2]", false), "<none>");
    EXPECT_EQ(param_of(R"({"prompt":"x"})", false), "model");
    EXPECT_EQ(param_of(R"({"model":"m"})", false), "prompt");
    EXPECT_EQ(param_of(R"({"model":"m","prompt":"x","temperature":2.5})", false), "temperature");
    EXPECT_EQ(param_of(R"({"model":"m","prompt":"x","top_p":0})", false), "top_p");
    EXPECT_EQ(param_of(R"({"model":"m","prompt":"x","max_tokens":-1})", false), "max_tokens");
    EXPECT_EQ(param_of(R"({"model":"m","prompt":"x","max_tokens":"9"})", false), "max_tokens");
    EXPECT_EQ(param_of(R"({"model":"m","prompt":"x","logprobs":21})", false), "logprobs");
    EXPECT_EQ(param_of(R"({"model":"m","prompt":"x","n":2})", false), "n");
    EXPECT_EQ(param_of(R"({"model":"m","prompt":"x","stop":[1]})", false), "stop");
    EXPECT_EQ(param_of(R"({"model":"m","prompt":"x","rag":{"k":0}})", false), "rag.k");
    EXPECT_EQ(param_of(R"({"model":"m","prompt":"x","max_tokens":0})", false), "max_tokens");
    EXPECT_EQ(param_of(R"({"model":"m","messages":[]})", true), "messages");
    EXPECT_EQ(param_of(R"({"model":"m","messages":[{"role":"robot","content":"x"}]})", true),
              "messages[0].role");
    EXPECT_EQ(param_of(R"({"model":"m","messages":[{"role":"user","content":"x"}],
                          "top_logprobs":3})",
                       true),
              "top_logprobs");
    EXPECT_EQ(param_of(R"({"model":"m","prompt":"x","max_tokens":0,"echo":true,"logprobs":1,
                          "user":"ignored","presence_penalty":0})",
                       false),
              "<accepted>");
    const auto r = serve::parse_completion_request(
        R"({"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a"},
            {"type":"text","text":"b"}]}],"logprobs":true,"top_logprobs":2,"stop":"\n",
            "seed":7,"stream":true,"stream_options":{"include_usage":true}})",
        true);
    EXPECT_EQ(r.messages[0].content, "ab");
    EXPECT_EQ(r.logprobs, 2);
    EXPECT_EQ(r.stop, std::vector<std::string>{"\n"});
    EXPECT_EQ(r.seed, 7u);
    EXPECT_TRUE(r.stream && r.include_usage);
}

}  // namespace
}  // namespace qforge
