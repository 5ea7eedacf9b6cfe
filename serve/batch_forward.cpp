// What is here: BatchForward (see batch_forward.h). The layer is LlamaModel::forward's, with
// three differences: positions come per token (each row at its own pos0), attention runs per
// row against that row's KV slot, and the LoRA update is applied per adapter group:
//   y_all  = x_all W^T                                  one GEMM for the whole batch
//   y_g   += s_g (x_g A_g^T) B_g^T   for each group g   two GEMMs on the group's rows
// The step lays its tokens out group by group (rows of one adapter contiguous), so a group's
// rows are one slice of every activation: no gather or scatter. Every op takes ctx_ and
// device pointers, so the same code runs on the CPU and on a GPU.
#include "serve/batch_forward.h"

#include <algorithm>
#include <cstring>

#include "kernels/attention.h"
#include "kernels/gemm.h"
#include "kernels/linear.h"
#include "kernels/memory.h"
#include "kernels/rmsnorm.h"
#include "kernels/rope.h"
#include "kernels/swiglu.h"

namespace qforge::serve {

namespace {
std::size_t sz(int64_t n) {
    return static_cast<std::size_t>(n);
}

// FNV-1a over the parameter count and up to 256 values spread over the parameters: tells a
// new adapter from a freed one that left its address behind.
uint64_t fingerprint(const LoraAdapter& a) {
    const auto& p = a.params();
    uint64_t h = 1469598103934665603ull;
    auto mix = [&](uint64_t v) {
        h ^= v;
        h *= 1099511628211ull;
    };
    mix(p.size());
    const std::size_t step = std::max<std::size_t>(1, p.size() / 256);
    for (std::size_t i = 0; i < p.size(); i += step) {
        uint32_t bits = 0;
        static_assert(sizeof(bits) == sizeof(float));
        std::memcpy(&bits, &p[i], sizeof(bits));
        mix(bits);
    }
    return h;
}
}  // namespace

BatchForward::BatchForward(const LlamaModel& model, KvPool& pool)
    : pool_(pool), ctx_(pool.ctx()), model_(LlamaOnDevice::from_model(model, pool.ctx())) {
    for (DeviceArray<float>* a : {&x_, &xn_, &q_, &k_, &v_, &att_, &gate_, &up_, &rstd_, &head_in_,
                                  &head_n_, &logits_, &dequant_, &ug_}) {
        a->bind(ctx_);
    }
    tokens_d_.bind(ctx_);
    pos_d_.bind(ctx_);
}

const float* BatchForward::adapter_params(const LoraAdapter* adapter, std::vector<bool>& used) {
    if (ctx_.device == kernels::Device::kCpu) {
        return adapter->params().data();
    }
    const uint64_t fp = fingerprint(*adapter);
    for (std::size_t i = 0; i < uploaded_.size(); ++i) {
        if (uploaded_[i].adapter == adapter && uploaded_[i].fingerprint == fp) {
            used[i] = true;
            return uploaded_[i].params.data();
        }
    }
    uploaded_.push_back({adapter, fp, DeviceArray<float>(ctx_, adapter->num_params())});
    uploaded_.back().params.upload(adapter->params().data(), adapter->num_params());
    used.push_back(true);
    return uploaded_.back().params.data();
}

void BatchForward::project(int64_t layer, int t, float* y, const float* x, int64_t N, float beta) {
    const ProjectionOnDevice& w = model_.projection(layer, t);
    const int64_t in = w.cols, out = w.rows;
    kernels::gemm(ctx_, false, true, N, out, in, 1.0f, x, in,
                  model_.projection_weights(layer, t, dequant_), in, beta, y, out);
    for (const Group& g : groups_) {
        if (g.adapter == nullptr) {
            continue;
        }
        const LoraSlot& s = g.adapter->slot(layer, static_cast<LoraTarget>(t));
        if (!s.enabled) {
            continue;
        }
        const int64_t r = g.adapter->options().r, n = g.tokens;
        const float* A = g.params + s.a_offset;  // (r, in)
        const float* B = g.params + s.b_offset;  // (out, r)
        ug_.ensure(n * r);
        kernels::gemm(ctx_, false, true, n, r, in, 1.0f, x + g.begin * in, in, A, in, 0.0f,
                      ug_.data(), r);
        kernels::gemm(ctx_, false, true, n, out, r, g.adapter->scale(), ug_.data(), r, B, r, 1.0f,
                      y + g.begin * out, out);
    }
}

std::span<const float> BatchForward::run(std::span<const BatchRow> rows,
                                         std::vector<int64_t>& first_logit) {
    const auto& cfg = model_.config();
    const int64_t C = cfg.hidden_size, V = cfg.vocab_size, F = cfg.intermediate_size;
    const int64_t Hq = cfg.num_attention_heads, Hkv = cfg.num_key_value_heads, D = cfg.head_dim;
    const int64_t row = pool_.row_floats(), max_len = pool_.max_len();
    const std::size_t fbytes = sizeof(float);

    // Group the rows by adapter (first appearance order); lay the tokens out group by group;
    // count the logit rows wanted (in row order).
    groups_.clear();
    std::vector<int> group_of(rows.size());
    std::vector<bool> used(uploaded_.size(), false);
    first_logit.assign(rows.size(), 0);
    int64_t R = 0;
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const BatchRow& b = rows[i];
        const auto T = static_cast<int64_t>(b.tokens.size());
        QF_CHECK(T >= 1 && b.pos0 >= 0 && b.pos0 + T <= max_len,
                 "BatchForward: row {} has {} tokens at position {} (slot length {})", i, T, b.pos0,
                 max_len);
        auto g = std::find_if(groups_.begin(), groups_.end(),
                              [&](const Group& x) { return x.adapter == b.adapter; });
        if (g == groups_.end()) {
            const float* params = b.adapter ? adapter_params(b.adapter, used) : nullptr;
            groups_.push_back({b.adapter, params, 0, 0});
            g = groups_.end() - 1;
        }
        g->tokens += T;
        group_of[i] = static_cast<int>(g - groups_.begin());
        first_logit[i] = R;
        R += b.all_logits ? T : 1;
    }
    // Adapters no row uses in this step leave the device (an unloaded one is freed here).
    for (std::size_t i = used.size(); i-- > 0;) {
        if (!used[i]) {
            uploaded_.erase(uploaded_.begin() + static_cast<std::ptrdiff_t>(i));
        }
    }
    int64_t N = 0;
    for (Group& g : groups_) {
        g.begin = N;
        N += g.tokens;
    }
    tokens_.assign(sz(N), 0);
    pos_.assign(sz(N), 0);
    row_offset_.assign(rows.size(), 0);
    std::vector<int64_t> filled(groups_.size(), 0);
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const BatchRow& b = rows[i];
        const auto gi = sz(group_of[i]);
        const int64_t off = groups_[gi].begin + filled[gi];
        row_offset_[i] = off;
        for (std::size_t t = 0; t < b.tokens.size(); ++t) {
            tokens_[sz(off) + t] = b.tokens[t];
            pos_[sz(off) + t] = static_cast<int32_t>(b.pos0 + static_cast<int64_t>(t));
        }
        filled[gi] += static_cast<int64_t>(b.tokens.size());
    }
    tokens_d_.upload(tokens_.data(), N);
    pos_d_.upload(pos_.data(), N);
    x_.ensure(N * C);
    xn_.ensure(N * C);
    q_.ensure(N * Hq * D);
    k_.ensure(N * Hkv * D);
    v_.ensure(N * Hkv * D);
    att_.ensure(N * Hq * D);
    gate_.ensure(N * F);
    up_.ensure(N * F);
    rstd_.ensure(N);

    const LlamaOnDevice& W = model_;
    W.embed_rows(ctx_, x_.data(), tokens_d_.data(), N);
    for (int64_t l = 0; l < cfg.num_hidden_layers; ++l) {
        kernels::rmsnorm_forward(ctx_, xn_.data(), rstd_.data(), x_.data(), W.attn_norm(l), N, C,
                                 cfg.rms_norm_eps);
        project(l, 0, q_.data(), xn_.data(), N, 0.0f);
        project(l, 1, k_.data(), xn_.data(), N, 0.0f);
        project(l, 2, v_.data(), xn_.data(), N, 0.0f);
        kernels::rope_forward(ctx_, q_.data(), pos_d_.data(), W.rope_cos(), W.rope_sin(), N, Hq, D);
        kernels::rope_forward(ctx_, k_.data(), pos_d_.data(), W.rope_cos(), W.rope_sin(), N, Hkv,
                              D);
        for (std::size_t i = 0; i < rows.size(); ++i) {
            const BatchRow& b = rows[i];
            const auto T = static_cast<int64_t>(b.tokens.size());
            const int64_t off = row_offset_[i];
            float* kc = pool_.k(l, b.slot);
            float* vc = pool_.v(l, b.slot);
            kernels::buffer_copy(ctx_, kc + b.pos0 * row, k_.data() + off * row,
                                 fbytes * sz(T * row));
            kernels::buffer_copy(ctx_, vc + b.pos0 * row, v_.data() + off * row,
                                 fbytes * sz(T * row));
            kernels::AttnParams p{};
            p.out = att_.data() + off * Hq * D;
            p.lse = nullptr;
            p.q = q_.data() + off * Hq * D;
            p.k = kc;
            p.v = vc;
            p.segment_ids = nullptr;
            p.B = 1;
            p.T = T;
            p.Tk = b.pos0 + T;
            p.Hq = Hq;
            p.Hkv = Hkv;
            p.D = D;
            p.q_pos0 = b.pos0;
            p.q_batch_stride = T * Hq * D;
            p.q_row_stride = Hq * D;
            p.kv_batch_stride = max_len * row;
            p.kv_row_stride = row;
            kernels::attention_forward(ctx_, p);
        }
        project(l, 3, x_.data(), att_.data(), N, 1.0f);  // x += o_proj(att)
        kernels::rmsnorm_forward(ctx_, xn_.data(), rstd_.data(), x_.data(), W.mlp_norm(l), N, C,
                                 cfg.rms_norm_eps);
        project(l, 4, gate_.data(), xn_.data(), N, 0.0f);
        project(l, 5, up_.data(), xn_.data(), N, 0.0f);
        kernels::swiglu_forward(ctx_, gate_.data(), gate_.data(), up_.data(), N * F);
        project(l, 6, x_.data(), gate_.data(), N, 1.0f);  // x += down_proj(h)
    }

    // Only the positions whose logits are wanted go through the final norm and the LM head,
    // in row order.
    head_in_.ensure(R * C);
    head_n_.ensure(R * C);
    logits_.ensure(R * V);
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const BatchRow& b = rows[i];
        const auto T = static_cast<int64_t>(b.tokens.size());
        const int64_t first = b.all_logits ? row_offset_[i] : row_offset_[i] + T - 1;
        const int64_t count = b.all_logits ? T : 1;
        kernels::buffer_copy(ctx_, head_in_.data() + first_logit[i] * C, x_.data() + first * C,
                             fbytes * sz(count * C));
    }
    kernels::rmsnorm_forward(ctx_, head_n_.data(), nullptr, head_in_.data(), W.final_norm(), R, C,
                             cfg.rms_norm_eps);
    kernels::linear_forward(ctx_, logits_.data(), head_n_.data(), W.lm_head(), nullptr, R, C, V);
    if (ctx_.device == kernels::Device::kCpu) {
        return {logits_.data(), sz(R * V)};
    }
    host_logits_.resize(sz(R * V));
    logits_.download(host_logits_.data(), R * V);  // waits for the step
    return {host_logits_.data(), host_logits_.size()};
}

}  // namespace qforge::serve
