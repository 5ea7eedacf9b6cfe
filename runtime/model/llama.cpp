// What is here: LlamaModel::load and the inference forward (see llama.h). The forward is
// written out layer by layer with ops from kernels/ (no autograd), as llm.c does:
//   x = embed(tokens)
//   per layer: x += o_proj(attn(rope(q_proj(n1)), rope(k_proj(n1)), v_proj(n1))), n1 = rmsnorm(x)
//              x += down_proj(silu(gate_proj(n2)) * up_proj(n2)),                n2 = rmsnorm(x)
//   logits = lm_head(rmsnorm(x))
// Residual adds are folded into the output GEMMs (beta = 1), so no separate add pass exists.
// With an adapter, each projection adds its LoRA update (lora_ops.h).
#include "runtime/model/llama.h"

#include <algorithm>
#include <cstring>
#include <fmt/format.h>

#include "kernels/attention.h"
#include "kernels/embedding.h"
#include "kernels/gemm.h"
#include "kernels/linear.h"
#include "kernels/rmsnorm.h"
#include "kernels/rope.h"
#include "kernels/swiglu.h"
#include "runtime/io/safetensors.h"
#include "runtime/model/lora.h"
#include "runtime/model/lora_ops.h"

namespace qforge {

using kernels::Ctx;

namespace {

Tensor load_f32(const io::CheckpointReader& ckpt, const std::string& name) {
    return ckpt.get(name).to_f32();
}

}  // namespace

const FrozenLinear& LlamaLayerWeights::projection(int t) const {
    const FrozenLinear* table[] = {&wq, &wk, &wv, &wo, &w_gate, &w_up, &w_down};
    QF_CHECK(t >= 0 && t < 7, "projection index {} out of range", t);
    return *table[t];
}

LlamaModel LlamaModel::load(const std::filesystem::path& dir, const LlamaLoadOptions& options) {
    io::LlamaConfig config = io::load_llama_config(dir);
    const auto ckpt = io::CheckpointReader::open(dir);
    io::validate_llama_checkpoint(config, ckpt);

    auto linear = [&](const std::string& name) {
        if (ckpt.contains(name + ".absmax")) {  // bitsandbytes 4-bit checkpoint
            return FrozenLinear::from_nf4(Nf4Weight::from_bnb(ckpt, name));
        }
        const Tensor w = ckpt.get(name);
        return options.quantize_nf4 ? FrozenLinear::quantized(w) : FrozenLinear::dense(w);
    };
    LlamaWeights w;
    w.embed = load_f32(ckpt, "model.embed_tokens.weight");
    w.final_norm = load_f32(ckpt, "model.norm.weight");
    w.lm_head = config.tie_word_embeddings ? w.embed : load_f32(ckpt, "lm_head.weight");
    w.layers.resize(static_cast<std::size_t>(config.num_hidden_layers));
    for (int64_t l = 0; l < config.num_hidden_layers; ++l) {
        const std::string p = fmt::format("model.layers.{}.", l);
        auto& L = w.layers[static_cast<std::size_t>(l)];
        L.attn_norm = load_f32(ckpt, p + "input_layernorm.weight");
        L.wq = linear(p + "self_attn.q_proj.weight");
        L.wk = linear(p + "self_attn.k_proj.weight");
        L.wv = linear(p + "self_attn.v_proj.weight");
        L.wo = linear(p + "self_attn.o_proj.weight");
        L.mlp_norm = load_f32(ckpt, p + "post_attention_layernorm.weight");
        L.w_gate = linear(p + "mlp.gate_proj.weight");
        L.w_up = linear(p + "mlp.up_proj.weight");
        L.w_down = linear(p + "mlp.down_proj.weight");
    }
    return from_weights(std::move(config), std::move(w));
}

LlamaModel LlamaModel::from_weights(io::LlamaConfig config, LlamaWeights weights) {
    LlamaModel model;
    model.config_ = std::move(config);
    model.weights_ = std::move(weights);
    const auto& cfg = model.config_;
    const int64_t D = cfg.head_dim;
    model.rope_len_ = cfg.max_position_embeddings;
    std::vector<float> inv_freq(static_cast<std::size_t>(D / 2));
    kernels::rope_inv_freq(inv_freq.data(), D, cfg.rope_theta, cfg.rope_scaling);
    model.rope_cos_.resize(static_cast<std::size_t>(model.rope_len_ * D / 2));
    model.rope_sin_.resize(model.rope_cos_.size());
    kernels::rope_tables(model.rope_cos_.data(), model.rope_sin_.data(), inv_freq.data(),
                         model.rope_len_, D);
    return model;
}

std::size_t LlamaModel::weight_bytes() const {
    std::size_t bytes = weights_.embed.nbytes() + weights_.final_norm.nbytes();
    if (!config_.tie_word_embeddings) {
        bytes += weights_.lm_head.nbytes();
    }
    for (const auto& L : weights_.layers) {
        bytes += L.attn_norm.nbytes() + L.mlp_norm.nbytes();
        for (int t = 0; t < 7; ++t) {
            bytes += L.projection(t).storage_bytes();
        }
    }
    return bytes;
}

KVCache LlamaModel::make_cache(int64_t batch, int64_t max_len) const {
    QF_CHECK(batch > 0 && max_len > 0, "KV cache needs batch > 0 and max_len > 0, got {} and {}",
             batch, max_len);
    QF_CHECK(max_len <= rope_len_,
             "KV cache length {} exceeds the model's max_position_embeddings {}", max_len,
             rope_len_);
    KVCache cache;
    cache.batch = batch;
    cache.max_len = max_len;
    for (int64_t l = 0; l < config_.num_hidden_layers; ++l) {
        cache.k.push_back(Tensor::zeros(
            {batch, max_len, config_.num_key_value_heads, config_.head_dim}, kernels::DType::kF32));
        cache.v.push_back(Tensor::zeros(
            {batch, max_len, config_.num_key_value_heads, config_.head_dim}, kernels::DType::kF32));
    }
    return cache;
}

Tensor LlamaModel::forward(std::span<const int32_t> tokens, int64_t B, int64_t T, KVCache& cache,
                           bool last_only, const LoraAdapter* lora) const {
    const auto& cfg = config_;
    const int64_t C = cfg.hidden_size, V = cfg.vocab_size, F = cfg.intermediate_size;
    const int64_t Hq = cfg.num_attention_heads, Hkv = cfg.num_key_value_heads, D = cfg.head_dim;
    const int64_t N = B * T, L0 = cache.length;
    QF_CHECK(static_cast<int64_t>(tokens.size()) == N, "forward: got {} tokens for B={} T={}",
             tokens.size(), B, T);
    QF_CHECK(B == cache.batch, "forward: batch {} does not match the KV cache's {}", B,
             cache.batch);
    QF_CHECK(L0 + T <= cache.max_len, "forward: {} positions exceed the KV cache's {}", L0 + T,
             cache.max_len);
    const Ctx ctx{};
    std::vector<float> scratch;  // NF4 projections are dequantized here before their GEMM

    std::vector<int32_t> pos(static_cast<std::size_t>(N));
    for (int64_t i = 0; i < N; ++i) {
        pos[static_cast<std::size_t>(i)] = static_cast<int32_t>(L0 + i % T);
    }
    std::vector<float> x(N * C), xn(N * C), q(N * Hq * D), k(N * Hkv * D), v(N * Hkv * D),
        att(N * Hq * D), gate(N * F), up(N * F), rstd(N);
    kernels::embedding_forward(ctx, x.data(), tokens.data(), weights_.embed.data<float>(), N, C, V);

    DeviceArray<float> xd(ctx, 0);  // LoRA scratch (u = x A^T at inference)
    for (int64_t l = 0; l < cfg.num_hidden_layers; ++l) {
        const auto& W = weights_.layers[static_cast<std::size_t>(l)];
        // y = beta * y + x W^T (+ the adapter's low-rank update when one is given)
        auto project = [&](int t, float* y, const float* in, float beta) {
            const auto p = lora_projection_of(W.projection(t), scratch, lora, l, t);
            lora_projection_forward(ctx, p, y, in, N, beta, nullptr, xd);
        };
        kernels::rmsnorm_forward(ctx, xn.data(), rstd.data(), x.data(), W.attn_norm.data<float>(),
                                 N, C, cfg.rms_norm_eps);
        project(0, q.data(), xn.data(), 0.0f);
        project(1, k.data(), xn.data(), 0.0f);
        project(2, v.data(), xn.data(), 0.0f);
        kernels::rope_forward(ctx, q.data(), pos.data(), rope_cos_.data(), rope_sin_.data(), N, Hq,
                              D);
        kernels::rope_forward(ctx, k.data(), pos.data(), rope_cos_.data(), rope_sin_.data(), N, Hkv,
                              D);

        // Append this step's keys/values: cache row (b, L0 + t) <- k row (b, t).
        float* kc = cache.k[static_cast<std::size_t>(l)].data<float>();
        float* vc = cache.v[static_cast<std::size_t>(l)].data<float>();
        const int64_t row = Hkv * D;
        for (int64_t b = 0; b < B; ++b) {
            const int64_t dst = (b * cache.max_len + L0) * row, src = b * T * row;
            std::memcpy(kc + dst, k.data() + src,
                        sizeof(float) * static_cast<std::size_t>(T * row));
            std::memcpy(vc + dst, v.data() + src,
                        sizeof(float) * static_cast<std::size_t>(T * row));
        }

        kernels::AttnParams p{};
        p.out = att.data();
        p.lse = nullptr;
        p.q = q.data();
        p.k = kc;
        p.v = vc;
        p.segment_ids = nullptr;
        p.B = B;
        p.T = T;
        p.Tk = L0 + T;
        p.Hq = Hq;
        p.Hkv = Hkv;
        p.D = D;
        p.q_pos0 = L0;
        p.q_batch_stride = T * Hq * D;
        p.q_row_stride = Hq * D;
        p.kv_batch_stride = cache.max_len * row;
        p.kv_row_stride = row;
        kernels::attention_forward(ctx, p);
        project(3, x.data(), att.data(), 1.0f);  // x += o_proj(att)

        kernels::rmsnorm_forward(ctx, xn.data(), rstd.data(), x.data(), W.mlp_norm.data<float>(), N,
                                 C, cfg.rms_norm_eps);
        project(4, gate.data(), xn.data(), 0.0f);
        project(5, up.data(), xn.data(), 0.0f);
        kernels::swiglu_forward(ctx, gate.data(), gate.data(), up.data(), N * F);
        project(6, x.data(), gate.data(), 1.0f);  // x += down_proj(h)
    }
    cache.length = L0 + T;

    // Only the rows whose logits are wanted go through the final norm and the LM head.
    const int64_t rows = last_only ? B : N;
    std::vector<float> xr;
    const float* head_in = x.data();
    if (last_only) {
        xr.resize(static_cast<std::size_t>(B * C));
        for (int64_t b = 0; b < B; ++b) {
            std::memcpy(xr.data() + b * C, x.data() + ((b + 1) * T - 1) * C,
                        sizeof(float) * static_cast<std::size_t>(C));
        }
        head_in = xr.data();
    }
    std::vector<float> hn(rows * C);
    kernels::rmsnorm_forward(ctx, hn.data(), nullptr, head_in, weights_.final_norm.data<float>(),
                             rows, C, cfg.rms_norm_eps);
    Tensor logits = Tensor::empty({B, last_only ? 1 : T, V}, kernels::DType::kF32);
    kernels::linear_forward(ctx, logits.data<float>(), hn.data(), weights_.lm_head.data<float>(),
                            nullptr, rows, C, V);
    return logits;
}

}  // namespace qforge
