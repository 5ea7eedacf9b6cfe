// What is here: locate_adapter and load_adapter_for_model (see adapter_load.h).
#include "evaluation/run/adapter_load.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "kernels/common.h"
#include "runtime/io/safetensors.h"

namespace qforge::eval {

namespace fs = std::filesystem;

namespace {

std::string last_component(std::string p) {
    while (!p.empty() && (p.back() == '/' || p.back() == '\\')) {
        p.pop_back();
    }
    const std::size_t slash = p.find_last_of("/\\");
    return slash == std::string::npos ? p : p.substr(slash + 1);
}

}  // namespace

AdapterLocation locate_adapter(const fs::path& path) {
    AdapterLocation loc;
    const fs::path p = path.lexically_normal();
    if (fs::is_regular_file(p / "adapter_config.json")) {
        loc.adapter_dir = p;
        const fs::path parent = p.has_parent_path() ? p.parent_path() : fs::path(".");
        if (fs::is_regular_file(parent / "config.yaml")) {
            loc.run_dir = parent;
        }
    } else if (fs::is_regular_file(p / "adapter" / "adapter_config.json")) {
        loc.adapter_dir = p / "adapter";
        loc.run_dir = p;
    } else {
        QF_FAIL(
            "--adapters {}: expected a PEFT adapter directory (adapter_config.json) or a run "
            "directory holding adapter/adapter_config.json",
            path.string());
    }
    loc.name =
        last_component(loc.run_dir.empty() ? loc.adapter_dir.string() : loc.run_dir.string());
    return loc;
}

LoraAdapter load_adapter_for_model(const AdapterLocation& where, const fs::path& model_dir,
                                   const io::LlamaConfig& config) {
    const std::string what = fmt::format("adapter {} does not match the model {}",
                                         where.adapter_dir.string(), model_dir.string());
    const fs::path cfg_path = where.adapter_dir / "adapter_config.json";
    std::ifstream in(cfg_path);
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
        QF_FAIL("{}: invalid JSON: {}", cfg_path.string(), e.what());
    }
    if (j.contains("base_model_name_or_path") && j["base_model_name_or_path"].is_string()) {
        const std::string base = last_component(j["base_model_name_or_path"].get<std::string>());
        const std::string model =
            last_component(fs::absolute(model_dir).lexically_normal().string());
        QF_CHECK(base.empty() || base == model,
                 "{}: {} says base_model_name_or_path \"{}\" (expected a path ending in \"{}\")",
                 what, cfg_path.string(), j["base_model_name_or_path"].get<std::string>(), model);
    }
    const fs::path weights = where.adapter_dir / "adapter_model.safetensors";
    if (fs::is_regular_file(weights)) {
        const auto file = io::SafetensorsFile::open(weights);
        for (const std::string& name : file.names()) {
            const std::size_t at = name.find(".layers.");
            if (at == std::string::npos) {
                continue;
            }
            const long long layer = std::atoll(name.c_str() + at + 8);
            QF_CHECK(layer < config.num_hidden_layers,
                     "{}: tensor {} is for layer {} but the model has {} layers", what, name, layer,
                     config.num_hidden_layers);
        }
    }
    try {
        return LoraAdapter::load_peft(where.adapter_dir, config);
    } catch (const Error& e) {
        QF_FAIL("{}: {}", what, e.what());
    }
}

}  // namespace qforge::eval
