// What is here: LoraTrainStep (see llama_lora.h). Per layer, with n = rmsnorm:
//   forward   x_mid = x + o(attn(rope(q(n1)), rope(k(n1)), v(n1))),   n1 = n(x)
//             x_out = x_mid + down(silu(gate(n2)) * up(n2)),           n2 = n(x_mid)
//   backward  the same steps in reverse; `dres` holds d(x_out) on entry and d(x) on exit,
//             since both residual branches add into it.
// The loss head runs in row chunks so the full (N, V) logits never exist at once.
#include "runtime/model/llama_lora.h"

#include <algorithm>
#include <cmath>
#include <initializer_list>

#include "kernels/attention.h"
#include "kernels/bf16.h"
#include "kernels/cross_entropy.h"
#include "kernels/embedding.h"
#include "kernels/gemm.h"
#include "kernels/linear.h"
#include "kernels/memory.h"
#include "kernels/rmsnorm.h"
#include "kernels/rope.h"
#include "kernels/stream.h"
#include "kernels/swiglu.h"

namespace qforge {

using kernels::Ctx;

namespace {
// fp32 logits per loss-head chunk: 16 MiB on the CPU (cache-sized); 256 MiB on a GPU, where a
// chunk of few rows would make the LM-head GEMM re-read the whole (V, C) head per handful of
// rows (memory-bound) and add a host sync per chunk.
int64_t logit_chunk_floats(const Ctx& ctx) {
    return ctx.device == kernels::Device::kCpu ? int64_t{1} << 22 : int64_t{1} << 26;
}

std::size_t sz(int64_t n) {
    return static_cast<std::size_t>(n);
}
}  // namespace

LoraTrainStep::LoraTrainStep(const LlamaOnDevice& model, const LoraAdapter& adapter, int64_t B,
                             int64_t T, bool activation_checkpointing,
                             std::optional<bool> fused_bf16, std::optional<bool> offload_mlp,
                             std::optional<double> offload_fraction)
    : model_(model),
      adapter_(adapter),
      ctx_(model.ctx()),
      params_(adapter.params().data()),
      B_(B),
      T_(T),
      checkpointing_(activation_checkpointing) {
    init(B, T, fused_bf16, offload_mlp, offload_fraction);
}

LoraTrainStep::LoraTrainStep(const LlamaModel& model, const LoraAdapter& adapter, int64_t B,
                             int64_t T, bool activation_checkpointing,
                             std::optional<bool> fused_bf16, std::optional<bool> offload_mlp,
                             std::optional<double> offload_fraction)
    : owned_model_(std::make_unique<LlamaOnDevice>(LlamaOnDevice::from_model(model, Ctx{}))),
      model_(*owned_model_),
      adapter_(adapter),
      ctx_(model_.ctx()),
      params_(adapter.params().data()),
      B_(B),
      T_(T),
      checkpointing_(activation_checkpointing) {
    init(B, T, fused_bf16, offload_mlp, offload_fraction);
}

void LoraTrainStep::init(int64_t B, int64_t T, std::optional<bool> fused_bf16,
                         std::optional<bool> offload_mlp, std::optional<double> offload_fraction) {
    const auto& c = model_.config();
    QF_CHECK(B >= 1 && T >= 1, "train step needs B, T >= 1, got {} x {}", B, T);
    QF_CHECK(T <= c.max_position_embeddings, "seq_len {} exceeds max_position_embeddings {}", T,
             c.max_position_embeddings);
    QF_CHECK(adapter_.num_layers() == c.num_hidden_layers,
             "the adapter has {} layers, the model {}", adapter_.num_layers(), c.num_hidden_layers);
    const int64_t N = B * T, C = c.hidden_size, F = c.intermediate_size;
    const int64_t Hq = c.num_attention_heads, Hkv = c.num_key_value_heads, D = c.head_dim;
    const int64_t L = c.num_hidden_layers;
    fused_ = fused_bf16.value_or(ctx_.device == kernels::Device::kCuda &&
                                 kernels::cuda_gemm_math() == kernels::GemmMath::kBf16);
    // fp32 copies of the projection inputs are needed by the fp32 path, by dropout (the dropped
    // LoRA input is made in fp32) and without checkpointing (backward re-stages them)
    fp32_inputs_ = !fused_ || adapter_.options().dropout > 0.0f || !checkpointing_;
    // The lean checkpointed path (see the header): L x N x C bf16 of memory for the attention
    // outputs spares the recompute one of the step's largest non-GEMM costs.
    lean_ = fused_ && checkpointing_ && !fp32_inputs_;
    // MLP offload: only where the recompute would make gate / up in bf16 (see the header)
    offload_ = lean_ && offload_mlp.value_or(ctx_.device == kernels::Device::kCuda) && L > 1;
    for (int64_t l = 0; l <= (lean_ ? 1 : L); ++l) {
        xs_.push_back(make(N * C));
    }
    acts_.resize(checkpointing_ ? 1 : sz(L));
    if (lean_) {
        saved_att_.resize(sz(L));
        qkv16_.resize(sz(L));
        for (int64_t l = 0; l < L; ++l) {
            prepare_bf16_rows(ctx_, saved_att_[sz(l)], N, Hq * D, adapter_.options().r);
            saved_lse_.push_back(make(B * Hq * T));
            qkv16_[sz(l)] = {DeviceArray<uint16_t>(ctx_, N * Hq * D),
                             DeviceArray<uint16_t>(ctx_, N * Hkv * D),
                             DeviceArray<uint16_t>(ctx_, N * Hkv * D)};
            if (l + 1 < L) {
                xs16_.emplace_back(ctx_, N * C);
            }
        }
    }
    for (auto& a : acts_) {
        allocate(a);
    }
    for (int64_t l = 0; lean_ && l < L; ++l) {
        saved_u_.push_back(make(N * u_ld()));
    }
    init_merged_qkv();
    // targets whose u come from one GEMM: adapted in every layer (the A rows of one input)
    auto all_adapt = [&](std::initializer_list<LoraTarget> ts) {
        for (int64_t l = 0; l < L; ++l) {
            for (LoraTarget t : ts) {
                if (!adapter_.slot(l, t).enabled) {
                    return false;
                }
            }
        }
        return true;
    };
    const int64_t r = adapter_.options().r;
    if (lean_ && all_adapt({LoraTarget::kQ, LoraTarget::kK, LoraTarget::kV})) {
        prepare_bf16_rows(ctx_, a_qkv_, 3 * r, C, 0);
    }
    if (lean_ && all_adapt({LoraTarget::kGate, LoraTarget::kUp})) {
        prepare_bf16_rows(ctx_, a_gate_up_, 2 * r, C, 0);
    }
    down_dA_in_swiglu_ = lean_ && adapter_.options().r <= kernels::kSwigluLoraMaxRank;
    swiglu_partials_ = make(down_dA_in_swiglu_ && ctx_.device == kernels::Device::kCuda
                                ? kernels::swiglu_lora_partials(N, F, adapter_.options().r)
                                : 0);
    if (offload_) {
        gate16_b_ = DeviceArray<uint16_t>(ctx_, N * F);
        up16_b_ = DeviceArray<uint16_t>(ctx_, N * F);
        // the forward's third slot (see forward_slot): d gate / d up, free until the backward
        prepare_bf16_rows(ctx_, dgate_bf16_, N, F, adapter_.options().r);
        prepare_bf16_rows(ctx_, dup_bf16_, N, F, adapter_.options().r);
        // a layer's gate + up bytes per forward FLOP, per token (attention causal: T/2 keys)
        const double proj = static_cast<double>(C) * (Hq * D + 2 * Hkv * D) +
                            static_cast<double>(Hq * D) * C + 3.0 * static_cast<double>(C) * F;
        const double flops = 2.0 * proj + 2.0 * static_cast<double>(T) * Hq * D;
        offload_fraction_ = std::clamp(
            offload_fraction.value_or(kOffloadBytesPerFlop / (4.0 * F / flops)), 0.0, 1.0);
        int64_t layers = 0;
        for (int64_t l = 0; l < L; ++l) {
            host_slot_.push_back(layers);
            layers += offloads(l) ? 1 : 0;
        }
        const std::size_t host_bytes = sz(layers * 2 * N * F) * sizeof(uint16_t);
        try {
            mlp_host_ = kernels::PinnedHostBuffer(ctx_, host_bytes);
        } catch (const Error& e) {
            throw Error(fmt::format(
                "train step: the MLP activation offload needs {:.1f} GiB of pinned host memory "
                "({} layers x 2 x {} tokens x intermediate_size {} x 2 bytes); set "
                "train.activation_offload: false to recompute instead ({})",
                static_cast<double>(host_bytes) / (1u << 30), layers, N, F, e.what()));
        }
        copy_out_stream_ = kernels::Stream(ctx_);
        copy_in_stream_ = kernels::Stream(ctx_);
        for (auto& e : gu_ready_) {
            e = kernels::Event(ctx_);
        }
        for (auto& e : gu_saved_) {
            e = kernels::Event(ctx_);
        }
        for (auto* e : {&gu_loaded_[0], &gu_loaded_[1], &gu_free_, &gu_all_saved_}) {
            *e = kernels::Event(ctx_);
        }
    }
    input_ = DeviceArray<int32_t>(ctx_, N);
    targets_ = DeviceArray<int32_t>(ctx_, N);
    segments_ = DeviceArray<int32_t>(ctx_, N);
    positions_ = DeviceArray<int32_t>(ctx_, N);
    positions_host_.resize(sz(N));
    losses_host_.resize(sz(N));
    dequant_ = make(0);
    for (int64_t l = 0; l < L; ++l) {  // the adapter's layout is layer-major
        int64_t lo = adapter_.num_params(), hi = 0;
        for (int t = 0; t < kNumLoraTargets; ++t) {
            const auto& s = adapter_.slot(l, static_cast<LoraTarget>(t));
            if (s.enabled) {
                lo = std::min(lo, s.a_offset);
                hi = std::max(hi, s.b_offset + s.out * adapter_.options().r);
            }
        }
        layer_grads_.emplace_back(lo, std::max<int64_t>(0, hi - lo));
    }
    // (the fourth forward slot's up, N x F bf16, fits in 2 N C floats unless F > 4 C)
    dres_dxn_ = make(std::max(2 * N * C, offload_ ? (N * F + 1) / 2 : 0));
    dres_ = dres_dxn_.data();
    dxn_ = dres_ + N * C;
    dF1_ = make(fused_ ? 0 : N * F);  // the fused path writes d gate / d up in bf16
    dF2_ = make(fused_ ? 0 : N * F);
    // the fused path takes d h in bf16 (dh16_), straight from the GEMM when no fp32 copy is needed
    dF3_ = make(fused_ && !fp32_inputs_ ? 0 : N * F);
    dh16_ = DeviceArray<uint16_t>(ctx_, fused_ ? N * F : 0);
    dq_ = make(N * Hq * D);
    dk_ = make(N * Hkv * D);
    dv_ = make(N * Hkv * D);
    datt_ = make(lean_ ? 0 : N * Hq * D);
    datt16_ = DeviceArray<uint16_t>(ctx_, lean_ ? N * Hq * D : 0);
    du_ = make(0);
    xd_ = make(0);
    xf_ = make(0);  // the fp32 LM head's input only (see run())
    rstd_f_ = make(N);
    dxf_ = make(N * C);
    losses_ = make(N);
    lse_rows_ = make(N);
    dloss_ = make(N);
    logits_ = make(0);
}

void LoraTrainStep::allocate(LayerActs& a) {
    const auto& c = model_.config();
    const int64_t N = B_ * T_, C = c.hidden_size, F = c.intermediate_size, D = c.head_dim;
    const int64_t Hq = c.num_attention_heads, Hkv = c.num_key_value_heads;
    const int64_t in_rows = fp32_inputs_ ? N : 0;  // xn1, xn2, h: fp32 copies when needed
    a.xn1 = make(in_rows * C);
    a.rstd1 = make(N);
    a.q = make(lean_ ? 0 : N * Hq * D);
    a.k = make(lean_ ? 0 : N * Hkv * D);
    a.v = make(lean_ ? 0 : N * Hkv * D);
    a.att = make(lean_ ? 0 : N * Hq * D);
    a.lse = make(B_ * Hq * T_);
    a.x_mid = make(N * C);
    a.xn2 = make(in_rows * C);
    a.rstd2 = make(N);
    a.gate = make(fused_ ? 0 : N * F);  // the fused path keeps them in bf16
    a.up = make(fused_ ? 0 : N * F);
    a.gate16 = DeviceArray<uint16_t>(ctx_, fused_ ? N * F : 0);
    a.up16 = DeviceArray<uint16_t>(ctx_, fused_ ? N * F : 0);
    a.h = make(in_rows * F);
    for (auto& u : a.u) {
        u = make(N * adapter_.options().r);
    }
}

void LoraTrainStep::init_merged_qkv() {
    const auto& c = model_.config();
    const int64_t N = B_ * T_, C = c.hidden_size, r = adapter_.options().r;
    const std::array<int64_t, 3> widths{c.num_attention_heads * c.head_dim + r,
                                        c.num_key_value_heads * c.head_dim + r,
                                        c.num_key_value_heads * c.head_dim + r};
    merged_qkv_ = lean_;
    for (int64_t l = 0; merged_qkv_ && l < c.num_hidden_layers; ++l) {
        for (int t = 0; t < 3; ++t) {
            merged_qkv_ = merged_qkv_ && adapter_.slot(l, static_cast<LoraTarget>(t)).enabled &&
                          widths[sz(t)] % 8 == 0;
        }
    }
    if (!merged_qkv_) {
        return;
    }
    const int64_t K = widths[0] + widths[1] + widths[2];
    packed_qkv_.ld = bf16_row_stride(C + r);
    packed_qkv_.rows = K;
    packed_qkv_.buf.bind(ctx_);
    packed_qkv_.buf.ensure(K * packed_qkv_.ld);
    prepare_bf16_rows(ctx_, dy_qkv_, N, K, 0);
    std::array<Bf16Rows*, 3> dys{&dq_rows_, &dk_rows_, &dv_rows_};
    int64_t at = 0;
    for (int t = 0; t < 3; ++t) {
        packed_[sz(t)].m.view_of(packed_qkv_, at, 0, widths[sz(t)]);
        dys[sz(t)]->view_of(dy_qkv_, 0, at, N);
        at += widths[sz(t)];
    }
}

float* LoraTrainStep::x_at(int64_t l) {
    return xs_[sz(lean_ ? l % 2 : l)].data();
}

float* LoraTrainStep::u_of(int64_t l, int t, LayerActs& a) {
    return lean_ ? saved_u_[sz(l)].data() + t * adapter_.options().r : a.u[sz(t)].data();
}

int64_t LoraTrainStep::u_ld() const {
    return (lean_ ? kNumLoraTargets : 1) * adapter_.options().r;
}

void LoraTrainStep::lora_inputs_at_once(int64_t l, int t0, int n, const Bf16Rows& xs,
                                        const Bf16Rows& a_side, int64_t N, LayerActs& a) {
    const int64_t r = adapter_.options().r, in = model_.projection(l, t0).cols;
    // the layer's factors (a_side included) are packed before the GEMM reads them
    packed(l, t0, projection(l, t0, false, 0, 0));
    kernels::gemm_bf16(ctx_, false, true, N, n * r, in, 1.0f, xs.data(), xs.ld, a_side.data(),
                       a_side.ld, 0.0f, u_of(l, t0, a), u_ld());
}

bool LoraTrainStep::offloads(int64_t l) const {
    // not the last two layers (kept_in_slot)
    // evenly spread: layer l offloads when floor((l + 1) f) steps past floor(l f)
    const auto f = offload_fraction_;
    return offload_ && std::floor((l + 1) * f) > std::floor(l * f) &&
           l + 2 < model_.config().num_hidden_layers;
}

bool LoraTrainStep::kept_in_slot(int64_t l) const {
    // the last layer's backward reads its forward's activations directly (no recompute); the one
    // before it owns the other slot, which the backward of the last layer does not load into
    return offload_run_ && l + 2 == model_.config().num_hidden_layers;
}

int LoraTrainStep::forward_slot(int64_t l) const {
    // the slots in turn, counted down from the last layer so that the last two land where the
    // backward reads them (l % 2) and the two before them in the backward's buffers (2, 3)
    const int64_t L = model_.config().num_hidden_layers;
    const int64_t d = (L - 1 - l) % kForwardSlots;
    return d < 2 ? static_cast<int>((L - 1 - d) % 2) : static_cast<int>(d);
}

uint16_t* LoraTrainStep::host_gate_up(int64_t l) {
    const int64_t NF = B_ * T_ * model_.config().intermediate_size;
    return static_cast<uint16_t*>(mlp_host_.data()) + host_slot_[sz(l)] * 2 * NF;
}

std::pair<uint16_t*, uint16_t*> LoraTrainStep::gate_up_slot(int s, LayerActs& a) {
    switch (s) {
        case 0:
            return {a.gate16.data(), a.up16.data()};
        case 1:
            return {gate16_b_.data(), up16_b_.data()};
        case 2:
            return {dgate_bf16_.data(), dup_bf16_.data()};
        default:
            return {dh16_.data(), reinterpret_cast<uint16_t*>(dres_dxn_.data())};
    }
}

void LoraTrainStep::load_gate_up(int64_t l) {
    const int64_t NF = B_ * T_ * model_.config().intermediate_size;
    const int s = static_cast<int>(l % 2);
    const auto [gate, up] = gate_up_slot(s, acts_[0]);  // offloading implies checkpointing
    // (the host copy is complete: the backward began after every copy out, see run())
    const uint16_t* host = host_gate_up(l);
    const std::size_t bytes = sz(NF) * sizeof(uint16_t);
    across_streams([main = ctx_, in = copy_in_ctx(), free = gu_free_.get(),
                    loaded = gu_loaded_[sz(s)].get(), gate, up, host, NF, bytes] {
        kernels::event_record(main, free);  // the slot's last reader is queued before this
        kernels::stream_wait(in, free);
        kernels::buffer_upload_async(in, gate, host, bytes);
        kernels::buffer_upload_async(in, up, host + NF, bytes);
        kernels::event_record(in, loaded);
    });
}

void LoraTrainStep::across_streams(std::function<void()> call) {
    if (graph_.capturing()) {
        graph_.cut(std::move(call));
    } else {
        call();
    }
}

const PackedProjection& LoraTrainStep::packed(int64_t l, int t, const LoraProjection& p) {
    if (lora_packed_layer_ != l || lora_packed_generation_ != generation_) {
        // the LoRA factors of all the layer's projections in one launch (they change every run);
        // the buffers still holding the previous layer's base are past their last reader
        std::vector<kernels::Bf16Conversion> conversions;
        for (int u = 0; u < kNumLoraTargets; ++u) {
            const LoraProjection pu = u == t ? p : projection(l, u, false, 0, 0);
            PackedProjection& pk = packed_[sz(u)];
            if (size_packed(ctx_, pu, pk)) {
                pk.layer = -1;  // a new buffer: no base in it yet
            }
            pack_lora_factors(pu, pk, conversions);
            // the A rows of targets whose u come from one GEMM (lora_inputs_at_once)
            Bf16Rows* side = u < 3 ? &a_qkv_ : (u == 4 || u == 5) ? &a_gate_up_ : nullptr;
            if (side != nullptr && side->rows > 0) {
                const int64_t r = pu.r, row0 = (u < 3 ? u : u - 4) * r;
                conversions.push_back(
                    {side->data() + row0 * side->ld, side->ld, pu.A, pu.in, r, pu.in, 1.0f});
            }
        }
        kernels::convert_to_bf16_batch(ctx_, conversions);
        lora_packed_layer_ = l;
        lora_packed_generation_ = generation_;
    }
    PackedProjection& pk = packed_[sz(t)];
    if (pk.layer != l) {  // the frozen base: kept from one run to the next
        pack_base(ctx_, model_.projection(l, t), p, pk);
        pk.layer = l;
    }
    return pk;
}

LoraProjection LoraTrainStep::projection(int64_t l, int t, bool training, uint64_t seed,
                                         uint64_t micro_key) {
    const ProjectionOnDevice& w = model_.projection(l, t);
    LoraProjection p{};
    // valid until the next projection(); the fused path packs its own bf16 copy instead
    p.W = fused_ ? nullptr : model_.projection_weights(l, t, dequant_);
    p.in = w.cols;
    p.out = w.rows;
    const auto& s = adapter_.slot(l, static_cast<LoraTarget>(t));
    if (s.enabled) {
        p.A = params_ + s.a_offset;
        p.B = params_ + s.b_offset;
        p.r = adapter_.options().r;
        p.scale = adapter_.scale();
    }
    p.dropout = training ? adapter_.options().dropout : 0.0f;
    p.seed = seed;
    p.key = (micro_key * 1024 + static_cast<uint64_t>(l)) * 8 + static_cast<uint64_t>(t);
    return p;
}

void LoraTrainStep::layer_forward(int64_t l, const TokenBatch& batch, LayerActs& a,
                                  const float* x_in, float* x_out, bool training, uint64_t seed,
                                  uint64_t micro_key) {
    const auto& c = model_.config();
    const int64_t N = batch.B * batch.T, C = c.hidden_size, F = c.intermediate_size;
    const int64_t Hq = c.num_attention_heads, Hkv = c.num_key_value_heads, D = c.head_dim;
    const Ctx& ctx = ctx_;
    const int64_t r = adapter_.options().r;
    // Fused path: each shared input is staged to bf16 once (by the kernel that makes it, when
    // the fp32 copy is not needed) into its own slot, which this layer's backward reuses.
    // (the lean path's attention output goes to its per-layer store)
    // a lean recompute finds the LoRA inputs u of the forward: only staged, not remade
    const bool u_ready = lean_ && x_out == nullptr;
    auto rows_of = [&](int s) -> Bf16Rows& {
        return s == kStagedAtt && lean_ ? saved_att_[sz(l)] : staged_in_[sz(s)].rows;
    };
    auto slot = [&](int s) -> Bf16Rows& {
        staged_in_[sz(s)].layer = l;
        staged_in_[sz(s)].generation = generation_;
        return rows_of(s);
    };
    auto stage = [&](int s, const float* x, int64_t cols) {
        if (fused_) {
            stage_bf16_rows(ctx, slot(s), x, N, cols, r);
        }
    };
    // y_in: the residual y starts from (fused path: read in place, not copied into y first)
    auto fwd = [&](int t, float* y, const float* x, int s, float beta,
                   const float* y_in = nullptr) {
        const LoraProjection p = projection(l, t, training, seed, micro_key);
        float* u = u_of(l, t, a);
        if (fused_) {
            fused_projection_forward(ctx, p, packed(l, t, p), y, x, rows_of(s), N, beta, u, xd_,
                                     y_in, u_ready, u_ld());
        } else {
            if (y_in != nullptr && y != nullptr && y_in != y) {
                kernels::buffer_copy(ctx, y, y_in, sizeof(float) * sz(N * p.out));
            }
            lora_projection_forward(ctx, p, y, x, N, beta, u, xd_);
        }
    };
    // the fused path's projections whose output is only read in bf16 (q/k/v, gate/up)
    // (u_made: u is already there, from lora_inputs_at_once)
    auto fwd16 = [&](int t, uint16_t* y, const float* x, int s, bool u_made = false) {
        const LoraProjection p = projection(l, t, training, seed, micro_key);
        fused_projection_forward_to_bf16(ctx, p, packed(l, t, p), y, x, rows_of(s), N,
                                         u_of(l, t, a), xd_, u_ready || u_made, u_ld());
    };
    // rmsnorm / SwiGLU straight to bf16 when only the bf16 copy is used
    const bool bf16_only = fused_ && !fp32_inputs_;
    auto norm = [&](int s, float* xn, float* rstd, const float* x, const float* w) {
        if (bf16_only) {
            Bf16Rows& rows = slot(s);
            prepare_bf16_rows(ctx, rows, N, C, r);
            kernels::rmsnorm_forward_bf16(ctx, rows.data(), rows.ld, rstd, x, w, N, C,
                                          c.rms_norm_eps);
            return;
        }
        kernels::rmsnorm_forward(ctx, xn, rstd, x, w, N, C, c.rms_norm_eps);
        stage(s, xn, C);
    };
    const int32_t* segments = batch.segment_ids != nullptr ? segments_.data() : nullptr;

    norm(kStagedXn1, a.xn1.data(), a.rstd1.data(), x_in, model_.attn_norm(l));
    if (lean_) {
        // a recompute (x_out == nullptr) finds q, k, v and the attention output kept
        if (x_out != nullptr) {
            auto& [q16, k16, v16] = qkv16_[sz(l)];
            const bool at_once = a_qkv_.rows > 0;
            if (at_once) {
                lora_inputs_at_once(l, 0, 3, rows_of(kStagedXn1), a_qkv_, N, a);
            }
            fwd16(0, q16.data(), a.xn1.data(), kStagedXn1, at_once);
            fwd16(1, k16.data(), a.xn1.data(), kStagedXn1, at_once);
            fwd16(2, v16.data(), a.xn1.data(), kStagedXn1, at_once);
            kernels::rope_forward_bf16(ctx, q16.data(), Hq * D, positions_.data(),
                                       model_.rope_cos(), model_.rope_sin(), N, Hq, D);
            kernels::rope_forward_bf16(ctx, k16.data(), Hkv * D, positions_.data(),
                                       model_.rope_cos(), model_.rope_sin(), N, Hkv, D);
            Bf16Rows& att = slot(kStagedAtt);  // saved_att_[l]: read by o and the backward
            kernels::attention_forward_bf16(
                ctx, kernels::AttnBf16Params{att.data(), att.ld, saved_lse_[sz(l)].data(),
                                             q16.data(), Hq * D, k16.data(), v16.data(), Hkv * D,
                                             segments, batch.B, batch.T, Hq, Hkv, D});
        }
    } else {
        fwd(0, a.q.data(), a.xn1.data(), kStagedXn1, 0.0f);
        fwd(1, a.k.data(), a.xn1.data(), kStagedXn1, 0.0f);
        fwd(2, a.v.data(), a.xn1.data(), kStagedXn1, 0.0f);
        kernels::rope_forward(ctx, a.q.data(), positions_.data(), model_.rope_cos(),
                              model_.rope_sin(), N, Hq, D);
        kernels::rope_forward(ctx, a.k.data(), positions_.data(), model_.rope_cos(),
                              model_.rope_sin(), N, Hkv, D);
        kernels::attention_forward(ctx, kernels::make_attn_params_contiguous(
                                            a.att.data(), a.lse.data(), a.q.data(), a.k.data(),
                                            a.v.data(), segments, batch.B, batch.T, Hq, Hkv, D));
        stage(kStagedAtt, a.att.data(), Hq * D);
    }
    // x_mid = x_in + o(att), read from x_in rather than copied first. With checkpointing the
    // forward builds it in x_out itself (the recompute remakes the copy the backward reads), so the
    // down projection then adds in place. Not in the last layer, whose backward reads the forward's
    // activations (see run()).
    const bool last = l + 1 == c.num_hidden_layers;
    float* x_mid = checkpointing_ && x_out != nullptr && !last ? x_out : a.x_mid.data();
    fwd(3, x_mid, a.att.data(), kStagedAtt, 1.0f, x_in);

    norm(kStagedXn2, a.xn2.data(), a.rstd2.data(), x_mid, model_.mlp_norm(l));
    if (fused_) {  // gate, up in bf16, then h = silu(gate) * up straight into its staged slot
        const bool recompute = x_out == nullptr;
        const int gu = !offload_run_ ? 0 : recompute ? static_cast<int>(l % 2) : forward_slot(l);
        const auto [gate, up] = gate_up_slot(gu, a);
        const int64_t NF = N * F;
        if (recompute && offload_run_ && offloads(l)) {
            // gate and up come back from host memory (and u was kept: offloading is lean)
            across_streams([main = ctx, loaded = gu_loaded_[sz(gu)].get()] {
                kernels::stream_wait(main, loaded);
            });
        } else if (recompute && kept_in_slot(l)) {
            // gate and up are still in the slot from the forward
        } else {
            // the slot's previous copy out must be done (one of an earlier run is: its losses
            // were read back after the backward had waited for every copy out)
            if (offload_run_ && !recompute && gu_saved_this_run_[sz(gu)]) {
                across_streams([main = ctx, saved = gu_saved_[sz(gu)].get()] {
                    kernels::stream_wait(main, saved);
                });
            }
            const bool at_once = lean_ && !recompute && a_gate_up_.rows > 0;
            if (at_once) {
                lora_inputs_at_once(l, 4, 2, rows_of(kStagedXn2), a_gate_up_, N, a);
            }
            fwd16(4, gate, a.xn2.data(), kStagedXn2, at_once);
            fwd16(5, up, a.xn2.data(), kStagedXn2, at_once);
            if (!recompute && offload_run_ && offloads(l)) {
                across_streams([main = ctx, out = copy_out_ctx(), ready = gu_ready_[sz(gu)].get(),
                                saved = gu_saved_[sz(gu)].get(), host = host_gate_up(l), gate, up,
                                NF] {
                    kernels::event_record(main, ready);
                    kernels::stream_wait(out, ready);
                    const std::size_t bytes = sz(NF) * sizeof(uint16_t);
                    kernels::buffer_download_async(out, host, gate, bytes);
                    kernels::buffer_download_async(out, host + NF, up, bytes);
                    kernels::event_record(out, saved);
                });
                gu_saved_this_run_[sz(gu)] = true;
            }
        }
        // h is the down projection's input (forward) and its dA's (backward); in a recompute whose
        // backward sums dA from gate and up, or where down has no adapter, nothing reads it
        const bool h_read = !recompute || !lean_ ||
                            (adapter_.slot(l, LoraTarget::kDown).enabled && !down_dA_in_swiglu_);
        if (h_read) {
            Bf16Rows& rows = slot(kStagedH);
            prepare_bf16_rows(ctx, rows, N, F, r);
            kernels::swiglu_forward_bf16(ctx, rows.data(), rows.ld, gate, up, N, F);
            if (fp32_inputs_) {
                kernels::convert_from_bf16(ctx, a.h.data(), F, rows.data(), rows.ld, N, F);
            }
        }
    } else {
        fwd(4, a.gate.data(), a.xn2.data(), kStagedXn2, 0.0f);
        fwd(5, a.up.data(), a.xn2.data(), kStagedXn2, 0.0f);
        kernels::swiglu_forward(ctx, a.h.data(), a.gate.data(), a.up.data(), N * F);
    }
    fwd(6, x_out, a.h.data(), kStagedH, 1.0f,
        x_mid);  // a recompute (x_out == nullptr): u only, none when lean
}

void LoraTrainStep::layer_backward(int64_t l, const TokenBatch& batch, LayerActs& a,
                                   const float* x_in, float* dres, float* grads, bool training,
                                   uint64_t seed, uint64_t micro_key) {
    const auto& c = model_.config();
    const int64_t N = batch.B * batch.T, C = c.hidden_size, F = c.intermediate_size;
    const int64_t Hq = c.num_attention_heads, Hkv = c.num_key_value_heads, D = c.head_dim;
    const Ctx& ctx = ctx_;
    const int32_t* segments = batch.segment_ids != nullptr ? segments_.data() : nullptr;
    // The bf16 copy of a projection input (fused path): the one this layer's forward staged
    // (the recompute, with checkpointing), else staged again from the fp32 activation.
    auto staged = [&](int s, const float* x, int64_t cols) -> const Bf16Rows& {
        if (s == kStagedAtt && lean_) {
            return saved_att_[sz(l)];
        }
        StagedInput& in = staged_in_[sz(s)];
        if (in.layer != l || in.generation != generation_) {
            QF_CHECK(fp32_inputs_, "train step: layer {} has no staged input {} to reuse", l, s);
            stage_bf16_rows(ctx, in.rows, x, N, cols, 0);
            in.layer = l;
            in.generation = generation_;
        }
        return in.rows;
    };
    // dx_beta 0: the fused path overwrites dx (no zeroing pass); the fp32 path always adds.
    // dy_staged: dy already in bf16 (fused path only).
    // dx_bf16: dx written in bf16 instead (fused path, no dropout).
    // sum_dA false: the caller sums this projection's dA itself (fused path, no dropout).
    auto back = [&](int t, float* dx, const float* dy, const float* x, int s, float dx_beta,
                    Bf16Rows* dy_staged = nullptr, uint16_t* dx_bf16 = nullptr,
                    bool sum_dA = true) {
        const auto p = projection(l, t, training, seed, micro_key);
        const auto& slot = adapter_.slot(l, static_cast<LoraTarget>(t));
        float* dA = slot.enabled && sum_dA ? grads + slot.a_offset : nullptr;
        float* dB = slot.enabled ? grads + slot.b_offset : nullptr;
        const float* u = u_of(l, t, a);
        if (!fused_) {
            if (dx_beta == 0.0f) {
                kernels::buffer_zero(ctx, dx, sizeof(float) * sz(N * p.in));
            }
            lora_projection_backward(ctx, p, dx, dA, dB, dy, x, u, N, du_, xd_);
            return;
        }
        static const Bf16Rows kUnread;
        const Bf16Rows& xs = sum_dA ? staged(s, x, p.in) : kUnread;
        if (dy_staged != nullptr) {
            fused_projection_backward_staged(ctx, p, packed(l, t, p), dx, dA, dB, *dy_staged, x, xs,
                                             u, N, dx_beta, us_, du_, xd_, dx_bf16, u_ld());
        } else {
            fused_projection_backward(ctx, p, packed(l, t, p), dx, dA, dB, dy, x, xs, u, N, dx_beta,
                                      dys_, us_, du_, xd_, dx_bf16, u_ld());
        }
    };
    auto zero = [&](Buf& b, int64_t n) {
        kernels::buffer_zero(ctx, b.data(), sizeof(float) * sz(n));
    };

    // MLP: x_out = x_mid + down(h), h = silu(gate) * up
    if (fused_) {  // d h, then d gate, d up straight to bf16, with spare columns for dU
        const int64_t r = adapter_.options().r;
        if (fp32_inputs_) {  // dropout: the LoRA part of d h is added in fp32
            back(6, dF3_.data(), dres, a.h.data(), kStagedH, 0.0f);
            kernels::convert_to_bf16(ctx, dh16_.data(), F, dF3_.data(), F, N, F, 1.0f);
        } else {
            back(6, nullptr, dres, nullptr, kStagedH, 0.0f, nullptr, dh16_.data(),
                 !down_dA_in_swiglu_);
        }
        prepare_bf16_rows(ctx, dgate_bf16_, N, F, r);
        prepare_bf16_rows(ctx, dup_bf16_, N, F, r);
        QF_CHECK(dgate_bf16_.ld == dup_bf16_.ld, "train step: d gate / d up strides differ");
        const auto [gate, up] = gate_up_slot(offload_run_ ? static_cast<int>(l % 2) : 0, a);
        const auto& down = adapter_.slot(l, LoraTarget::kDown);
        if (down_dA_in_swiglu_ && down.enabled) {  // dU is in dys_'s spare columns (back(6))
            kernels::swiglu_backward_bf16_lora(ctx, dgate_bf16_.data(), dup_bf16_.data(),
                                               dgate_bf16_.ld, dh16_.data(), gate, up, N, F,
                                               dys_.data() + C, dys_.ld, r, grads + down.a_offset,
                                               F, swiglu_partials_.data());
        } else {
            kernels::swiglu_backward_bf16(ctx, dgate_bf16_.data(), dup_bf16_.data(), dgate_bf16_.ld,
                                          dh16_.data(), gate, up, N, F);
        }
        if (offload_run_ && l >= 2 && offloads(l - 2)) {  // this slot is free: bring back l - 2's
            load_gate_up(l - 2);
        }
        back(4, dxn_, nullptr, a.xn2.data(), kStagedXn2, 0.0f, &dgate_bf16_);
        back(5, dxn_, nullptr, a.xn2.data(), kStagedXn2, 1.0f, &dup_bf16_);
    } else {
        back(6, dF3_.data(), dres, a.h.data(), kStagedH, 0.0f);
        zero(dF1_, N * F);
        zero(dF2_, N * F);
        kernels::swiglu_backward(ctx, dF1_.data(), dF2_.data(), dF3_.data(), a.gate.data(),
                                 a.up.data(), N * F);
        back(4, dxn_, dF1_.data(), a.xn2.data(), kStagedXn2, 0.0f);
        back(5, dxn_, dF2_.data(), a.xn2.data(), kStagedXn2, 1.0f);
    }
    kernels::rmsnorm_backward(ctx, dres, nullptr, dxn_, a.x_mid.data(), model_.mlp_norm(l),
                              a.rstd2.data(), N, C);

    // Attention: x_mid = x + o(attn)
    zero(dq_, N * Hq * D);
    zero(dk_, N * Hkv * D);
    zero(dv_, N * Hkv * D);
    if (lean_) {  // bf16 attention I/O (see the header)
        const int64_t r = adapter_.options().r;
        back(3, nullptr, dres, nullptr, kStagedAtt, 0.0f, nullptr, datt16_.data());
        const Bf16Rows& att = saved_att_[sz(l)];
        const auto& [q16, k16, v16] = qkv16_[sz(l)];
        kernels::attention_backward_bf16(
            ctx,
            kernels::AttnBf16Params{const_cast<uint16_t*>(att.data()), att.ld,
                                    saved_lse_[sz(l)].data(), q16.data(), Hq * D, k16.data(),
                                    v16.data(), Hkv * D, segments, batch.B, batch.T, Hq, Hkv, D},
            dq_.data(), dk_.data(), dv_.data(), datt16_.data(), Hq * D);
        prepare_bf16_rows(ctx, dq_rows_, N, Hq * D, r);
        prepare_bf16_rows(ctx, dk_rows_, N, Hkv * D, r);
        kernels::rope_backward_to_bf16(ctx, dq_rows_.data(), dq_rows_.ld, dq_.data(),
                                       positions_.data(), model_.rope_cos(), model_.rope_sin(), N,
                                       Hq, D);
        kernels::rope_backward_to_bf16(ctx, dk_rows_.data(), dk_rows_.ld, dk_.data(),
                                       positions_.data(), model_.rope_cos(), model_.rope_sin(), N,
                                       Hkv, D);
        if (merged_qkv_) {  // the LoRA parts per projection, then d(xn1) in one GEMM
            kernels::convert_to_bf16(ctx, dv_rows_.data(), dv_rows_.ld, dv_.data(), Hkv * D, N,
                                     Hkv * D, 1.0f);
            back(0, nullptr, nullptr, nullptr, kStagedXn1, 0.0f, &dq_rows_);
            back(1, nullptr, nullptr, nullptr, kStagedXn1, 0.0f, &dk_rows_);
            back(2, nullptr, nullptr, nullptr, kStagedXn1, 0.0f, &dv_rows_);
            if (l == 0) {
                return;  // d(embedding output) has no reader: the embedding is frozen
            }
            kernels::gemm_bf16(ctx, false, false, N, C, packed_qkv_.rows, 1.0f, dy_qkv_.data(),
                               dy_qkv_.ld, packed_qkv_.data(), packed_qkv_.ld, 0.0f, dxn_, C);
        } else {
            back(0, dxn_, nullptr, nullptr, kStagedXn1, 0.0f, &dq_rows_);
            back(1, dxn_, nullptr, nullptr, kStagedXn1, 1.0f, &dk_rows_);
            back(2, dxn_, dv_.data(), nullptr, kStagedXn1, 1.0f);
        }
        kernels::rmsnorm_backward(ctx, dres, nullptr, dxn_, x_in, model_.attn_norm(l),
                                  a.rstd1.data(), N, C);
        return;
    }
    back(3, datt_.data(), dres, a.att.data(), kStagedAtt, 0.0f);
    auto p =
        kernels::make_attn_params_contiguous(a.att.data(), a.lse.data(), a.q.data(), a.k.data(),
                                             a.v.data(), segments, batch.B, batch.T, Hq, Hkv, D);
    kernels::attention_backward(ctx, p, dq_.data(), dk_.data(), dv_.data(), datt_.data());
    kernels::rope_backward(ctx, dq_.data(), positions_.data(), model_.rope_cos(), model_.rope_sin(),
                           N, Hq, D);
    kernels::rope_backward(ctx, dk_.data(), positions_.data(), model_.rope_cos(), model_.rope_sin(),
                           N, Hkv, D);
    back(0, dxn_, dq_.data(), a.xn1.data(), kStagedXn1, 0.0f);
    back(1, dxn_, dk_.data(), a.xn1.data(), kStagedXn1, 1.0f);
    back(2, dxn_, dv_.data(), a.xn1.data(), kStagedXn1, 1.0f);
    kernels::rmsnorm_backward(ctx, dres, nullptr, dxn_, x_in, model_.attn_norm(l), a.rstd1.data(),
                              N, C);
}

void LoraTrainStep::loss_head_chunk(int64_t r0, int64_t rows, bool backward) {
    const auto& c = model_.config();
    const int64_t C = c.hidden_size, V = c.vocab_size;
    const Ctx& ctx = ctx_;
    // bf16 head (fused path): xf is staged in staged_ by the caller
    const uint16_t* head16 = fused_ ? model_.lm_head_bf16() : nullptr;
    const float* head = model_.lm_head();
    QF_CHECK(head16 != nullptr || head != nullptr,
             "the train step needs the LM head in fp32 (it was converted to bf16 only)");
    if (head16 != nullptr) {
        kernels::gemm_bf16(ctx, false, true, rows, V, C, 1.0f, staged_.data() + r0 * staged_.ld,
                           staged_.ld, head16, C, 0.0f, logits_.data(), V);
    } else {
        kernels::linear_forward(ctx, logits_.data(), xf_.data() + r0 * C, head, nullptr, rows, C,
                                V);
    }
    kernels::cross_entropy_forward(ctx, losses_.data() + r0, lse_rows_.data() + r0, logits_.data(),
                                   targets_.data() + r0, rows, V, -100,
                                   kernels::IndexCheck::kCheckedByCaller);
    if (!backward) {
        return;
    }
    if (head16 != nullptr) {  // dlogits straight to bf16; dxf += dlogits head
        prepare_bf16_rows(ctx, dlogits_bf16_, rows, V, 0);
        kernels::cross_entropy_backward_bf16(ctx, dlogits_bf16_.data(), dlogits_bf16_.ld,
                                             logits_.data(), lse_rows_.data() + r0,
                                             targets_.data() + r0, dloss_.data() + r0, rows, V);
        kernels::gemm_bf16(ctx, false, false, rows, C, V, 1.0f, dlogits_bf16_.data(),
                           dlogits_bf16_.ld, head16, C, 1.0f, dxf_.data() + r0 * C, C);
    } else {
        // dlogits overwrite the logits in place: one (chunk, V) buffer.
        kernels::cross_entropy_backward(ctx, logits_.data(), logits_.data(), lse_rows_.data() + r0,
                                        targets_.data() + r0, dloss_.data() + r0, rows, V);
        kernels::linear_backward(ctx, dxf_.data() + r0 * C, nullptr, nullptr, logits_.data(),
                                 xf_.data() + r0 * C, head, rows, C, V);
    }
}

LossSum LoraTrainStep::run(const TokenBatch& batch, bool backward, float loss_scale, uint64_t seed,
                           uint64_t micro_key, float* grads) {
    QF_CHECK(batch.B <= B_ && batch.T == T_,
             "micro-batch {}x{} does not fit the train step's workspace {}x{}", batch.B, batch.T,
             B_, T_);
    const int64_t N = batch.B * batch.T, V = model_.config().vocab_size;
    // ids and targets are checked here, so that the kernels need not wait to report a bad one
    for (int64_t i = 0; i < N; ++i) {
        QF_CHECK(batch.input[i] >= 0 && batch.input[i] < V,
                 "micro-batch row {} position {}: token id {} is outside the vocabulary [0, {})",
                 i / batch.T, i % batch.T, batch.input[i], V);
        QF_CHECK(batch.targets[i] == -100 || (batch.targets[i] >= 0 && batch.targets[i] < V),
                 "micro-batch row {} position {}: target {} is neither -100 (ignored) nor in "
                 "[0, {})",
                 i / batch.T, i % batch.T, batch.targets[i], V);
    }
    ++generation_;
    offload_run_ = offload_ && backward;
    for (int64_t i = 0; i < N; ++i) {
        positions_host_[sz(i)] =
            batch.positions ? batch.positions[i] : static_cast<int32_t>(i % T_);
    }
    positions_.upload(positions_host_.data(), N);
    input_.upload(batch.input, N);
    targets_.upload(batch.targets, N);
    if (batch.segment_ids != nullptr) {
        segments_.upload(batch.segment_ids, N);
    }
    if (backward) {  // a value of this run: set here, not in the (replayable) work below
        kernels::fill(ctx_, dloss_.data(), N, loss_scale);
    }
    queue_run_graphed(batch, backward, seed, micro_key, grads);
    // the token losses are read back once the whole step is queued (one sync per step)
    losses_.download(losses_host_.data(), N);
    LossSum total;
    for (int64_t i = 0; i < N; ++i) {
        if (batch.targets[i] != -100) {
            total.sum += losses_host_[sz(i)];
            total.tokens += 1;
        }
    }
    return total;
}

void LoraTrainStep::set_cuda_graphs(bool on) {
    graphs_ = on && fused_ && kernels::graph_supported(ctx_.device);
    graph_.reset();
    last_kind_ = {};
    if (graphs_ && run_stream_.get() == nullptr) {
        run_stream_ = kernels::Stream(ctx_);
        run_in_ = kernels::Event(ctx_);
        run_out_ = kernels::Event(ctx_);
    }
}

void LoraTrainStep::forget_device_state() {
    for (auto& pk : packed_) {
        pk.layer = -1;
    }
    lora_packed_layer_ = -1;
    for (auto& in : staged_in_) {
        in.layer = -1;
    }
}

void LoraTrainStep::queue_run_graphed(const TokenBatch& batch, bool backward, uint64_t seed,
                                      uint64_t micro_key, float* grads) {
    // dropout keys and the all-reduce callback change from run to run
    const bool graphable =
        graphs_ && !(backward && adapter_.options().dropout > 0.0f) && !(backward && grads_ready_);
    if (!graphable) {
        graph_.reset();
        last_kind_ = {};
        queue_run(batch, backward, seed, micro_key, grads);
        return;
    }
    const RunKind kind{batch.B, backward, batch.segment_ids != nullptr, grads};
    void* const caller = ctx_.stream;
    kernels::event_record(ctx_, run_in_.get());
    ctx_.stream = run_stream_.get();
    kernels::stream_wait(ctx_, run_in_.get());
    try {
        if (graph_.captured() && kind == graph_kind_) {
            graph_.launch(ctx_);
            ++graph_replays_;
        } else if (kind == last_kind_) {  // the buffers and tuned GEMMs are set up: capture
            try {
                graph_.capture(ctx_, [&] { queue_run(batch, backward, seed, micro_key, grads); });
                graph_kind_ = kind;
                graph_.launch(ctx_);
            } catch (const Error& e) {
                fmt::print(stderr,
                           "qforge: warning: the train step cannot run as a CUDA graph ({}); "
                           "launching its kernels one by one from now on\n",
                           e.what());
                graphs_ = false;
                forget_device_state();
                queue_run(batch, backward, seed, micro_key, grads);
            }
        } else {
            graph_.reset();  // its buffers may be re-sized by this run
            queue_run(batch, backward, seed, micro_key, grads);
        }
    } catch (...) {
        ctx_.stream = caller;
        throw;
    }
    last_kind_ = kind;
    kernels::event_record(ctx_, run_out_.get());
    ctx_.stream = caller;
    kernels::stream_wait(ctx_, run_out_.get());
}

void LoraTrainStep::queue_run(const TokenBatch& batch, bool backward, uint64_t seed,
                              uint64_t micro_key, float* grads) {
    const auto& c = model_.config();
    const int64_t N = batch.B * batch.T, C = c.hidden_size, V = c.vocab_size;
    const int64_t L = c.num_hidden_layers;
    const Ctx& ctx = ctx_;
    gu_saved_this_run_ = {};
    model_.embed_rows(ctx, x_at(0), input_.data(), N, kernels::IndexCheck::kCheckedByCaller);
    for (int64_t l = 0; l < L; ++l) {
        auto& a = acts_[checkpointing_ ? 0 : sz(l)];
        if (lean_ && l + 1 < L) {
            // the bf16 checkpoint of layer l's input; the forward goes on from the rounded values
            // too, so that the recompute remakes exactly what the forward computed
            kernels::convert_to_bf16(ctx, xs16_[sz(l)].data(), C, x_at(l), C, N, C, 1.0f);
            kernels::convert_from_bf16(ctx, x_at(l), C, xs16_[sz(l)].data(), C, N, C);
        }
        layer_forward(l, batch, a, x_at(l), x_at(l + 1), backward, seed, micro_key);
    }

    // Loss head in row chunks: xf = rmsnorm(x_L); logits = xf @ lm_head^T; CE. The full (N, V)
    // logits never exist at once.
    // (the bf16 LM head reads xf in bf16 only: the norm writes it there, with no fp32 copy)
    const bool head16 = fused_ && model_.lm_head_bf16() != nullptr;
    if (head16) {
        prepare_bf16_rows(ctx, staged_, N, C, 0);
        kernels::rmsnorm_forward_bf16(ctx, staged_.data(), staged_.ld, rstd_f_.data(), x_at(L),
                                      model_.final_norm(), N, C, c.rms_norm_eps);
    } else {
        xf_.ensure(N * C);
        kernels::rmsnorm_forward(ctx, xf_.data(), rstd_f_.data(), x_at(L), model_.final_norm(), N,
                                 C, c.rms_norm_eps);
    }
    int64_t chunk = std::max<int64_t>(1, std::min<int64_t>(N, logit_chunk_floats(ctx) / V));
    if (chunk > 128 && chunk < N) {
        chunk -= chunk % 128;  // whole tensor-core tiles of rows for the LM-head GEMMs
    }
    logits_.ensure(chunk * V);
    if (backward) {
        kernels::buffer_zero(ctx, dxf_.data(), sizeof(float) * sz(N * C));
    }
    for (int64_t r0 = 0; r0 < N; r0 += chunk) {
        loss_head_chunk(r0, std::min(chunk, N - r0), backward);
    }
    if (!backward) {
        return;
    }

    // the forward's third and fourth slots are backward buffers (forward_slot)
    if (offload_run_ && std::ranges::any_of(gu_saved_this_run_, [](bool b) { return b; })) {
        across_streams([main = ctx, out = copy_out_ctx(), all = gu_all_saved_.get()] {
            kernels::event_record(out, all);
            kernels::stream_wait(main, all);
        });
    }
    kernels::buffer_zero(ctx, dres_, sizeof(float) * sz(N * C));
    kernels::rmsnorm_backward(ctx, dres_, nullptr, dxf_.data(), x_at(L), model_.final_norm(),
                              rstd_f_.data(), N, C);
    for (int64_t l = L - 1; l >= 0; --l) {
        auto& a = acts_[checkpointing_ ? 0 : sz(l)];
        // Recompute this layer's activations from its saved input; the last layer's are still
        // there from the forward (the loss head does not touch them).
        if (checkpointing_ && l + 1 < L) {
            if (lean_) {  // widen the bf16 checkpoint (x_at(l)'s buffer is free by now)
                kernels::convert_from_bf16(ctx, x_at(l), C, xs16_[sz(l)].data(), C, N, C);
            }
            // x_out is not needed again: the down projection's base GEMM is skipped
            layer_forward(l, batch, a, x_at(l), nullptr, true, seed, micro_key);
        }
        layer_backward(l, batch, a, x_at(l), dres_, grads, true, seed, micro_key);
        if (grads_ready_ && layer_grads_[sz(l)].second > 0) {
            grads_ready_(layer_grads_[sz(l)].first, layer_grads_[sz(l)].second);
        }
    }
}

LossSum LoraTrainStep::forward_backward(const TokenBatch& batch, float loss_scale,
                                        uint64_t dropout_seed, uint64_t micro_key, float* grads) {
    QF_CHECK(grads != nullptr, "forward_backward needs a gradient buffer");
    return run(batch, true, loss_scale, dropout_seed, micro_key, grads);
}

LossSum LoraTrainStep::forward_loss(const TokenBatch& batch) {
    return run(batch, false, 0.0f, 0, 0, nullptr);
}

}  // namespace qforge
