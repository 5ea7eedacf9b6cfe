// What is here: running a system on stories260K: reference perplexity (teacher-forced NLL)
// checked against token-by-token decoding through the KV cache, context truncation, empty
// references, and greedy answers that match runtime generate().
#include <cmath>
#include <gtest/gtest.h>

#include "evaluation/run/system_run.h"
#include "evaluation/stories_fixture.h"
#include "runtime/generate/generate.h"
#include "support/test_support.h"

namespace qforge::eval {
namespace {

using Stories = test::StoriesModel;

// Sum of -log p(ref[k] | prefix) by feeding one token at a time (another code path).
double nll_incremental(const LlamaModel& m, const std::vector<int32_t>& prompt,
                       const std::vector<int32_t>& ref, const LoraAdapter* lora) {
    std::vector<int32_t> ids = prompt;
    ids.insert(ids.end(), ref.begin(), ref.end());
    KVCache cache = m.make_cache(1, static_cast<int64_t>(ids.size()));
    const int64_t V = m.config().vocab_size;
    double nll = 0.0;
    for (std::size_t t = 0; t + 1 < ids.size(); t++) {
        const int32_t one[1] = {ids[t]};
        const Tensor logits = m.forward(one, 1, 1, cache, true, lora);
        if (t + 1 < prompt.size()) {
            continue;
        }
        const float* row = logits.data<float>();
        double sum = 0.0;
        for (int64_t v = 0; v < V; v++) {
            sum += std::exp(static_cast<double>(row[v]));
        }
        nll += std::log(sum) - row[ids[t + 1]];
    }
    return nll;
}

TEST(ReferenceNll, MatchesTokenByTokenDecoding) {
    Stories s;
    const auto prompt = s.tok.encode("Once upon a time, there was a little girl", true);
    const auto ref = s.tok.encode("named Lily. She liked to play outside.", false);
    LoraOptions lo;
    lo.r = 4;
    LoraAdapter lora = LoraAdapter::create(s.model.config(), lo, 3);
    const auto rnd =
        test::random_floats(static_cast<std::size_t>(lora.num_params()), -0.05f, 0.05f);
    std::copy(rnd.begin(), rnd.end(), lora.params().begin());  // non-zero B too
    const std::vector<const LoraAdapter*> systems = {nullptr, &lora};
    for (const LoraAdapter* a : systems) {
        const auto [nll, n] = reference_nll(s.model, a, prompt, ref);
        EXPECT_EQ(n, static_cast<int64_t>(ref.size()));
        const double want = nll_incremental(s.model, prompt, ref, a);
        EXPECT_LT(std::abs(nll - want) / want, 1e-4) << nll << " vs " << want;
        EXPECT_GT(nll / static_cast<double>(n), 0.0);
    }
    const auto [nll_base, n1] = reference_nll(s.model, nullptr, prompt, ref);
    const auto [nll_lora, n2] = reference_nll(s.model, &lora, prompt, ref);
    EXPECT_NE(nll_base, nll_lora);
}

TEST(ReferenceNll, EmptyAndOverlongReferences) {
    Stories s;
    const auto prompt = s.tok.encode("Once upon a time", true);
    EXPECT_EQ(reference_nll(s.model, nullptr, prompt, {}).second, 0);
    std::string long_text;
    for (int i = 0; i < 200; i++) {
        long_text += "The dog ran and the cat sat. ";
    }
    const auto ref = s.tok.encode(long_text, false);
    const int64_t ctx = s.model.config().max_position_embeddings;
    ASSERT_GT(static_cast<int64_t>(ref.size() + prompt.size()), ctx);
    const auto [nll, n] = reference_nll(s.model, nullptr, prompt, ref);
    EXPECT_EQ(n + 1, ctx) << "one prompt token stays, the reference fills the rest";
    EXPECT_TRUE(std::isfinite(nll));
}

TEST(RunSystem, GreedyAnswersMatchGenerateAndCountEverything) {
    Stories s;
    std::vector<EvalExample> ex(3);
    ex[0] = {"a", 1, "Once upon a time", {"there was a girl."}};
    ex[1] = {"b", 2, "The little dog", {""}};
    ex[2] = {"c", 3, std::string(6000, 'z'), {"long prompt"}};  // past the context
    GenerationSpec spec;
    spec.max_tokens = 12;
    const SystemOutputs out = run_system(s.model, s.tok, nullptr, ex, spec, true);
    ASSERT_EQ(out.outputs.size(), 3u);
    EXPECT_EQ(out.prompts_truncated, 1);
    EXPECT_EQ(out.ref_tokens[1], 0);
    EXPECT_GT(out.ref_tokens[0], 0);
    GenerateOptions o;
    o.max_new_tokens = 12;
    o.stop_ids = s.model.config().eos_token_ids;
    if (auto eos = s.tok.eos_id()) {
        o.stop_ids.push_back(*eos);
    }
    const GenerateResult g = generate(s.model, s.tok.encode("Once upon a time", true), o);
    EXPECT_EQ(out.outputs[0], s.tok.decode(g.tokens, true));
    EXPECT_FALSE(out.outputs[0].empty());

    spec.stop = {"."};
    const SystemOutputs cut = run_system(s.model, s.tok, nullptr, {ex[0]}, spec, false);
    EXPECT_EQ(cut.outputs[0].find('.'), std::string::npos);
    EXPECT_TRUE(cut.ref_nll.empty());
}

}  // namespace
}  // namespace qforge::eval
