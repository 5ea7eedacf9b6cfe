// What is here: BatchForward (see batch_forward.h). The layer is LlamaModel::forward's, with
// three differences: positions come per token (each row at its own pos0), attention runs per
// row against that row's KV slot, and the LoRA update is applied per adapter group:
//   y_all  = x_all W^T                                  one GEMM for the whole batch
//   y_g   += s_g (x_g A_g^T) B_g^T   for each group g   rows gathered, updated, scattered
#include "serve/batch_forward.h"

#include <algorithm>
#include <cstring>

#include "kernels/attention.h"
#include "kernels/embedding.h"
#include "kernels/gemm.h"
#include "kernels/linear.h"
#include "kernels/rmsnorm.h"
#include "kernels/rope.h"
#include "kernels/swiglu.h"

namespace qforge::serve {

namespace {
std::size_t sz(int64_t n) {
    return static_cast<std::size_t>(n);
}

void grow(std::vector<float>& v, int64_t n) {
    if (v.size() < sz(n)) {
        v.resize(sz(n));
    }
}
}  // namespace

BatchForward::BatchForward(const LlamaModel& model, KvPool& pool, kernels::Ctx ctx)
    : model_(model), pool_(pool), ctx_(ctx) {}

void BatchForward::project(int64_t layer, int t, float* y, const float* x, int64_t N, float beta) {
    const FrozenLinear& w = model_.weights().layers[sz(layer)].projection(t);
    const int64_t in = w.cols(), out = w.rows();
    kernels::gemm(ctx_, false, true, N, out, in, 1.0f, x, in, w.weights(dequant_), in, beta, y,
                  out);
    for (const Group& g : groups_) {
        if (g.adapter == nullptr) {
            continue;
        }
        const LoraSlot& s = g.adapter->slot(layer, static_cast<LoraTarget>(t));
        if (!s.enabled) {
            continue;
        }
        const int64_t r = g.adapter->options().r, n = g.tokens;
        const float* A = g.adapter->params().data() + s.a_offset;  // (r, in)
        const float* B = g.adapter->params().data() + s.b_offset;  // (out, r)
        grow(xg_, n * in);
        grow(ug_, n * r);
        grow(yg_, n * out);
        int64_t at = 0;
        for (const auto& [begin, count] : g.ranges) {
            std::memcpy(xg_.data() + at * in, x + begin * in, sizeof(float) * sz(count * in));
            at += count;
        }
        kernels::gemm(ctx_, false, true, n, r, in, 1.0f, xg_.data(), in, A, in, 0.0f, ug_.data(),
                      r);
        kernels::gemm(ctx_, false, true, n, out, r, g.adapter->scale(), ug_.data(), r, B, r, 0.0f,
                      yg_.data(), out);
        at = 0;
        for (const auto& [begin, count] : g.ranges) {
            float* dst = y + begin * out;
            const float* src = yg_.data() + at * out;
            for (int64_t i = 0; i < count * out; ++i) {
                dst[i] += src[i];
            }
            at += count;
        }
    }
}

std::span<const float> BatchForward::run(std::span<const BatchRow> rows,
                                         std::vector<int64_t>& first_logit) {
    const auto& cfg = model_.config();
    const int64_t C = cfg.hidden_size, V = cfg.vocab_size, F = cfg.intermediate_size;
    const int64_t Hq = cfg.num_attention_heads, Hkv = cfg.num_key_value_heads, D = cfg.head_dim;
    const int64_t row = pool_.row_floats(), max_len = pool_.max_len();

    // Flatten the rows' tokens; group token ranges by adapter; count the logit rows wanted.
    tokens_.clear();
    pos_.clear();
    groups_.clear();
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
            groups_.push_back({b.adapter, {}, 0});
            g = groups_.end() - 1;
        }
        g->ranges.emplace_back(static_cast<int64_t>(tokens_.size()), T);
        g->tokens += T;
        for (int64_t t = 0; t < T; ++t) {
            tokens_.push_back(b.tokens[sz(t)]);
            pos_.push_back(static_cast<int32_t>(b.pos0 + t));
        }
        first_logit[i] = R;
        R += b.all_logits ? T : 1;
    }
    const auto N = static_cast<int64_t>(tokens_.size());
    grow(x_, N * C);
    grow(xn_, N * C);
    grow(q_, N * Hq * D);
    grow(k_, N * Hkv * D);
    grow(v_, N * Hkv * D);
    grow(att_, N * Hq * D);
    grow(gate_, N * F);
    grow(up_, N * F);
    grow(rstd_, N);

    const auto& W = model_.weights();
    kernels::embedding_forward(ctx_, x_.data(), tokens_.data(), W.embed.data<float>(), N, C, V);
    for (int64_t l = 0; l < cfg.num_hidden_layers; ++l) {
        const auto& Lw = W.layers[sz(l)];
        kernels::rmsnorm_forward(ctx_, xn_.data(), rstd_.data(), x_.data(),
                                 Lw.attn_norm.data<float>(), N, C, cfg.rms_norm_eps);
        project(l, 0, q_.data(), xn_.data(), N, 0.0f);
        project(l, 1, k_.data(), xn_.data(), N, 0.0f);
        project(l, 2, v_.data(), xn_.data(), N, 0.0f);
        kernels::rope_forward(ctx_, q_.data(), pos_.data(), model_.rope_cos(), model_.rope_sin(), N,
                              Hq, D);
        kernels::rope_forward(ctx_, k_.data(), pos_.data(), model_.rope_cos(), model_.rope_sin(), N,
                              Hkv, D);
        int64_t off = 0;
        for (const BatchRow& b : rows) {
            const auto T = static_cast<int64_t>(b.tokens.size());
            float* kc = pool_.k(l, b.slot);
            float* vc = pool_.v(l, b.slot);
            std::memcpy(kc + b.pos0 * row, k_.data() + off * row, sizeof(float) * sz(T * row));
            std::memcpy(vc + b.pos0 * row, v_.data() + off * row, sizeof(float) * sz(T * row));
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
            off += T;
        }
        project(l, 3, x_.data(), att_.data(), N, 1.0f);  // x += o_proj(att)
        kernels::rmsnorm_forward(ctx_, xn_.data(), rstd_.data(), x_.data(),
                                 Lw.mlp_norm.data<float>(), N, C, cfg.rms_norm_eps);
        project(l, 4, gate_.data(), xn_.data(), N, 0.0f);
        project(l, 5, up_.data(), xn_.data(), N, 0.0f);
        kernels::swiglu_forward(ctx_, gate_.data(), gate_.data(), up_.data(), N * F);
        project(l, 6, x_.data(), gate_.data(), N, 1.0f);  // x += down_proj(h)
    }

    // Only the positions whose logits are wanted go through the final norm and the LM head.
    grow(head_in_, R * C);
    grow(head_n_, R * C);
    grow(logits_, R * V);
    int64_t off = 0, r = 0;
    for (const BatchRow& b : rows) {
        const auto T = static_cast<int64_t>(b.tokens.size());
        const int64_t first = b.all_logits ? off : off + T - 1, count = b.all_logits ? T : 1;
        std::memcpy(head_in_.data() + r * C, x_.data() + first * C, sizeof(float) * sz(count * C));
        r += count;
        off += T;
    }
    kernels::rmsnorm_forward(ctx_, head_n_.data(), nullptr, head_in_.data(),
                             W.final_norm.data<float>(), R, C, cfg.rms_norm_eps);
    kernels::linear_forward(ctx_, logits_.data(), head_n_.data(), W.lm_head.data<float>(), nullptr,
                            R, C, V);
    return {logits_.data(), sz(R * V)};
}

}  // namespace qforge::serve
