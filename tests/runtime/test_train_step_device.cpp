// The train step on the GPU against the same step on the CPU (the spec): the real stories260K
// weights in NF4, packed rows with segments, LoRA on all seven projections, with and without
// dropout and activation checkpointing: losses and every LoRA gradient by relative error. And
// random-initialised models of a named shape: deterministic, near-uniform predictions at init,
// the same on both backends. GPU cases skip with a message on a machine without one.
#include <cmath>
#include <cstdio>
#include <gtest/gtest.h>
#include <memory>
#include <optional>
#include <random>

#include "kernels/gemm.h"
#include "kernels/memory.h"
#include "kernels/registry.h"
#include "runtime/model/llama_lora.h"
#include "runtime/model/llama_on_device.h"
#include "runtime/model/llama_shapes.h"
#include "support/test_support.h"

namespace qforge {
namespace {

using kernels::Ctx;
using kernels::Device;

struct Rows {
    int64_t B = 2, T = 48;
    std::vector<int32_t> input, targets, segments, positions;

    Rows(int64_t vocab, uint64_t seed) {
        std::mt19937_64 rng(seed);
        std::uniform_int_distribution<int32_t> tok(1, static_cast<int32_t>(vocab - 1));
        for (int64_t b = 0; b < B; ++b) {
            const int64_t split = b == 0 ? 20 : T;  // row 0 packs two examples
            for (int64_t t = 0; t < T; ++t) {
                input.push_back(tok(rng));
                targets.push_back(t == split - 1 || t == T - 1 || t % 7 == 3 ? -100 : tok(rng));
                segments.push_back(t < split ? 0 : 1);
                positions.push_back(static_cast<int32_t>(t < split ? t : t - split));
            }
        }
    }

    TokenBatch batch() const {
        return {B, T, input.data(), targets.data(), segments.data(), positions.data()};
    }
};

LoraAdapter make_adapter(const io::LlamaConfig& config, float dropout, uint64_t seed) {
    LoraOptions o;
    o.r = 4;
    o.alpha = 8.0f;
    o.dropout = dropout;
    LoraAdapter a = LoraAdapter::create(config, o, seed);
    std::mt19937_64 rng(seed + 1);
    std::uniform_real_distribution<float> d(-0.1f, 0.1f);
    for (auto& p : a.params()) {  // B too, so every path carries gradient
        p = d(rng);
    }
    return a;
}

double rel_l2(const std::vector<float>& want, const std::vector<float>& got) {
    double num = 0.0, den = 0.0;
    for (std::size_t i = 0; i < want.size(); ++i) {
        num += (static_cast<double>(got[i]) - want[i]) * (static_cast<double>(got[i]) - want[i]);
        den += static_cast<double>(want[i]) * want[i];
    }
    return std::sqrt(num / den);
}

struct StepResult {
    LossSum loss;
    std::vector<float> grads;
};

// One forward/backward of `model` on its device, parameters uploaded there.
StepResult run_step(const LlamaOnDevice& model, const LoraAdapter& adapter, const Rows& rows,
                    bool checkpointing, std::optional<bool> fused = std::nullopt,
                    std::optional<bool> offload = std::nullopt, int micro_batches = 1,
                    std::optional<double> offload_fraction = std::nullopt) {
    const Ctx ctx = model.ctx();
    const auto n = static_cast<int64_t>(adapter.params().size());
    DeviceArray<float> params(ctx, n), grads(ctx, n);
    params.upload(adapter.params().data(), n);
    grads.zero();
    LoraTrainStep step(model, adapter, rows.B, rows.T, checkpointing, fused, offload,
                       offload_fraction);
    step.set_params(params.data());
    StepResult r;
    for (int i = 0; i < micro_batches; ++i) {  // gradients accumulate over the micro-batches
        r.loss = step.forward_backward(rows.batch(), 0.01f, 11, 5 + static_cast<uint64_t>(i),
                                       grads.data());
    }
    r.grads.resize(static_cast<std::size_t>(n));
    grads.download(r.grads.data(), n);
    return r;
}

// The real stories260K weights in NF4, an adapter with every factor random, packed rows.
struct Stories260K {
    LlamaModel model;
    LoraAdapter adapter;
    Rows rows;

    explicit Stories260K(float dropout)
        : model(load()),
          adapter(make_adapter(model.config(), dropout, test::test_seed())),
          rows(model.config().vocab_size, test::test_seed() + 2) {}

    static LlamaModel load() {
        LlamaLoadOptions opts;
        opts.quantize_nf4 = true;
        return LlamaModel::load(test::data_dir() / "models/stories260K", opts);
    }
};

bool have_gpu() {
    return kernels::cuda_available();
}

void compare_backends(float dropout, bool checkpointing) {
    if (!have_gpu()) {
        GTEST_SKIP() << "no GPU present: the CUDA train step is checked on the GPU machine";
    }
    const Stories260K s(dropout);
    const LlamaModel& model = s.model;
    const LoraAdapter& adapter = s.adapter;
    const Rows& rows = s.rows;
    const LlamaOnDevice cpu = LlamaOnDevice::from_model(model, Ctx{});
    const LlamaOnDevice gpu = LlamaOnDevice::from_model(model, Ctx{Device::kCuda, nullptr});
    const StepResult want = run_step(cpu, adapter, rows, checkpointing);
    const StepResult got = run_step(gpu, adapter, rows, checkpointing);
    ASSERT_EQ(want.loss.tokens, got.loss.tokens);
    // TF32 tensor-core GEMMs on the GPU: a 10-bit mantissa, hence bf16-level tolerances.
    EXPECT_NEAR(got.loss.sum / want.loss.sum, 1.0, 2e-3) << want.loss.sum << " vs " << got.loss.sum;
    EXPECT_LT(rel_l2(want.grads, got.grads), 2e-2);
}

// The fused bf16 path (lora_fused.h, the bf16 LM head): bf16 GEMM operands, so bf16 tolerances.
void compare_fused_bf16(float dropout, bool checkpointing) {
    if (!have_gpu()) {
        GTEST_SKIP() << "no GPU present: the fused bf16 train step is checked on the GPU machine";
    }
    const Stories260K s(dropout);
    const LlamaModel& model = s.model;
    const LoraAdapter& adapter = s.adapter;
    const Rows& rows = s.rows;
    const LlamaOnDevice cpu = LlamaOnDevice::from_model(model, Ctx{});
    LlamaOnDevice gpu = LlamaOnDevice::from_model(model, Ctx{Device::kCuda, nullptr});
    gpu.make_lm_head_bf16();
    const StepResult want = run_step(cpu, adapter, rows, checkpointing);
    const auto before = kernels::cuda_gemm_math();
    kernels::set_cuda_gemm_math(kernels::GemmMath::kBf16);
    const StepResult got = run_step(gpu, adapter, rows, checkpointing);
    kernels::set_cuda_gemm_math(before);
    ASSERT_EQ(want.loss.tokens, got.loss.tokens);
    const double loss_rel = std::abs(got.loss.sum / want.loss.sum - 1.0);
    const double grad_rel = rel_l2(want.grads, got.grads);
    std::printf("fused bf16 vs CPU fp32: loss %.3g, gradients %.3g (relative)\n", loss_rel,
                grad_rel);
    EXPECT_LT(loss_rel, 5e-3) << want.loss.sum << " vs " << got.loss.sum;
    EXPECT_LT(grad_rel, 5e-2);
}

// The fused path forced on the CPU (the CPU twins of its bf16 ops) against the fp32 step: the
// step-level logic (staged-input reuse, bf16 SwiGLU / RMSNorm outputs, the bf16 LM head, the
// fp32 fallbacks for dropout and for no checkpointing) runs in CI too.
void compare_fused_on_cpu(float dropout, bool checkpointing) {
    const Stories260K s(dropout);
    const LlamaModel& model = s.model;
    const LoraAdapter& adapter = s.adapter;
    const Rows& rows = s.rows;
    LlamaOnDevice cpu = LlamaOnDevice::from_model(model, Ctx{});
    const StepResult want = run_step(cpu, adapter, rows, checkpointing, false);
    cpu.make_lm_head_bf16();
    ASSERT_NE(cpu.lm_head(), nullptr);  // borrowed host memory is kept
    const StepResult got = run_step(cpu, adapter, rows, checkpointing, true);
    ASSERT_EQ(want.loss.tokens, got.loss.tokens);
    const double loss_rel = std::abs(got.loss.sum / want.loss.sum - 1.0);
    const double grad_rel = rel_l2(want.grads, got.grads);
    EXPECT_GT(grad_rel, 0.0) << "the fused step should round to bf16";
    EXPECT_LT(loss_rel, 5e-3) << want.loss.sum << " vs " << got.loss.sum;
    EXPECT_LT(grad_rel, 5e-2);
}

// The MLP offload (gate / up of every layer but the last two, or of every other layer, to host
// memory and back instead of recomputed) gives the step it replaces: bit for bit on the CPU, where
// the copies are memcpy, and within the attention backward's atomics on the GPU; over two
// micro-batches, so the second reuses the host slots.
void compare_offload(Ctx ctx) {
    const Stories260K s(0.0f);
    LlamaOnDevice model = LlamaOnDevice::from_model(s.model, ctx);
    model.make_lm_head_bf16();
    const auto before = kernels::cuda_gemm_math();
    kernels::set_cuda_gemm_math(kernels::GemmMath::kBf16);
    EXPECT_TRUE(
        LoraTrainStep(model, s.adapter, s.rows.B, s.rows.T, true, true, true).offloads_mlp());
    const StepResult want = run_step(model, s.adapter, s.rows, true, true, false, 2);
    for (const double fraction : {1.0, 0.5}) {
        const StepResult got = run_step(model, s.adapter, s.rows, true, true, true, 2, fraction);
        if (ctx.device == Device::kCpu) {
            EXPECT_EQ(want.loss.sum, got.loss.sum) << "fraction " << fraction;
            EXPECT_EQ(want.grads, got.grads) << "fraction " << fraction;
            continue;
        }
        EXPECT_NEAR(got.loss.sum / want.loss.sum, 1.0, 1e-6) << "fraction " << fraction;
        EXPECT_LT(rel_l2(want.grads, got.grads), 1e-5) << "fraction " << fraction;
    }
    kernels::set_cuda_gemm_math(before);
}

TEST(TrainStepFused, MlpOffloadGivesTheSameStepOnCpu) {
    compare_offload(Ctx{});
}

TEST(TrainStepDevice, MlpOffloadGivesTheSameStep) {
    if (!have_gpu()) {
        GTEST_SKIP() << "no GPU present: the MLP offload on the GPU is checked on the GPU machine";
    }
    compare_offload(Ctx{Device::kCuda, nullptr});
}

// CUDA graphs (set_cuda_graphs) against plain launches, on the offloading lean path: a sequence
// of runs with new parameter values each time, with a validation forward and a one-row
// micro-batch in between (other kinds of run: the graph is dropped, then captured again), gives
// every run's loss and gradients (within the attention backward's atomics), and replays some.
TEST(TrainStepDevice, CudaGraphRunsMatchPlainLaunches) {
    if (!have_gpu()) {
        GTEST_SKIP() << "no GPU present: CUDA graphs of the train step are checked on the GPU "
                        "machine";
    }
    const Stories260K s(0.0f);
    const Ctx ctx{Device::kCuda, nullptr};
    LlamaOnDevice model = LlamaOnDevice::from_model(s.model, ctx);
    model.make_lm_head_bf16();
    const auto before = kernels::cuda_gemm_math();
    kernels::set_cuda_gemm_math(kernels::GemmMath::kBf16);
    const auto n = static_cast<int64_t>(s.adapter.params().size());

    struct Runner {
        DeviceArray<float> params, grads;
        LoraTrainStep step;
    };

    auto make_runner = [&](bool graphs) {
        auto r = std::make_unique<Runner>(
            Runner{DeviceArray<float>(ctx, n), DeviceArray<float>(ctx, n),
                   LoraTrainStep(model, s.adapter, s.rows.B, s.rows.T, true, true, true, 0.5)});
        r->step.set_params(r->params.data());
        r->step.set_cuda_graphs(graphs);
        return r;
    };
    auto plain = make_runner(false), graphed = make_runner(true);
    const TokenBatch full = s.rows.batch();
    const TokenBatch one{1,
                         s.rows.T,
                         s.rows.input.data(),
                         s.rows.targets.data(),
                         s.rows.segments.data(),
                         s.rows.positions.data()};

    enum Kind { kFull, kEval, kOne };

    const std::vector<Kind> runs = {kFull, kFull, kFull, kFull, kEval, kFull, kFull,
                                    kFull, kOne,  kOne,  kOne,  kFull, kFull, kFull};
    std::vector<float> params = s.adapter.params(), grads(static_cast<std::size_t>(n));
    for (std::size_t i = 0; i < runs.size(); ++i) {
        for (std::size_t j = 0; j < params.size(); ++j) {  // new values: replays must read them
            params[j] += 0.002f * static_cast<float>((j * 7 + i) % 5) - 0.004f;
        }
        std::vector<float> want_grads;
        double want_loss = 0.0;
        for (Runner* r : {plain.get(), graphed.get()}) {
            r->params.upload(params.data(), n);
            r->grads.zero();
            const LossSum loss = runs[i] == kEval
                                     ? r->step.forward_loss(full)
                                     : r->step.forward_backward(runs[i] == kOne ? one : full, 0.01f,
                                                                11, i, r->grads.data());
            r->grads.download(grads.data(), n);
            if (r == plain.get()) {
                want_loss = loss.sum;
                want_grads = grads;
                continue;
            }
            EXPECT_NEAR(loss.sum / want_loss, 1.0, 1e-6) << "run " << i;
            if (runs[i] != kEval) {
                EXPECT_LT(rel_l2(want_grads, grads), 1e-5) << "run " << i;
            }
        }
    }
    EXPECT_EQ(plain->step.graph_replays(), 0);
    // each stretch of one kind: a plain run, a captured one, then replays (2 + 1 + 1 + 1); the
    // lone validation forward runs plainly
    EXPECT_EQ(graphed->step.graph_replays(), 5);
    kernels::set_cuda_gemm_math(before);
}

// Token ids and targets are checked on the host before any work is queued (the kernels then
// need not wait to report a bad one): the message names the row and position.
TEST(TrainStepFused, BadIdOrTargetNamesItsPosition) {
    const Stories260K s(0.0f);
    const LlamaOnDevice model = LlamaOnDevice::from_model(s.model, Ctx{});
    const int64_t V = s.model.config().vocab_size;
    LoraTrainStep step(model, s.adapter, s.rows.B, s.rows.T, true);
    step.set_params(s.adapter.params().data());
    auto message = [&](Rows rows) {
        try {
            step.forward_loss(rows.batch());
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    Rows bad_id = s.rows;
    bad_id.input[50] = static_cast<int32_t>(V);
    EXPECT_NE(message(bad_id).find("row 1 position 2: token id 512 is outside the vocabulary"),
              std::string::npos)
        << message(bad_id);
    Rows bad_target = s.rows;
    bad_target.targets[5] = -7;
    EXPECT_NE(message(bad_target).find("row 0 position 5: target -7 is neither -100"),
              std::string::npos)
        << message(bad_target);
    EXPECT_EQ(message(s.rows), "no error");
}

TEST(TrainStepFused, CpuTwinsMatchFp32StepWithCheckpointing) {
    compare_fused_on_cpu(0.0f, true);
}

TEST(TrainStepFused, CpuTwinsMatchFp32StepWithDropout) {
    compare_fused_on_cpu(0.1f, true);
}

TEST(TrainStepFused, CpuTwinsMatchFp32StepWithoutCheckpointing) {
    compare_fused_on_cpu(0.0f, false);
}

TEST(TrainStepDevice, FusedBf16MatchesCpuOnStories260KNf4) {
    compare_fused_bf16(0.0f, true);
}

TEST(TrainStepDevice, FusedBf16MatchesCpuWithDropout) {
    compare_fused_bf16(0.1f, false);
}

TEST(TrainStepDevice, CudaMatchesCpuOnStories260KNf4) {
    compare_backends(0.0f, false);
}

TEST(TrainStepDevice, CudaMatchesCpuWithDropoutAndCheckpointing) {
    compare_backends(0.1f, true);
}

TEST(RandomInit, TinyShapePredictsNearUniformAtInitAndIsDeterministic) {
    const io::LlamaConfig config = llama_shape("tiny");
    const LlamaOnDevice a = LlamaOnDevice::random(config, Ctx{}, true, 7);
    const LlamaOnDevice b = LlamaOnDevice::random(config, Ctx{}, true, 7);
    const LoraAdapter adapter = LoraAdapter::create(config, LoraOptions{}, 3);  // B = 0: no-op
    const Rows rows(config.vocab_size, 5);
    LoraTrainStep sa(a, adapter, rows.B, rows.T, false), sb(b, adapter, rows.B, rows.T, false);
    const LossSum la = sa.forward_loss(rows.batch());
    const LossSum lb = sb.forward_loss(rows.batch());
    EXPECT_EQ(la.sum, lb.sum);
    // Weights of std 0.02 give logits near 0: the mean loss is close to ln(vocab).
    EXPECT_NEAR(la.sum / static_cast<double>(la.tokens), std::log(config.vocab_size), 0.05);
    EXPECT_LT(a.weight_bytes(),
              config.vocab_size * config.hidden_size * 4 * 2 + static_cast<int64_t>(2e6));
}

TEST(RandomInit, UnknownShapeNamesTheKnownOnes) {
    try {
        llama_shape("llama3-70b");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("llama3-8b, llama3-1b, tiny"), std::string::npos)
            << e.what();
    }
}

TEST(RandomInit, CudaModelMatchesCpuModel) {
    if (!have_gpu()) {
        GTEST_SKIP() << "no GPU present: random init on the GPU is checked on the GPU machine";
    }
    const io::LlamaConfig config = llama_shape("tiny");
    const LlamaOnDevice cpu = LlamaOnDevice::random(config, Ctx{}, true, 9);
    const LlamaOnDevice gpu = LlamaOnDevice::random(config, Ctx{Device::kCuda, nullptr}, true, 9);
    // the untied table stays in pinned host memory, read by the embedding kernel over the bus
    EXPECT_EQ(gpu.embed(), nullptr);
    const LoraAdapter adapter = make_adapter(config, 0.0f, 4);
    const Rows rows(config.vocab_size, 6);
    const StepResult want = run_step(cpu, adapter, rows, false);
    const StepResult got = run_step(gpu, adapter, rows, false);
    EXPECT_NEAR(got.loss.sum / want.loss.sum, 1.0, 2e-3);
    EXPECT_LT(rel_l2(want.grads, got.grads), 3e-2);
}

}  // namespace
}  // namespace qforge
