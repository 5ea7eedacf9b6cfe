// What is here: the training step of a Llama with LoRA adapters on a frozen (fp32 or NF4)
// base: forward with an explicit activation store, loss, and the backward written out layer
// by layer (no autograd). Only the LoRA matrices get weight gradients; activation
// checkpointing keeps each layer's input only and recomputes the rest during backward.
// On a GPU with bf16 GEMMs (kernels::set_cuda_gemm_math(kBf16)) the projections take the fused
// path of lora_fused.h: NF4 dequantized straight to bf16, LoRA inside the base GEMM, and the
// packed weights of a layer's recompute reused by its backward.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "kernels/graph.h"
#include "kernels/memory.h"
#include "kernels/stream.h"
#include "runtime/model/llama.h"
#include "runtime/model/llama_on_device.h"
#include "runtime/model/lora.h"
#include "runtime/model/lora_fused.h"
#include "runtime/model/lora_ops.h"
#include "runtime/tensor/device_array.h"

namespace qforge {

// One micro-batch of B packed rows of T tokens (layout of train::DataLoader::Batch), in host
// memory whatever the device: the step uploads what it needs.
struct TokenBatch {
    int64_t B = 0, T = 0;
    const int32_t* input = nullptr;        // (B,T)
    const int32_t* targets = nullptr;      // (B,T), -100 = no loss
    const int32_t* segment_ids = nullptr;  // (B,T) or nullptr
    const int32_t* positions = nullptr;    // (B,T) RoPE positions, or nullptr for 0..T-1
};

struct LossSum {
    double sum = 0.0;    // sum of token losses
    int64_t tokens = 0;  // tokens with a target
};

class LoraTrainStep {
public:
    // Workspace for micro-batches of up to B x T tokens, allocated once here on the model's
    // device. The adapter's A/B values are read from set_params() (default: the adapter's own
    // host params, which suits the CPU).
    // fused_bf16: the fused bf16 path (see above) or not; by default it is taken on a GPU with
    // bf16 GEMMs. Forcing it on the CPU runs the CPU twins of its bf16 ops (tests).
    // offload_mlp: with checkpointing on the fused path without dropout, the MLP gate and up
    // (bf16) of a fraction of the layers (kOffloadBytesPerFlop; never the last two) are copied to
    // pinned host memory during the forward, on a side stream, and copied back during the
    // backward instead of being recomputed; offload_fraction overrides the fraction (tests,
    // tuning). By default on a GPU; false turns it off; on the CPU (forced) the copies are plain
    // memcpy (tests).
    LoraTrainStep(const LlamaOnDevice& model, const LoraAdapter& adapter, int64_t B, int64_t T,
                  bool activation_checkpointing, std::optional<bool> fused_bf16 = std::nullopt,
                  std::optional<bool> offload_mlp = std::nullopt,
                  std::optional<double> offload_fraction = std::nullopt);
    // CPU convenience: a view of a loaded model.
    LoraTrainStep(const LlamaModel& model, const LoraAdapter& adapter, int64_t B, int64_t T,
                  bool activation_checkpointing, std::optional<bool> fused_bf16 = std::nullopt,
                  std::optional<bool> offload_mlp = std::nullopt,
                  std::optional<double> offload_fraction = std::nullopt);

    // Where the LoRA parameters live on the step's device (laid out like adapter.params()).
    void set_params(const float* params) { params_ = params; }

    const kernels::Ctx& ctx() const { return ctx_; }

    // True when the projections run the fused bf16 path (see above).
    bool fused_bf16() const { return fused_; }

    // How many layers offload: the fraction f = min(1, kOffloadBytesPerFlop / rho) of them, rho
    // being a layer's gate/up bytes per forward FLOP, spread evenly. At the H100's ~51 GB/s
    // (device to host) a Llama-3-8B layer's gate and up (rho = 1.26e-4) take longer to cross the
    // bus than its forward, so offloading every layer makes the forward wait more than the
    // recompute of the layers left out costs. 8B steps with three forward slots, forward wait /
    // backward recompute phases: 0.1 / 24.3 ms offloading 3 of 4, 0.1 / 19.9 for 7 of 8, 12.0 /
    // 14.2 for all (two slots at 7 of 8: a 7.4 ms wait). Llama-3.2-1B: rho = 2.5e-4.
    static constexpr double kOffloadBytesPerFlop = 1.1e-4;

    // The fraction of layers (but the last two) whose gate / up this step offloads.
    double offload_fraction() const { return offload_fraction_; }

    // True when MLP activations are offloaded to host memory (see the constructor).
    bool offloads_mlp() const { return offload_; }

    // Called by forward_backward as each layer's backward is queued, with the slice of the
    // gradient buffer (offset, count) that layer owns, last layer first: the gradient
    // all-reduce can start on it while the earlier layers' backward runs. Empty: no calls.
    void set_grads_ready(std::function<void(int64_t offset, int64_t count)> callback) {
        grads_ready_ = std::move(callback);
    }

    // CUDA graphs (train.cuda_graphs): the step's work runs on a stream of its own, joined to the
    // caller's stream at the start and end of each run; the second run in a row of the same kind
    // (micro-batch size, forward only or with backward, segments or not, gradient buffer) is
    // captured into a graph and later ones replay it, so the GPU gets one launch instead of
    // ~3,700. Off where a run's kernels take values that change from run to run: dropout (its
    // mask keys), a set_grads_ready callback (the all-reduce), the fp32 path. A run whose work
    // cannot be captured falls back to plain launches for good, with a warning on stderr.
    void set_cuda_graphs(bool on);

    // Runs replayed from a graph so far (tests, logs).
    int64_t graph_replays() const { return graph_replays_; }

    // Forward + backward. Gradients of (loss_scale * sum of token losses) are accumulated
    // (+=) into grads (on the step's device), laid out like adapter.params(). Dropout masks are
    // keyed by (dropout_seed, micro_key) so a resumed run draws the same ones.
    LossSum forward_backward(const TokenBatch& batch, float loss_scale, uint64_t dropout_seed,
                             uint64_t micro_key, float* grads);

    // Forward only, no dropout (validation).
    LossSum forward_loss(const TokenBatch& batch);

private:
    using Buf = DeviceArray<float>;

    struct LayerActs {
        Buf xn1, rstd1, q, k, v, att, lse, x_mid, xn2, rstd2, gate, up, h;
        DeviceArray<uint16_t> gate16, up16;  // the fused path's gate and up, in bf16
        std::array<Buf, kNumLoraTargets> u;
    };

    void init(int64_t B, int64_t T, std::optional<bool> fused_bf16, std::optional<bool> offload_mlp,
              std::optional<double> offload_fraction);
    void init_merged_qkv();  // see merged_qkv_
    // Layer l's LoRA input u of target t: in the layer's saved block (lean_), else a's own.
    float* u_of(int64_t l, int t, LayerActs& a);
    // The row stride of every u_of: the saved block's (kNumLoraTargets r), else r.
    int64_t u_ld() const;
    // Lean forward: u of the targets [t0, t0 + n) (sharing one input, staged in xs) from one
    // GEMM with their A rows side by side (a_side), into layer l's saved block.
    void lora_inputs_at_once(int64_t l, int t0, int n, const Bf16Rows& xs, const Bf16Rows& a_side,
                             int64_t N, LayerActs& a);

    // Layer l's input x in fp32 (xs_[l], or a work buffer with bf16 checkpoints: see lean_).
    float* x_at(int64_t l);

    // Layer l's gate / up go to host memory in the forward (offload_mlp).
    bool offloads(int64_t l) const;
    // Layer l's gate / up stay in their device slot from the forward to the backward, which
    // reads them without a recompute: the last two layers, whose slots nothing reuses in between.
    bool kept_in_slot(int64_t l) const;
    // The host copy of an offloaded layer's gate (up follows it).
    uint16_t* host_gate_up(int64_t l);
    // The device slot of layer l's gate / up in the forward (the backward's is l % 2):
    // kForwardSlots in turn, so that a layer's copy out has three layers' time before its slot is
    // needed again.
    int forward_slot(int64_t l) const;
    // The gate / up buffers of device slot s: 0 is a's own, 1 the offload's second slot; 2 and 3
    // are backward buffers, free in the forward and the loss head: 2 the backward's d gate /
    // d up, 3 its d h and d(residual) / d(normed input) (dres_dxn_).
    std::pair<uint16_t*, uint16_t*> gate_up_slot(int s, LayerActs& a);
    // Queues the copy of offloaded layer l's gate / up back into its device slot (l % 2) once the
    // step's stream is past its current point; gu_loaded_[l % 2] marks it done.
    void load_gate_up(int64_t l);
    // x_out == nullptr: a recompute for backward (the layer output itself is not needed)
    void layer_forward(int64_t l, const TokenBatch& batch, LayerActs& a, const float* x_in,
                       float* x_out, bool training, uint64_t seed, uint64_t micro_key);
    void layer_backward(int64_t l, const TokenBatch& batch, LayerActs& a, const float* x_in,
                        float* dres, float* grads, bool training, uint64_t seed,
                        uint64_t micro_key);
    LossSum run(const TokenBatch& batch, bool backward, float loss_scale, uint64_t seed,
                uint64_t micro_key, float* grads);
    // The device work of run(): embedding, layers, loss head, backward (what a graph holds).
    void queue_run(const TokenBatch& batch, bool backward, uint64_t seed, uint64_t micro_key,
                   float* grads);
    // queue_run on the step's own stream, launched plainly, captured, or replayed (see
    // set_cuda_graphs).
    void queue_run_graphed(const TokenBatch& batch, bool backward, uint64_t seed,
                           uint64_t micro_key, float* grads);
    // Orders work across the step's streams (the offload's copies and their events): runs
    // `call` now or, while graph_ captures, keeps it to run between its graphs (a copy in a graph
    // ran slower, see kernels/graph.h).
    void across_streams(std::function<void()> call);
    // Forgets which layer's weights / inputs the device buffers hold (after a failed capture,
    // whose host bookkeeping ran but whose work did not).
    void forget_device_state();
    LoraProjection projection(int64_t l, int t, bool training, uint64_t seed, uint64_t micro_key);
    void allocate(LayerActs& a);
    const PackedProjection& packed(int64_t l, int t, const LoraProjection& p);
    void loss_head_chunk(int64_t r0, int64_t rows, bool backward);

    Buf make(int64_t n) const { return Buf(ctx_, n); }

    // The offload's copies out (device to host) and back in run on streams of their own, so that
    // the backward's first copies back need not queue behind the forward's last copies out (the
    // bus moves both directions at once).
    kernels::Ctx copy_out_ctx() const { return kernels::Ctx{ctx_.device, copy_out_stream_.get()}; }

    kernels::Ctx copy_in_ctx() const { return kernels::Ctx{ctx_.device, copy_in_stream_.get()}; }

    std::unique_ptr<LlamaOnDevice> owned_model_;  // the CPU convenience constructor's view
    const LlamaOnDevice& model_;
    const LoraAdapter& adapter_;
    kernels::Ctx ctx_;
    const float* params_;
    int64_t B_, T_;
    bool checkpointing_;
    std::vector<Buf> xs_;  // layer inputs (L+1) x (N,C), xs_[L] = final hidden; 2 with lean_
    std::vector<LayerActs> acts_;  // L sets, or 1 when checkpointing
    DeviceArray<int32_t> input_, targets_, segments_, positions_;
    Buf dequant_;  // the fp32 weights of the projection in use (NF4 dequantized right before use)
    // backward scratch
    Buf dF1_, dF2_, dF3_, dq_, dk_, dv_, datt_, du_, xd_;
    // d(residual) and d(normed input), (N, C) each, in one buffer: with the MLP offload it is
    // also the forward's fourth gate / up slot's up (see gate_up_slot), so it has room for that
    Buf dres_dxn_;
    float* dres_ = nullptr;
    float* dxn_ = nullptr;
    // The lean checkpointed path (fused, checkpointing, no fp32 copies of the inputs): per layer,
    // the attention output (bf16, as the o projection reads it, written there by the attention)
    // and log-sum-exp are kept from the forward, and so are the LoRA inputs u = x A^T (N x r each,
    // 2 MiB a layer at 8B), so the recompute runs neither the attention nor the thin GEMMs. q, k,
    // v come from GEMMs that round to bf16, RoPE rotates the bf16 rows, d(attention output) is
    // bf16 from the o projection's GEMM, and dq, dk are rotated back into the bf16 rows the q / k
    // projections' backward reads as their staged dy. q, k (rotated) and v are kept per layer too
    // (48 MiB a layer at 8B), so the recompute runs neither their GEMMs nor RoPE: only the
    // RMSNorms, the o projection (for the MLP's input) and SwiGLU. The layer inputs are kept in
    // bf16 (xs16_, half of the fp32 copies; the backward widens each into a work buffer), and the
    // forward itself goes on from the rounded input (the residual stream is rounded to bf16
    // between layers, as in a bf16 model), so the recompute remakes the forward exactly.
    bool lean_ = false;
    std::vector<std::array<DeviceArray<uint16_t>, 3>> qkv16_;  // per layer: q, k, v (lean_)
    std::vector<DeviceArray<uint16_t>> xs16_;  // layer inputs 0..L-2 in bf16 (lean_)
    // per layer (lean_): the u of its targets side by side, (N, kNumLoraTargets r), so that the
    // targets sharing an input (q, k, v; gate, up) get theirs from one GEMM, which reads the
    // input once (three thin GEMMs read the 32 MiB xn1 three times at Llama-3-8B)
    std::vector<Buf> saved_u_;
    // their A rows side by side in bf16, (3 r, C) and (2 r, C), packed with the layer's factors
    // (packed()); empty unless every layer adapts all three (both) with the same input width
    Bf16Rows a_qkv_, a_gate_up_;
    DeviceArray<uint16_t> datt16_;
    Bf16Rows dq_rows_, dk_rows_;
    // Merged q/k/v input gradient (lean_, every layer adapting q, k and v, widths multiples of 8):
    // q, k and v are packed as row slices of one matrix and their staged dy as column slices of
    // one row buffer, so d(xn1) = [dq | dUq | dk | dUk | dv | dUv] [Wq; Aq; Wk; Ak; Wv; Av] is one
    // GEMM (K = 6192 at Llama-3-8B) that writes d(xn1) once, where three GEMMs (two of K = 1040)
    // wrote it three times.
    bool merged_qkv_ = false;
    Bf16Rows packed_qkv_, dy_qkv_, dv_rows_;
    // lean_ with r <= kSwigluLoraMaxRank: the down projection's dA = dU^T h is summed by the SwiGLU
    // backward from gate and up (swiglu_backward_bf16_lora), so the recompute makes no h at all.
    bool down_dA_in_swiglu_ = false;
    Buf swiglu_partials_;  // its CUDA scratch
    Buf xf_, rstd_f_, logits_, dxf_, losses_, lse_rows_, dloss_;
    std::vector<float> losses_host_;
    std::vector<std::pair<int64_t, int64_t>> layer_grads_;  // (offset, count) per layer
    std::function<void(int64_t, int64_t)> grads_ready_;
    std::vector<int32_t> positions_host_;

    // fused bf16 path
    struct StagedInput {  // a projection input in bf16, and the layer / run that staged it
        Bf16Rows rows;
        int64_t layer = -1;
        uint64_t generation = 0;
    };

    enum StagedSlot { kStagedXn1, kStagedAtt, kStagedXn2, kStagedH, kNumStaged };

    bool fused_ = false;
    bool fp32_inputs_ = true;          // xn1, xn2 and h also kept in fp32
    std::vector<Bf16Rows> saved_att_;  // lean_
    std::vector<Buf> saved_lse_;       // lean_
    uint64_t generation_ = 0;          // bumped per run(): the LoRA values may have changed
    std::array<PackedProjection, kNumLoraTargets> packed_;
    int64_t lora_packed_layer_ = -1;  // whose LoRA factors packed_ holds, and from which run
    uint64_t lora_packed_generation_ = 0;
    std::array<StagedInput, kNumStaged> staged_in_;
    Bf16Rows staged_, dys_, us_, dlogits_bf16_, dgate_bf16_, dup_bf16_;
    DeviceArray<uint16_t> dh16_;  // d h (the down projection's input gradient) in bf16

    // MLP offload (offload_mlp): in the forward layer l's gate/up live in device slot
    // forward_slot(l) (slot 0 in acts_[0], 1 here, 2 in d gate / d up), so two slots can cross the
    // bus while the next layer computes in the third; in the backward in slot l % 2. An offloaded
    // layer's copy back lands in its slot once the layer two above (the slot's last reader) is
    // through its SwiGLU backward.
    bool offload_ = false;
    double offload_fraction_ = 0.0;   // see kOffloadBytesPerFlop
    std::vector<int64_t> host_slot_;  // layer -> its index in mlp_host_
    bool offload_run_ = false;        // this run() offloads (a forward followed by a backward)
    DeviceArray<uint16_t> gate16_b_, up16_b_;
    kernels::PinnedHostBuffer mlp_host_;
    kernels::Stream copy_out_stream_, copy_in_stream_;
    static constexpr int kForwardSlots = 4;
    std::array<kernels::Event, kForwardSlots> gu_ready_, gu_saved_;  // slot computed / copied out
    std::array<kernels::Event, 2> gu_loaded_;                        // slot copied back
    kernels::Event gu_free_;                                         // a slot free for a copy back
    kernels::Event gu_all_saved_;                          // the forward's copies out are done
    std::array<bool, kForwardSlots> gu_saved_this_run_{};  // gu_saved_[s] recorded in this run

    // CUDA graphs (set_cuda_graphs)
    struct RunKind {
        int64_t B = -1;
        bool backward = false, segments = false;
        const float* grads = nullptr;
        bool operator==(const RunKind&) const = default;
    };

    bool graphs_ = false;
    kernels::Stream run_stream_;
    kernels::Event run_in_, run_out_;  // the caller's stream -> run_stream_ -> the caller's
    kernels::StreamGraph graph_;
    RunKind graph_kind_, last_kind_;  // what graph_ holds; the previous run
    int64_t graph_replays_ = 0;
};

}  // namespace qforge
