// What is here: LoraAdapter (see lora.h): layout, PEFT initialisation, PEFT save/load.
#include "runtime/model/lora.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "runtime/io/atomic_file.h"
#include "runtime/io/safetensors.h"

namespace qforge {

namespace {
constexpr std::array<std::string_view, kNumLoraTargets> kNames = {
    "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
constexpr std::array<std::string_view, kNumLoraTargets> kPaths = {
    "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
    "mlp.gate_proj",    "mlp.up_proj",      "mlp.down_proj"};

// (out, in) of each projection.
std::pair<int64_t, int64_t> projection_shape(const io::LlamaConfig& c, LoraTarget t) {
    const int64_t C = c.hidden_size, F = c.intermediate_size;
    const int64_t q = c.num_attention_heads * c.head_dim, kv = c.num_key_value_heads * c.head_dim;
    switch (t) {
        case LoraTarget::kQ:
            return {q, C};
        case LoraTarget::kK:
            return {kv, C};
        case LoraTarget::kV:
            return {kv, C};
        case LoraTarget::kO:
            return {C, q};
        case LoraTarget::kGate:
            return {F, C};
        case LoraTarget::kUp:
            return {F, C};
        case LoraTarget::kDown:
            return {C, F};
    }
    return {0, 0};
}

// 0.05f as 0.05 rather than 0.05000000074505806 in adapter_config.json.
double short_decimal(float x) {
    return std::stod(fmt::format("{}", x));
}
}  // namespace

std::string_view lora_target_name(LoraTarget t) {
    return kNames[static_cast<std::size_t>(t)];
}

std::string_view lora_target_path(LoraTarget t) {
    return kPaths[static_cast<std::size_t>(t)];
}

LoraTarget lora_target_from_name(std::string_view name) {
    for (int i = 0; i < kNumLoraTargets; ++i) {
        if (kNames[static_cast<std::size_t>(i)] == name) {
            return static_cast<LoraTarget>(i);
        }
    }
    QF_FAIL(
        "unknown LoRA target module \"{}\" (expected one of q_proj, k_proj, v_proj, o_proj, "
        "gate_proj, up_proj, down_proj)",
        name);
}

float LoraAdapter::scale() const {
    const auto r = static_cast<float>(options_.r);
    return options_.use_rslora ? options_.alpha / std::sqrt(r) : options_.alpha / r;
}

std::string LoraAdapter::peft_name(int64_t layer, LoraTarget t, bool is_b) {
    return fmt::format("base_model.model.model.layers.{}.{}.lora_{}.weight", layer,
                       lora_target_path(t), is_b ? "B" : "A");
}

void LoraAdapter::layout(const io::LlamaConfig& config) {
    QF_CHECK(options_.r >= 1, "lora.r must be >= 1, got {}", options_.r);
    QF_CHECK(!options_.target_modules.empty(), "lora.target_modules is empty");
    std::array<bool, kNumLoraTargets> on{};
    for (const auto& name : options_.target_modules) {
        on[static_cast<std::size_t>(lora_target_from_name(name))] = true;
    }
    slots_.assign(static_cast<std::size_t>(config.num_hidden_layers), {});
    int64_t offset = 0;
    for (auto& layer : slots_) {
        for (int t = 0; t < kNumLoraTargets; ++t) {
            if (!on[static_cast<std::size_t>(t)]) {
                continue;
            }
            auto& s = layer[static_cast<std::size_t>(t)];
            std::tie(s.out, s.in) = projection_shape(config, static_cast<LoraTarget>(t));
            s.enabled = true;
            s.a_offset = offset;
            offset += options_.r * s.in;
            s.b_offset = offset;
            offset += s.out * options_.r;
        }
    }
    params_.assign(static_cast<std::size_t>(offset), 0.0f);
}

LoraAdapter LoraAdapter::create(const io::LlamaConfig& config, const LoraOptions& options,
                                uint64_t seed) {
    LoraAdapter adapter;
    adapter.options_ = options;
    adapter.layout(config);
    std::mt19937_64 rng(seed);
    for (auto& layer : adapter.slots_) {
        for (auto& s : layer) {
            if (!s.enabled) {
                continue;
            }
            const double bound = 1.0 / std::sqrt(static_cast<double>(s.in));
            std::uniform_real_distribution<double> dist(-bound, bound);
            float* a = adapter.params_.data() + s.a_offset;
            for (int64_t i = 0; i < options.r * s.in; ++i) {
                a[i] = static_cast<float>(dist(rng));
            }
        }
    }
    return adapter;
}

void LoraAdapter::save_peft(const std::filesystem::path& dir, const std::string& base_model) const {
    std::filesystem::create_directories(dir);
    std::vector<std::string> targets = options_.target_modules;
    std::sort(targets.begin(), targets.end());
    const nlohmann::json config = {
        {"peft_type", "LORA"},
        {"task_type", "CAUSAL_LM"},
        {"base_model_name_or_path", base_model},
        {"r", options_.r},
        {"lora_alpha", short_decimal(options_.alpha)},
        {"lora_dropout", short_decimal(options_.dropout)},
        {"use_rslora", options_.use_rslora},
        {"target_modules", targets},
        {"bias", "none"},
        {"fan_in_fan_out", false},
        {"inference_mode", true},
        {"init_lora_weights", true},
        {"modules_to_save", nullptr},
        {"layers_to_transform", nullptr},
        {"use_dora", false},
        {"revision", nullptr},
    };
    std::vector<std::pair<std::string, Tensor>> tensors;
    for (int64_t l = 0; l < num_layers(); ++l) {
        for (int t = 0; t < kNumLoraTargets; ++t) {
            const auto& s = slot(l, static_cast<LoraTarget>(t));
            if (!s.enabled) {
                continue;
            }
            auto a = Tensor::empty({options_.r, s.in}, kernels::DType::kF32);
            auto b = Tensor::empty({s.out, options_.r}, kernels::DType::kF32);
            std::copy_n(params_.data() + s.a_offset, a.numel(), a.data<float>());
            std::copy_n(params_.data() + s.b_offset, b.numel(), b.data<float>());
            tensors.emplace_back(peft_name(l, static_cast<LoraTarget>(t), false), std::move(a));
            tensors.emplace_back(peft_name(l, static_cast<LoraTarget>(t), true), std::move(b));
        }
    }
    io::safetensors_write(dir / "adapter_model.safetensors", tensors, {{"format", "pt"}});
    io::write_file_atomic(dir / "adapter_config.json", config.dump(2) + "\n");
}

LoraAdapter LoraAdapter::load_peft(const std::filesystem::path& dir,
                                   const io::LlamaConfig& config) {
    const auto config_path = dir / "adapter_config.json";
    std::ifstream in(config_path);
    QF_CHECK(in.good(), "{}: cannot open (expected a PEFT adapter directory)",
             config_path.string());
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
        QF_FAIL("{}: invalid JSON: {}", config_path.string(), e.what());
    }
    auto field = [&](const char* key) -> const nlohmann::json& {
        QF_CHECK(j.contains(key), "{}: missing key \"{}\"", config_path.string(), key);
        return j[key];
    };
    QF_CHECK(field("peft_type") == "LORA", "{}: peft_type is {} (expected \"LORA\")",
             config_path.string(), field("peft_type").dump());
    LoraAdapter adapter;
    try {
        adapter.options_.r = field("r").get<int64_t>();
        adapter.options_.alpha = field("lora_alpha").get<float>();
        adapter.options_.dropout = j.value("lora_dropout", 0.0f);
        adapter.options_.use_rslora = j.value("use_rslora", false);
        const auto& tm = field("target_modules");
        adapter.options_.target_modules = tm.is_string()
                                              ? std::vector<std::string>{tm.get<std::string>()}
                                              : tm.get<std::vector<std::string>>();
    } catch (const nlohmann::json::exception& e) {
        QF_FAIL("{}: a field has the wrong type: {}", config_path.string(), e.what());
    }
    QF_CHECK(!j.value("use_dora", false), "{}: DoRA adapters are not supported",
             config_path.string());
    adapter.layout(config);

    const auto weights = io::SafetensorsFile::open(dir / "adapter_model.safetensors");
    for (int64_t l = 0; l < adapter.num_layers(); ++l) {
        for (int t = 0; t < kNumLoraTargets; ++t) {
            const auto& s = adapter.slot(l, static_cast<LoraTarget>(t));
            if (!s.enabled) {
                continue;
            }
            for (bool is_b : {false, true}) {
                std::string name = peft_name(l, static_cast<LoraTarget>(t), is_b);
                if (!weights.contains(name)) {
                    QF_FAIL(
                        "{}: missing tensor {} (adapter does not match the base model: {} "
                        "layers, targets from adapter_config.json)",
                        (dir / "adapter_model.safetensors").string(), name,
                        config.num_hidden_layers);
                }
                const Tensor w = weights.get(name).to_f32();
                const std::vector<int64_t> want =
                    is_b ? std::vector<int64_t>{s.out, adapter.options_.r}
                         : std::vector<int64_t>{adapter.options_.r, s.in};
                w.check_shape(want, name);
                std::copy_n(w.data<float>(), w.numel(),
                            adapter.params_.data() + (is_b ? s.b_offset : s.a_offset));
            }
        }
    }
    return adapter;
}

}  // namespace qforge
