// What is here: make_tiny_llama (see tiny_llama.h).
#include "support/tiny_llama.h"

#include <random>

namespace qforge::test {

LlamaModel make_tiny_llama(const TinyLlamaShape& s, uint64_t seed, bool nf4) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> dist(-0.3f, 0.3f);
    auto rand = [&](std::vector<int64_t> shape, float base = 0.0f) {
        Tensor t = Tensor::empty(std::move(shape), kernels::DType::kF32);
        for (int64_t i = 0; i < t.numel(); ++i) {
            t.data<float>()[i] = base + (base != 0.0f ? 0.67f : 1.0f) * dist(rng);
        }
        return t;
    };
    auto linear = [&](int64_t out, int64_t in) {
        Tensor w = rand({out, in});
        return nf4 ? FrozenLinear::quantized(w) : FrozenLinear::dense(w);
    };
    io::LlamaConfig c;
    c.model_type = "llama";
    c.hidden_size = s.C;
    c.intermediate_size = s.F;
    c.num_hidden_layers = s.L;
    c.num_attention_heads = s.Hq;
    c.num_key_value_heads = s.Hkv;
    c.head_dim = s.D;
    c.vocab_size = s.V;
    c.max_position_embeddings = s.max_pos;
    c.rms_norm_eps = 1e-5f;
    c.rope_theta = 10000.0f;
    c.tie_word_embeddings = s.tie;
    c.hidden_act = "silu";
    c.bos_token_id = 1;
    c.eos_token_ids = {2};
    LlamaWeights w;
    w.embed = rand({s.V, s.C});
    w.final_norm = rand({s.C}, 1.0f);
    w.lm_head = s.tie ? w.embed : rand({s.V, s.C});
    for (int64_t l = 0; l < s.L; ++l) {
        LlamaLayerWeights L;
        L.attn_norm = rand({s.C}, 1.0f);
        L.wq = linear(s.Hq * s.D, s.C);
        L.wk = linear(s.Hkv * s.D, s.C);
        L.wv = linear(s.Hkv * s.D, s.C);
        L.wo = linear(s.C, s.Hq * s.D);
        L.mlp_norm = rand({s.C}, 1.0f);
        L.w_gate = linear(s.F, s.C);
        L.w_up = linear(s.F, s.C);
        L.w_down = linear(s.C, s.F);
        w.layers.push_back(std::move(L));
    }
    return LlamaModel::from_weights(std::move(c), std::move(w));
}

}  // namespace qforge::test
