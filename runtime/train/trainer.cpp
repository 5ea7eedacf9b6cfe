// What is here: train_run (see trainer.h). Per optimizer step:
//   1. take grad_accum micro-batches from this rank's shard; all-reduce the number of target
//      tokens so every rank scales its loss by 1 / (global target tokens)
//   2. forward + backward each micro-batch, gradients summed into one flat buffer
//   3. all-reduce the gradients (sum of already-scaled terms = the global mean gradient)
//   4. clip by global norm, AdamW with the scheduled lr
//   5. rank 0: metrics.jsonl, periodic validation, checkpoints, loss plot
#include "runtime/train/trainer.h"

#include <chrono>
#include <cmath>
#include <fmt/format.h>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>

#include "kernels/adamw.h"
#include "kernels/gemm.h"
#include "kernels/memory.h"
#include "kernels/registry.h"
#include "runtime/io/atomic_file.h"
#include "runtime/model/llama_lora.h"
#include "runtime/model/llama_on_device.h"
#include "runtime/model/llama_shapes.h"
#include "runtime/tensor/device_array.h"
#include "runtime/tokenizer/tokenizer.h"
#include "runtime/train/checkpoint.h"
#include "runtime/train/data.h"
#include "runtime/train/data_loader.h"
#include "runtime/train/plot_png.h"
#include "runtime/train/schedule.h"

namespace qforge::train {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

TokenBatch view(const DataLoader::Batch& b) {
    return {b.B, b.T, b.input.data(), b.targets.data(), b.segment_ids.data(), b.positions.data()};
}

// Mean validation loss over all ranks: rank r takes rows r, r + world, ... in batches of B.
EvalMetrics evaluate(LoraTrainStep& step, const std::vector<Sequence>& rows, int64_t B,
                     Collective& coll, int64_t at_step) {
    std::vector<const Sequence*> mine;
    for (std::size_t i = static_cast<std::size_t>(coll.rank()); i < rows.size();
         i += static_cast<std::size_t>(coll.world())) {
        mine.push_back(&rows[i]);
    }
    double sums[2] = {0.0, 0.0};
    for (std::size_t i = 0; i < mine.size(); i += static_cast<std::size_t>(B)) {
        DataLoader::Batch batch;
        for (std::size_t j = i; j < std::min(mine.size(), i + static_cast<std::size_t>(B)); ++j) {
            batch.append(*mine[j]);
        }
        const LossSum s = step.forward_loss(view(batch));
        sums[0] += s.sum;
        sums[1] += static_cast<double>(s.tokens);
    }
    coll.allreduce_sum(sums, 2);
    EvalMetrics m;
    m.step = at_step;
    m.tokens = static_cast<int64_t>(sums[1]);
    m.val_loss = sums[1] > 0 ? sums[0] / sums[1] : std::numeric_limits<double>::quiet_NaN();
    return m;
}

kernels::Ctx device_for(const std::string& device) {
    const bool gpu = kernels::cuda_available();
    if (device == "cuda") {
        QF_CHECK(gpu, "train.device=cuda: {}",
                 kernels::op_supported(kernels::Op::kGemm, kernels::Device::kCuda)
                     ? "no GPU is visible to this process"
                     : "this build has no CUDA backend (configure with nvcc)");
        return {kernels::Device::kCuda, nullptr};
    }
    if (device == "auto" && gpu) {
        return {kernels::Device::kCuda, nullptr};
    }
    return {};
}

class MetricsLog {
public:
    MetricsLog(const fs::path& path, bool append)
        : out_(path, append ? std::ios::app : std::ios::trunc) {
        QF_CHECK(out_.good(), "{}: cannot open for writing", path.string());
    }

    void write(const nlohmann::json& line) {
        out_ << line.dump() << "\n";
        out_.flush();
    }

private:
    std::ofstream out_;
};

}  // namespace

TrainSummary train_run(const TrainConfig& cfg, const std::string& config_yaml,
                       const RunControl& control, Collective& coll, const TrainObserver& obs) {
    const bool resume = control.resume;
    auto say = [&](const std::string& msg) {
        if (obs.on_message) {
            obs.on_message(msg);
        }
    };
    const bool lead = coll.rank() == 0;
    TrainSummary summary;
    summary.run_dir = fs::path(cfg.run.output_dir) / cfg.run.name;
    summary.adapter_dir = summary.run_dir / "adapter";
    const kernels::Ctx ctx = device_for(cfg.train.device);
    const bool on_host = ctx.device == kernels::Device::kCpu;
    if (!on_host) {
        kernels::set_cuda_gemm_math(cfg.train.matmul_precision == "bf16" ? kernels::GemmMath::kBf16
                                    : cfg.train.matmul_precision == "fp32"
                                        ? kernels::GemmMath::kFp32
                                        : kernels::GemmMath::kTf32);
        kernels::set_cuda_gemm_autotune(cfg.train.gemm_autotune);
    }

    // Model (loaded, or random-initialised in a named shape on the device), tokenizer, data.
    const bool random_init = cfg.model.init == "random";
    const fs::path model_dir = cfg.model.path;
    const std::string base_name =
        random_init ? fmt::format("random:{}", cfg.model.shape) : model_dir.string();
    const Tokenizer tokenizer =
        Tokenizer::load(cfg.model.tokenizer.empty() ? model_dir : fs::path(cfg.model.tokenizer));
    const bool nf4 = cfg.model.quantize == "nf4";
    std::optional<LlamaModel> host_model;
    std::optional<LlamaOnDevice> dev_model;
    if (random_init) {
        dev_model.emplace(
            LlamaOnDevice::random(llama_shape(cfg.model.shape), ctx, nf4, cfg.run.seed));
    } else {
        LlamaLoadOptions load_opts;
        load_opts.quantize_nf4 = nf4;
        host_model.emplace(LlamaModel::load(model_dir, load_opts));
        dev_model.emplace(LlamaOnDevice::from_model(*host_model, ctx));
    }
    if (!on_host && kernels::cuda_gemm_math() == kernels::GemmMath::kBf16) {
        dev_model->make_lm_head_bf16();  // the bf16 path reads only this copy
    }
    const io::LlamaConfig& model_config = dev_model->config();
    say(fmt::format("model {}: {} layers, hidden {}, vocab {}, base weights {:.2f} MiB ({}) on {}",
                    base_name, model_config.num_hidden_layers, model_config.hidden_size,
                    model_config.vocab_size,
                    static_cast<double>(dev_model->weight_bytes()) / (1 << 20), cfg.model.quantize,
                    kernels::device_name(ctx.device)));

    DataOptions data_opts;
    for (const auto& f : cfg.data.train) {
        data_opts.files.emplace_back(f);
    }
    data_opts.format = data_format_from_string(cfg.data.format);
    data_opts.seq_len = cfg.data.seq_len;
    data_opts.packing = cfg.data.packing;
    data_opts.train_on_responses_only = cfg.data.train_on_responses_only;
    data_opts.skip_bad_lines = cfg.data.skip_bad_lines;
    data_opts.validation_fraction = cfg.data.validation_fraction;
    data_opts.seed = cfg.run.seed;
    const Dataset data = load_dataset(tokenizer, data_opts);
    summary.train_rows = static_cast<int64_t>(data.train.size());
    summary.validation_rows = static_cast<int64_t>(data.validation.size());
    say(fmt::format("data: {} examples -> {} train rows, {} validation rows of {} tokens{}",
                    data.stats.examples, data.train.size(), data.validation.size(),
                    cfg.data.seq_len,
                    data.stats.bad_lines_skipped > 0
                        ? fmt::format(" ({} bad lines skipped)", data.stats.bad_lines_skipped)
                        : std::string()));

    QF_CHECK(data.stats.target_tokens > 0,
             "the training rows hold no target tokens: every response was cut off by truncation "
             "(data.seq_len {} is shorter than the prompts; {} of {} examples were truncated) or "
             "is empty; raise data.seq_len",
             cfg.data.seq_len, data.stats.truncated, data.stats.examples);
    DataLoader loader(data.train, cfg.train.micro_batch, cfg.run.seed, coll.rank(), coll.world(),
                      cfg.train.grad_accum);
    QF_CHECK(loader.steps_per_epoch() >= 1,
             "{} train rows are too few for micro_batch {} on {} ranks", data.train.size(),
             cfg.train.micro_batch, coll.world());
    const int64_t total_steps =
        cfg.train.max_steps > 0 ? cfg.train.max_steps
                                : std::max<int64_t>(1, cfg.train.epochs * loader.steps_per_epoch() /
                                                           cfg.train.grad_accum);

    // LoRA, optimizer state, and where to start.
    LoraOptions lora_opts;
    lora_opts.r = cfg.lora.r;
    lora_opts.alpha = cfg.lora.alpha;
    lora_opts.dropout = cfg.lora.dropout;
    lora_opts.use_rslora = cfg.lora.use_rslora;
    lora_opts.target_modules = cfg.lora.target_modules;
    LoraAdapter adapter = LoraAdapter::create(model_config, lora_opts, cfg.run.seed);
    std::vector<float> m(static_cast<std::size_t>(adapter.num_params()), 0.0f);
    std::vector<float> v(m.size(), 0.0f);
    TrainerState state;
    state.total_steps = total_steps;
    state.seed = cfg.run.seed;
    state.world = coll.world();
    if (resume) {
        const auto latest = checkpoint_latest(summary.run_dir);
        QF_CHECK(latest.has_value(), "--resume: no checkpoint-<step> directory in {}",
                 summary.run_dir.string());
        checkpoint_load(*latest, model_config, adapter, m, v, state);
        QF_CHECK(state.world == coll.world(),
                 "{}: the run was started with {} ranks, now {}: the data order would differ",
                 latest->string(), state.world, coll.world());
        loader.restore({state.epoch, state.cursor});
        say(fmt::format("resuming from {} (step {} of {})", latest->string(), state.step,
                        total_steps));
    } else if (lead) {
        QF_CHECK(!checkpoint_latest(summary.run_dir).has_value(),
                 "{} already holds checkpoints of an earlier run: continue it with --resume, or "
                 "choose another run.name",
                 summary.run_dir.string());
        fs::create_directories(summary.run_dir);
        io::write_file_atomic(summary.run_dir / "config.yaml", config_yaml);
    }
    coll.barrier();

    // Parameters, gradients and AdamW moments live where the step runs. On the CPU they are the
    // host vectors themselves; on a GPU, copies that sync_to_host() brings back for checkpoints.
    const auto n_params = static_cast<int64_t>(m.size());
    std::vector<float> grads(m.size());
    DeviceArray<float> params_dev, grads_dev, m_dev, v_dev;
    if (!on_host) {
        for (auto* a : {&params_dev, &grads_dev, &m_dev, &v_dev}) {
            a->bind(ctx);
            a->ensure(n_params);
        }
        params_dev.upload(adapter.params().data(), n_params);
        m_dev.upload(m.data(), n_params);
        v_dev.upload(v.data(), n_params);
    }
    float* params_p = on_host ? adapter.params().data() : params_dev.data();
    float* grads_p = on_host ? grads.data() : grads_dev.data();
    float* m_p = on_host ? m.data() : m_dev.data();
    float* v_p = on_host ? v.data() : v_dev.data();
    auto sync_to_host = [&] {
        if (!on_host) {
            params_dev.download(adapter.params().data(), n_params);
            m_dev.download(m.data(), n_params);
            v_dev.download(v.data(), n_params);
        }
    };
    LoraTrainStep step_fn(*dev_model, adapter, cfg.train.micro_batch, cfg.data.seq_len,
                          cfg.train.activation_checkpointing, std::nullopt,
                          cfg.train.activation_offload ? std::nullopt : std::optional<bool>(false),
                          cfg.train.activation_offload_fraction >= 0.0
                              ? std::optional<double>(cfg.train.activation_offload_fraction)
                              : std::nullopt);
    step_fn.set_params(params_p);
    step_fn.set_cuda_graphs(cfg.train.cuda_graphs);
    const Schedule schedule = schedule_from_string(cfg.train.schedule);
    std::unique_ptr<MetricsLog> log;
    std::vector<std::pair<double, double>> train_curve, val_curve;
    if (lead) {
        log = std::make_unique<MetricsLog>(summary.run_dir / "metrics.jsonl", resume);
    }
    auto record_eval = [&](const EvalMetrics& e) {
        if (obs.on_eval) {
            obs.on_eval(e);
        }
        if (lead) {
            log->write({{"step", e.step}, {"val_loss", e.val_loss}, {"val_tokens", e.tokens}});
            val_curve.emplace_back(static_cast<double>(e.step), e.val_loss);
        }
    };
    auto write_plot = [&] {
        if (lead) {
            write_loss_plot(
                summary.run_dir / "loss.png", "qforge " + cfg.run.name,
                {{"train loss", train_curve, false}, {"validation loss", val_curve, true}});
        }
    };

    const bool has_val = !data.validation.empty();
    const double nan = std::numeric_limits<double>::quiet_NaN();
    summary.initial_val_loss = nan;
    if (has_val) {
        const auto e = evaluate(step_fn, data.validation, cfg.train.micro_batch, coll, state.step);
        summary.initial_val_loss = e.val_loss;
        if (!resume) {
            record_eval(e);
        }
    }
    if (obs.on_start) {
        obs.on_start(state.step, total_steps);
    }

    const auto t_run = Clock::now();
    int64_t tokens_run = 0;
    const auto accum = static_cast<std::size_t>(cfg.train.grad_accum);
    std::vector<DataLoader::Batch> micro(accum);
    const int64_t start_step = state.step;
    while (state.step < total_steps) {
        const auto t_step = Clock::now();
        double counts[1] = {0.0};
        for (auto& b : micro) {
            b = loader.next();
            for (int32_t t : b.targets) {
                counts[0] += t != kIgnoreIndex ? 1.0 : 0.0;
            }
        }
        coll.allreduce_sum(counts, 1);
        const float loss_scale = counts[0] > 0 ? static_cast<float>(1.0 / counts[0]) : 0.0f;

        kernels::buffer_zero(ctx, grads_p, sizeof(float) * grads.size());
        double loss_sum[1] = {0.0};
        // The last micro-batch's backward finalises the gradients layer by layer: the
        // all-reduce starts on each layer's slice as soon as it is done (overlap).
        const bool overlap = on_host || coll.accepts_device_buffers();
        for (std::size_t i = 0; i < accum; ++i) {
            const uint64_t micro_key =
                (static_cast<uint64_t>(state.step) * static_cast<uint64_t>(coll.world()) +
                 static_cast<uint64_t>(coll.rank())) *
                    accum +
                i;
            const bool last_micro = i + 1 == accum;
            if (overlap && last_micro) {
                coll.begin_gradients(grads_p, n_params);
                step_fn.set_grads_ready([&coll](int64_t offset, int64_t count) {
                    coll.gradients_ready(offset, count);
                });
            }
            loss_sum[0] +=
                step_fn
                    .forward_backward(view(micro[i]), loss_scale, cfg.run.seed, micro_key, grads_p)
                    .sum;
        }
        step_fn.set_grads_ready({});
        if (overlap) {
            coll.finish_gradients();
        } else if (coll.world() > 1) {  // staged through the host for a host-only transport
            grads_dev.download(grads.data(), n_params);
            coll.allreduce_gradients(grads.data(), n_params);
            grads_dev.upload(grads.data(), n_params);
        }
        coll.allreduce_sum(loss_sum, 1);

        const double norm = std::sqrt(kernels::sum_of_squares(ctx, grads_p, n_params));
        float clip = 1.0f;
        if (cfg.train.max_grad_norm > 0.0f && norm > cfg.train.max_grad_norm) {
            clip = static_cast<float>(cfg.train.max_grad_norm / (norm + 1e-6));
        }
        const float lr = lr_at(schedule, cfg.train.lr, state.step, total_steps,
                               cfg.train.warmup_steps, cfg.train.min_lr_ratio);
        kernels::AdamWParams ap{
            lr,   cfg.train.beta1, cfg.train.beta2, cfg.train.eps, cfg.train.weight_decay,
            clip, state.step + 1};
        kernels::adamw_update(ctx, params_p, grads_p, m_p, v_p, n_params, ap);
        state.step += 1;
        const auto ls = loader.state();
        state.epoch = ls.epoch;
        state.cursor = ls.cursor;

        StepMetrics sm;
        sm.step = state.step;
        sm.total_steps = total_steps;
        sm.loss = counts[0] > 0 ? loss_sum[0] / counts[0] : nan;
        sm.lr = lr;
        sm.grad_norm = norm;
        sm.tokens =
            static_cast<int64_t>(accum) * cfg.train.micro_batch * cfg.data.seq_len * coll.world();
        const double dt = seconds_since(t_step);
        sm.tokens_per_s = dt > 0 ? static_cast<double>(sm.tokens) / dt : 0.0;
        sm.elapsed_s = seconds_since(t_run);
        tokens_run += sm.tokens;
        state.train_loss = sm.loss;
        if (obs.on_step) {
            obs.on_step(sm);
        }
        if (lead) {
            train_curve.emplace_back(static_cast<double>(sm.step), sm.loss);
            if (cfg.train.log_every > 0 && sm.step % cfg.train.log_every == 0) {
                log->write({{"step", sm.step},
                            {"loss", sm.loss},
                            {"lr", sm.lr},
                            {"grad_norm", sm.grad_norm},
                            {"tokens", sm.tokens},
                            {"tokens_per_s", sm.tokens_per_s},
                            {"elapsed_s", sm.elapsed_s}});
            }
        }
        const bool stop_early = control.stop_after_steps > 0 &&
                                state.step - start_step >= control.stop_after_steps &&
                                state.step < total_steps;
        const bool last = state.step == total_steps;
        if (has_val &&
            (last || (cfg.train.eval_every > 0 && state.step % cfg.train.eval_every == 0))) {
            const auto e =
                evaluate(step_fn, data.validation, cfg.train.micro_batch, coll, state.step);
            record_eval(e);
            summary.final_val_loss = e.val_loss;
        }
        if (last || stop_early ||
            (cfg.checkpoint.every > 0 && state.step % cfg.checkpoint.every == 0)) {
            sync_to_host();
            if (lead) {
                checkpoint_save(summary.run_dir, adapter, m, v, state, base_name,
                                cfg.checkpoint.keep_last);
                write_plot();
            }
            coll.barrier();
        }
        if (stop_early) {
            say(fmt::format("stopped after {} steps at step {} of {}; continue with --resume",
                            control.stop_after_steps, state.step, total_steps));
            break;
        }
    }
    summary.finished = state.step == total_steps;
    if (!summary.finished) {
        summary.adapter_dir = summary.run_dir / fmt::format("checkpoint-{}", state.step);
    }
    if (!has_val) {
        summary.final_val_loss = nan;
    }
    sync_to_host();
    if (lead && summary.finished) {
        adapter.save_peft(summary.adapter_dir, base_name);
        write_plot();
    }
    coll.barrier();
    summary.steps = state.step;
    const double run_s = seconds_since(t_run);
    summary.tokens_per_s = run_s > 0 ? static_cast<double>(tokens_run) / run_s : 0.0;
    summary.device = std::string(kernels::device_name(ctx.device));
    summary.peak_device_gib = static_cast<double>(kernels::device_bytes_peak()) / (1 << 30);
    return summary;
}

}  // namespace qforge::train
