// What is here: LlamaOnDevice (see llama_on_device.h).
#include "runtime/model/llama_on_device.h"

#include <algorithm>

#include "kernels/bf16.h"
#include "kernels/embedding.h"
#include "kernels/random.h"

namespace qforge {

using kernels::Ctx;
using kernels::Device;

namespace {
constexpr float kInitStd = 0.02f;  // transformers LlamaConfig.initializer_range

std::size_t sz(int64_t n) {
    return static_cast<std::size_t>(n);
}
}  // namespace

float* LlamaOnDevice::own_f32(int64_t n) {
    f32_.emplace_back(ctx_, n);
    weight_bytes_ += sz(n) * sizeof(float);
    return f32_.back().data();
}

uint8_t* LlamaOnDevice::own_u8(int64_t n) {
    u8_.emplace_back(ctx_, n);
    weight_bytes_ += sz(n);
    return u8_.back().data();
}

void LlamaOnDevice::make_rope_tables() {
    const int64_t D = config_.head_dim, Tmax = config_.max_position_embeddings;
    std::vector<float> inv_freq(sz(D / 2)), cos(sz(Tmax * D / 2)), sin(cos.size());
    kernels::rope_inv_freq(inv_freq.data(), D, config_.rope_theta, config_.rope_scaling);
    kernels::rope_tables(cos.data(), sin.data(), inv_freq.data(), Tmax, D);
    f32_.emplace_back(ctx_, Tmax * D / 2);
    f32_.back().upload(cos.data(), Tmax * D / 2);
    rope_cos_ = f32_.back().data();
    f32_.emplace_back(ctx_, Tmax * D / 2);
    f32_.back().upload(sin.data(), Tmax * D / 2);
    rope_sin_ = f32_.back().data();
}

LlamaOnDevice LlamaOnDevice::from_model(const LlamaModel& model, const Ctx& ctx) {
    LlamaOnDevice d;
    d.config_ = model.config();
    d.ctx_ = ctx;
    const auto& W = model.weights();
    const int64_t L = d.config_.num_hidden_layers;
    const bool host = ctx.device == Device::kCpu;
    // Host fp32 values as a pointer on ctx: themselves on the CPU, an uploaded copy on a GPU.
    auto place_ptr = [&](const float* src, int64_t n) -> const float* {
        if (host) {
            d.weight_bytes_ += sz(n) * sizeof(float);
            return src;
        }
        float* p = d.own_f32(n);
        kernels::buffer_upload(ctx, p, src, sz(n) * sizeof(float));
        return p;
    };
    auto place = [&](const Tensor& t) {
        return place_ptr(t.data<float>(), t.numel());
    };
    if (host || d.config_.tie_word_embeddings) {
        d.embed_ = place(W.embed);
    } else {
        float* table = d.pin_host_embed();
        std::copy_n(W.embed.data<float>(), W.embed.numel(), table);
    }
    d.lm_head_ = d.config_.tie_word_embeddings ? d.embed_ : place(W.lm_head);
    d.final_norm_ = place(W.final_norm);
    for (int64_t l = 0; l < L; ++l) {
        const auto& lw = W.layers[sz(l)];
        d.attn_norm_.push_back(place(lw.attn_norm));
        d.mlp_norm_.push_back(place(lw.mlp_norm));
        for (int t = 0; t < 7; ++t) {
            const FrozenLinear& f = lw.projection(t);
            ProjectionOnDevice p;
            p.rows = f.rows();
            p.cols = f.cols();
            if (const Nf4Weight* q = f.nf4()) {
                const kernels::Nf4View hv = q->view();
                const auto sizes = kernels::nf4_storage_sizes(hv.numel);
                p.nf4 = true;
                p.nf4_view = hv;
                if (!host) {
                    auto up_f32 = [&](const float* src, int64_t n) -> const float* {
                        float* dst = d.own_f32(n);
                        kernels::buffer_upload(ctx, dst, src, sz(n) * sizeof(float));
                        return dst;
                    };
                    auto up_u8 = [&](const uint8_t* src, int64_t n) -> const uint8_t* {
                        uint8_t* dst = d.own_u8(n);
                        kernels::buffer_upload(ctx, dst, src, sz(n));
                        return dst;
                    };
                    p.nf4_view.packed = up_u8(hv.packed, sizes.packed_bytes);
                    p.nf4_view.absmax_q = up_u8(hv.absmax_q, sizes.blocks);
                    p.nf4_view.nested_absmax = up_f32(hv.nested_absmax, sizes.nested_blocks);
                    p.nf4_view.nested_code = up_f32(hv.nested_code, 256);
                    p.nf4_view.code = up_f32(hv.code, 16);
                } else {
                    d.weight_bytes_ += q->storage_bytes();
                }
            } else {
                p.dense = place_ptr(f.dense_data(), f.rows() * f.cols());
            }
            d.proj_.push_back(p);
        }
    }
    d.make_rope_tables();
    return d;
}

LlamaOnDevice LlamaOnDevice::random(const io::LlamaConfig& config, const Ctx& ctx, bool nf4,
                                    uint64_t seed) {
    LlamaOnDevice d;
    d.config_ = config;
    d.ctx_ = ctx;
    const auto& c = config;
    const int64_t C = c.hidden_size, F = c.intermediate_size, V = c.vocab_size;
    const int64_t L = c.num_hidden_layers, D = c.head_dim;
    const int64_t Hq = c.num_attention_heads, Hkv = c.num_key_value_heads;
    uint64_t key = 0;  // one random stream per tensor
    auto normal = [&](int64_t n) -> const float* {
        float* p = d.own_f32(n);
        kernels::random_normal(ctx, p, n, kInitStd, seed, key++);
        return p;
    };
    std::vector<float> ones(sz(C), 1.0f);
    auto unit = [&]() -> const float* {
        float* p = d.own_f32(C);
        kernels::buffer_upload(ctx, p, ones.data(), sz(C) * sizeof(float));
        return p;
    };
    if (ctx.device == Device::kCpu || c.tie_word_embeddings) {
        d.embed_ = normal(V * C);
    } else {  // drawn on the device like the rest, then kept on the host (see embed())
        DeviceArray<float> table(ctx, V * C);
        kernels::random_normal(ctx, table.data(), V * C, kInitStd, seed, key++);
        table.download(d.pin_host_embed(), V * C);
    }
    d.lm_head_ = c.tie_word_embeddings ? d.embed_ : normal(V * C);
    d.final_norm_ = unit();

    // NF4: each projection is drawn into one fp32 scratch (the largest) and quantized from there.
    const int64_t shapes[7][2] = {{Hq * D, C}, {Hkv * D, C}, {Hkv * D, C}, {C, Hq * D},
                                  {F, C},      {F, C},       {C, F}};
    int64_t largest = 0;
    for (const auto& s : shapes) {
        largest = std::max(largest, s[0] * s[1]);
    }
    DeviceArray<float> scratch(ctx, nf4 ? largest : 0);
    DeviceArray<float> offset(ctx, 1);
    const float* code = nullptr;
    const float* nested_code = nullptr;
    if (nf4) {
        float* cp = d.own_f32(16);
        kernels::buffer_upload(ctx, cp, kernels::nf4_code_table(), 16 * sizeof(float));
        float* np = d.own_f32(256);
        kernels::buffer_upload(ctx, np, kernels::dynamic_map_signed(), 256 * sizeof(float));
        code = cp;
        nested_code = np;
    }
    for (int64_t l = 0; l < L; ++l) {
        d.attn_norm_.push_back(unit());
        d.mlp_norm_.push_back(unit());
        for (const auto& s : shapes) {
            ProjectionOnDevice p;
            p.rows = s[0];
            p.cols = s[1];
            const int64_t n = p.rows * p.cols;
            if (!nf4) {
                p.dense = normal(n);
                d.proj_.push_back(p);
                continue;
            }
            kernels::random_normal(ctx, scratch.data(), n, kInitStd, seed, key++);
            const auto sizes = kernels::nf4_storage_sizes(n);
            uint8_t* packed = d.own_u8(sizes.packed_bytes);
            uint8_t* absmax_q = d.own_u8(sizes.blocks);
            float* nested = d.own_f32(sizes.nested_blocks);
            kernels::nf4_quantize_device(ctx, scratch.data(), n, packed, absmax_q, nested,
                                         offset.data());
            float off = 0.0f;
            offset.download(&off, 1);
            p.nf4 = true;
            p.nf4_view = {packed, absmax_q, nested, nested_code, code, off, n};
            d.proj_.push_back(p);
        }
    }
    d.make_rope_tables();
    return d;
}

float* LlamaOnDevice::pin_host_embed() {
    const int64_t V = config_.vocab_size, C = config_.hidden_size;
    host_embed_ = kernels::PinnedHostBuffer(ctx_, sz(V * C) * sizeof(float));
    host_embed_view_ =
        static_cast<const float*>(kernels::pinned_device_view(ctx_, host_embed_.data()));
    return static_cast<float*>(host_embed_.data());
}

void LlamaOnDevice::embed_rows(const kernels::Ctx& ctx, float* out, const int32_t* device_ids,
                               int64_t N, kernels::IndexCheck check) const {
    const float* table = embed_ != nullptr ? embed_ : host_embed_view_;
    QF_CHECK(table != nullptr, "embed_rows: the model has no embedding table");
    QF_CHECK(ctx.device == ctx_.device, "embed_rows: the model lives on another device");
    kernels::embedding_forward(ctx, out, device_ids, table, N, config_.hidden_size,
                               config_.vocab_size, check);
}

const float* LlamaOnDevice::projection_weights(int64_t layer, int t,
                                               DeviceArray<float>& scratch) const {
    const ProjectionOnDevice& p = projection(layer, t);
    if (!p.nf4) {
        return p.dense;
    }
    scratch.ensure(p.rows * p.cols);
    kernels::nf4_dequantize(ctx_, scratch.data(), p.nf4_view);
    return scratch.data();
}

void LlamaOnDevice::make_lm_head_bf16() {
    if (lm_head_bf16() != nullptr) {
        return;
    }
    QF_CHECK(lm_head_ != nullptr, "make_lm_head_bf16: the model has no fp32 LM head");
    const int64_t V = config_.vocab_size, C = config_.hidden_size;
    lm_head_bf16_ = DeviceArray<uint16_t>(ctx_, V * C);
    kernels::convert_to_bf16(ctx_, lm_head_bf16_.data(), C, lm_head_, C, V, C, 1.0f);
    weight_bytes_ += sz(V * C) * sizeof(uint16_t);
    if (ctx_.device == Device::kCpu || lm_head_ == embed_) {
        return;  // borrowed host memory, or the embedding table too
    }
    for (auto& a : f32_) {
        if (a.data() == lm_head_) {
            a = DeviceArray<float>();
            weight_bytes_ -= sz(V * C) * sizeof(float);
            lm_head_ = nullptr;
            return;
        }
    }
}

}  // namespace qforge
